"""Shared test material: one principal per issuer type, a signing CT stand-in, verifiers."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store
from sigstore._internal.sct import verify_sct
from sigstore._internal.trust import CTKeyring, Keyring
from sigstore_models.common import v1 as common_v1

from sceau.keys import generate_signer
from sceau.services.ca import issuers as it
from sceau.services.ca.identity import Principal, principal_from_claims
from sceau.services.ca.issuers import dev_oidc_issuers
from sceau.services.ct import der
from sceau.services.ct.rfc6962 import (
    SCT,
    DigitallySigned,
    EntryType,
    key_hash,
    sct_signature_input,
    signed_entry,
)
from sceau.services.oidc.issuer import github_workflow_claims

ISSUER = "https://issuer.example.com"
WORKFLOW = "octo/app/.github/workflows/release.yml@refs/heads/main"


def principals() -> dict[str, Principal]:
    """A principal of every shape Fulcio issues for, built from claims the real way."""
    base = {"iss": ISSUER, "aud": "sigstore"}
    gh_cfg = dev_oidc_issuers(ISSUER)[ISSUER + "/github"]
    gh_claims = {**github_workflow_claims(WORKFLOW), "iss": gh_cfg.url}
    cfgs = {
        "email": (
            it.IssuerConfig(url=ISSUER, type=it.EMAIL),
            {**base, "sub": "u-1", "email": "alice@example.com", "email_verified": True},
        ),
        "github": (gh_cfg, gh_claims),
        "uri": (
            it.IssuerConfig(url=ISSUER, type=it.URI, subject_domain="https://example.com"),
            {**base, "sub": "https://example.com/users/alice"},
        ),
        "spiffe": (
            it.IssuerConfig(url=ISSUER, type=it.SPIFFE, spiffe_trust_domain="example.com"),
            {**base, "sub": "spiffe://example.com/ns/prod/sa/builder"},
        ),
        "kubernetes": (
            it.IssuerConfig(url=ISSUER, type=it.KUBERNETES),
            {
                **base,
                "sub": "system:serviceaccount:prod:builder",
                "kubernetes.io": {"namespace": "prod", "serviceaccount": {"name": "builder"}},
            },
        ),
        "username": (
            it.IssuerConfig(url=ISSUER, type=it.USERNAME, subject_domain="example.com"),
            {**base, "sub": "alice"},
        ),
    }
    return {name: principal_from_claims(cfg, claims) for name, (cfg, claims) in cfgs.items()}


class SigningCT:
    """Our CTClient interface without a tree: signs the SCT an RFC 6962 log would return."""

    def __init__(self) -> None:
        self.signer = generate_signer("ecdsa-p256")
        self.public_key = self.signer.public_key()
        self.log_id = key_hash(spki(self.public_key))
        self.submitted: list[list[bytes]] = []

    async def add_pre_chain(self, chain: Sequence[bytes]) -> SCT:
        self.submitted.append(list(chain))
        issuer = x509.load_der_x509_certificate(chain[1])
        entry = signed_entry(
            EntryType.PRECERT,
            issuer_key_hash=key_hash(spki(issuer.public_key())),
            tbs_certificate=der.precert_tbs(chain[0]),
        )
        ts = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
        sig = self.signer.sign(sct_signature_input(ts, EntryType.PRECERT, entry))
        return SCT(log_id=self.log_id, timestamp_ms=ts, signature=DigitallySigned(sig))


def spki(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def ct_keyring(*keys: object) -> CTKeyring:
    """sigstore-python's own keyring type over our CT keys."""
    return CTKeyring(
        Keyring(
            [
                common_v1.PublicKey.model_validate_json(
                    json.dumps(
                        {
                            "rawBytes": base64.b64encode(spki(k)).decode(),
                            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                        }
                    )
                )
                for k in keys
            ]
        )
    )


def sigstore_sct_check(cert: x509.Certificate, chain: list[x509.Certificate], *keys: object):
    """sigstore-python's ``verify_sct``, as ``sign.py`` calls it right after Fulcio answers."""
    verify_sct(cert, chain, ct_keyring(*keys))


def webpki_verify(
    cert: x509.Certificate, root: x509.Certificate, intermediate: x509.Certificate
) -> list[x509.Certificate]:
    """pyca's client verifier configured exactly as sigstore-python's ``_verify_chain_at_time``
    (store = every trusted CA certificate, no untrusted intermediates), at the leaf's
    mid-life; and once more with only the root trusted and the intermediate supplied."""
    ca_policy = ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None
    )
    ee_policy = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None
    )
    t = cert.not_valid_before_utc + dt.timedelta(minutes=5)

    def verifier(store: list[x509.Certificate]):  # type: ignore[no-untyped-def]
        return (
            PolicyBuilder()
            .store(Store(store))
            .time(t)
            .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
            .build_client_verifier()
        )

    # sigstore-python: every CA cert is a trust anchor, so the path stops at the intermediate
    assert verifier([intermediate, root]).verify(cert, []).chain == [cert, intermediate]
    return verifier([root]).verify(cert, [intermediate]).chain
