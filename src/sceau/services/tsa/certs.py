"""The TSA certificate chain: a self-signed P-384 root and a timestamping leaf.

The leaf profile is what every verifier we must satisfy checks (docs/protocols.md §2.5):
rfc3161-client hands the chain to OpenSSL with purpose ``TIMESTAMP_SIGN``, which wants
the ExtendedKeyUsage **critical and holding only timeStamping** (RFC 3161 §2.3), and a
KeyUsage (if present) limited to digitalSignature; sigstore-js only verifies ECDSA TSA
signatures, so both keys are ECDSA. The timestamp-authority server checks the same leaf
shape at start-up (``pkg/x509/x509.go VerifyCertChain``); :func:`check_tsa_leaf` is
our equivalent, run by :class:`~sceau.services.tsa.responder.TimestampAuthority`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sceau.errors import InputError
from sceau.keys import Algorithm, FileSigner, Signer, generate_signer, spki_der

DEFAULT_VALIDITY = dt.timedelta(days=10 * 365)
# Certificates start a little in the past so that a clock stepped back after `init`
# does not produce timestamps older than the TSA certificate.
BACKDATE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class TSAChain:
    """What :func:`make_tsa_chain` produces; ``root_signer`` may be kept offline."""

    root_signer: FileSigner
    leaf_signer: Signer
    root: x509.Certificate
    leaf: x509.Certificate

    @property
    def chain(self) -> list[x509.Certificate]:
        """Leaf first, root last: the order of ``certChain`` in a trusted root."""
        return [self.leaf, self.root]

    def chain_pem(self) -> bytes:
        return chain_pem(self.chain)


def chain_pem(chain: list[x509.Certificate]) -> bytes:
    """PEM concatenation of ``chain`` in the given order."""
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)


def _serial() -> int:
    # 159 random bits: positive and at most 20 octets once DER-encoded (RFC 5280 §4.1.2.2).
    return secrets.randbits(159) | 1


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ec_key(signer: Signer, what: str) -> ec.EllipticCurvePublicKey:
    key = signer.public_key()
    if signer.algorithm not in (Algorithm.ECDSA_P256, Algorithm.ECDSA_P384) or not isinstance(
        key, ec.EllipticCurvePublicKey
    ):
        raise InputError(f"the {what} key must be ECDSA P-256 or P-384 (sigstore-js needs ECDSA)")
    return key


def _utc(when: dt.datetime) -> dt.datetime:
    if when.tzinfo is None:
        raise InputError("certificate times must be timezone-aware")
    return when.astimezone(dt.UTC).replace(microsecond=0)


def make_tsa_chain(
    *,
    organization: str = "sceau",
    common_name: str = "sceau timestamping",
    leaf_signer: Signer | None = None,
    leaf_algorithm: str = "ecdsa-p256",
    root_signer: FileSigner | None = None,
    not_before: dt.datetime | None = None,
    validity: dt.timedelta = DEFAULT_VALIDITY,
) -> TSAChain:
    """Generate a TSA root (self-signed, P-384) and a timestamping leaf signed by it.

    ``leaf_signer`` may be any :class:`~sceau.keys.Signer` (an HSM key: only its public key
    is needed here); otherwise a ``leaf_algorithm`` key is generated. The root signs the
    leaf, so ``root_signer`` must hold its private key in memory. Both certificates are
    valid from ``not_before`` (default: now minus a few minutes) for ``validity``; the
    root outlives the leaf by a day so the leaf never outlives its issuer.
    """
    start = _utc(not_before or dt.datetime.now(dt.UTC) - BACKDATE)
    root_signer = root_signer or generate_signer(Algorithm.ECDSA_P384)
    if root_signer.algorithm is not Algorithm.ECDSA_P384:
        raise InputError("the TSA root key must be ECDSA P-384")
    root_key = root_signer.private_key
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    leaf_signer = leaf_signer or generate_signer(leaf_algorithm)
    leaf_public = _ec_key(leaf_signer, "TSA leaf")

    root_name = _name(f"{common_name} root", organization)
    root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(_serial())
        .not_valid_before(start)
        .not_valid_after(start + validity + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(root_ski, critical=False)
        .sign(root_key, hashes.SHA384())
    )

    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization))
        .issuer_name(root_name)
        .public_key(leaf_public)
        .serial_number(_serial())
        .not_valid_before(start)
        .not_valid_after(start + validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
            critical=False,
        )
        .sign(root_key, hashes.SHA384())
    )
    check_tsa_leaf(leaf, leaf_signer)
    return TSAChain(root_signer=root_signer, leaf_signer=leaf_signer, root=root, leaf=leaf)


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def check_tsa_leaf(leaf: x509.Certificate, signer: Signer) -> None:
    """Refuse a leaf that verifiers would reject, or that does not match ``signer``.

    Mirrors timestamp-authority's start-up check: end-entity, exactly one EKU
    (timeStamping) marked critical, and the signer's public key in the certificate.
    """
    _ec_key(signer, "TSA signing")
    try:
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound as e:
        raise InputError("the TSA certificate has no ExtendedKeyUsage extension") from e
    if not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise InputError("the TSA certificate EKU must be critical and timeStamping only")
    try:
        bc = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
        if bc.ca:
            raise InputError("the TSA certificate must not be a CA certificate")
    except x509.ExtensionNotFound:
        pass
    if spki_der(leaf.public_key()) != spki_der(signer.public_key()):
        raise InputError("the TSA signing key does not match the TSA certificate")
