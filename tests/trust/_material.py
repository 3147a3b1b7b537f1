"""Key and certificate material for trust tests: a CA chain, a TSA chain, log keys."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sceau.trust import build_signing_config, build_trusted_root, ca_entry, tlog_entry, tsa_entry

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
OPERATOR = "test.example"


def _name(org: str, cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _cert(subject, issuer, pub, issuer_key, *, ca: bool, eku=None) -> x509.Certificate:
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(START)
        .not_valid_after(START + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=True)
    return b.sign(issuer_key, hashes.SHA256())


def chain(org: str, leaf_cn: str, *, tsa: bool = False) -> list[x509.Certificate]:
    """[intermediate-or-TSA-leaf, root], both P-256."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(org, f"{org} root")
    root = _cert(root_name, root_name, root_key.public_key(), root_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    eku = [ExtendedKeyUsageOID.TIME_STAMPING] if tsa else None
    leaf = _cert(_name(org, leaf_cn), root_name, key.public_key(), root_key, ca=not tsa, eku=eku)
    return [leaf, root]


def ed25519_log_id(name: str, key: ed25519.Ed25519PublicKey) -> bytes:
    """The C2SP rule sceau.note.log_id implements: SHA-256(name ‖ "\\n" ‖ 0x01 ‖ raw key)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(name.encode() + b"\n\x01" + raw).digest()


@dataclass
class Instance:
    """What ``sceau init`` would create, minus the servers: keys, chains, trust documents."""

    url: str
    rekor_v1_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    rekor_v2_key: ed25519.Ed25519PrivateKey = field(
        default_factory=ed25519.Ed25519PrivateKey.generate
    )
    ct_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    ca_chain: list[x509.Certificate] = field(
        default_factory=lambda: chain(OPERATOR, "test intermediate")
    )
    tsa_chain: list[x509.Certificate] = field(
        default_factory=lambda: chain(OPERATOR, "test tsa", tsa=True)
    )

    @property
    def origin(self) -> str:
        return self.url.split("://", 1)[1]

    @property
    def rekor_v2_log_id(self) -> bytes:
        return ed25519_log_id(self.origin, self.rekor_v2_key.public_key())

    def trusted_root(self) -> dict:
        return build_trusted_root(
            ca=[ca_entry(uri=self.url, chain=self.ca_chain, valid_from=START)],
            tlogs=[
                tlog_entry(
                    base_url=self.url, public_key=self.rekor_v1_key.public_key(), valid_from=START
                ),
                tlog_entry(
                    base_url=self.url,
                    public_key=self.rekor_v2_key.public_key(),
                    log_id=self.rekor_v2_log_id,
                    checkpoint_key_id=self.rekor_v2_log_id,
                    valid_from=START,
                    operator=OPERATOR,
                ),
            ],
            ctlogs=[
                tlog_entry(
                    base_url=self.url + "/ct", public_key=self.ct_key.public_key(), valid_from=START
                )
            ],
            tsas=[
                tsa_entry(
                    uri=self.url + "/api/v1/timestamp", chain=self.tsa_chain, valid_from=START
                )
            ],
        )

    def signing_config(self, *, rekor_v2: bool = True) -> dict:
        return build_signing_config(
            ca_url=self.url,
            oidc_url=self.url + "/oidc",
            rekor_v1_url=self.url,
            rekor_v2_url=self.url if rekor_v2 else None,
            tsa_url=self.url,
            valid_from=START,
            operator=OPERATOR,
        )
