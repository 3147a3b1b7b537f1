"""The CA's own certificates: a self-signed root and the intermediate that issues leaves.

Shaped after Fulcio's production chain (``docs/certificate-specification.md``) and what
sigstore-python's pyca WebPKI policy demands of CA certificates: critical BasicConstraints,
critical KeyUsage keyCertSign+cRLSign, SKI/AKI, a non-critical codeSigning EKU on the
intermediate, ECDSA keys only (Ed25519 CA keys fail every client), and UTCTime dates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sceau.errors import InputError, InternalError
from sceau.keys import Algorithm, Signer, generate_signer

# X.509 switches from UTCTime to GeneralizedTime in 2050; some verifiers mishandle the latter.
UTCTIME_LIMIT = dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


@dataclass(frozen=True)
class CAChain:
    """The issuing material: intermediate certificate and key, and the root above it."""

    root: x509.Certificate
    intermediate: x509.Certificate
    signer: Signer  # the intermediate's key

    @property
    def chain(self) -> list[x509.Certificate]:
        """Issuer first, root last: the order Fulcio returns after the leaf."""
        return [self.intermediate, self.root]

    def check(self) -> None:
        """Refuse a chain whose intermediate key or signature does not line up (startup check)."""
        if spki(self.intermediate.public_key()) != spki(self.signer.public_key()):
            raise InternalError("CA key does not match the intermediate certificate")
        try:
            self.intermediate.verify_directly_issued_by(self.root)
        except (ValueError, TypeError, InvalidSignature) as e:
            raise InternalError(f"intermediate is not issued by the root: {e}") from e


def spki(public_key: object) -> bytes:
    der: bytes = public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def signing_key(signer: Signer) -> ec.EllipticCurvePrivateKey | None:
    """The ``cryptography`` key behind a signer, when it has one (a key file); None for a
    key in a token. Refuses what is not ECDSA."""
    public = signer.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise InputError("CA keys must be ECDSA P-256 or P-384 (Ed25519 CAs fail Sigstore clients)")
    key = getattr(signer, "private_key", None)
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def signature_hash(
    key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey,
) -> hashes.SHA256 | hashes.SHA384:
    """ECDSA with the curve's hash, as Go's x509 picks it (P-384 → SHA-384)."""
    return hashes.SHA384() if isinstance(key.curve, ec.SECP384R1) else hashes.SHA256()


_STAND_INS: dict[str, ec.EllipticCurvePrivateKey] = {}


def sign_certificate(builder: x509.CertificateBuilder, signer: Signer) -> x509.Certificate:
    """Sign ``builder`` with ``signer``: directly with a key file's key; through
    ``signer.sign`` for a key in a token (PKCS#11), which ``cryptography`` cannot call.

    For a token: the builder is signed once with a stand-in key of the same curve, which
    gives the DER of the TBSCertificate and the signatureAlgorithm exactly as cryptography
    writes them; the token signs the TBS; its signature replaces the stand-in's
    (asn1crypto re-encodes only that field), and the certificate is checked against the
    signer's public key before it is returned."""
    key = signing_key(signer)
    if key is not None:
        return builder.sign(key, signature_hash(key))
    public = signer.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    stand_in = _STAND_INS.get(public.curve.name)
    if stand_in is None:
        stand_in = _STAND_INS[public.curve.name] = ec.generate_private_key(public.curve)
    draft = builder.sign(stand_in, signature_hash(public))
    tbs = draft.tbs_certificate_bytes
    signature = signer.sign(tbs)
    shell = asn1_x509.Certificate.load(draft.public_bytes(serialization.Encoding.DER))
    shell["signature_value"] = signature  # TBS and algorithm keep their encoded bytes
    cert = x509.load_der_x509_certificate(shell.dump())
    try:
        public.verify(signature, tbs, ec.ECDSA(signature_hash(public)))
    except InvalidSignature as e:
        raise InternalError("the CA key in the token made a signature that does not verify") from e
    return cert


def _name(org: str, cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _ec_signer(signer: Signer | None, algorithm: str) -> Signer:
    if signer is None:
        if Algorithm(algorithm) is Algorithm.ED25519:
            raise InputError("CA keys must be ECDSA P-256 or P-384")
        return generate_signer(algorithm)
    signing_key(signer)  # refuses a key that is not ECDSA
    return signer


def _truncate(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(microsecond=0)


def make_root(
    signer: Signer,
    *,
    organization: str = "sceau",
    common_name: str = "sceau-root",
    not_before: dt.datetime | None = None,
    validity: dt.timedelta = dt.timedelta(days=3650),
) -> x509.Certificate:
    public = signer.public_key()
    signing_key(signer)
    start = _truncate(not_before or dt.datetime.now(dt.UTC))
    end = min(start + validity, UTCTIME_LIMIT)
    name = _name(organization, common_name)
    ski = x509.SubjectKeyIdentifier.from_public_key(public)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
    )
    return sign_certificate(builder, signer)


def make_intermediate(
    signer: Signer,
    root: x509.Certificate,
    root_signer: Signer,
    *,
    organization: str = "sceau",
    common_name: str = "sceau-intermediate",
    not_before: dt.datetime | None = None,
    validity: dt.timedelta = dt.timedelta(days=3650),
) -> x509.Certificate:
    """An issuing CA certificate, valid within the root's lifetime."""
    public = signer.public_key()
    signing_key(signer)
    start = max(_truncate(not_before or dt.datetime.now(dt.UTC)), root.not_valid_before_utc)
    end = min(start + validity, root.not_valid_after_utc, UTCTIME_LIMIT)
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(organization, common_name))
        .issuer_name(root.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), False
        )
    )
    return sign_certificate(builder, root_signer)


def make_ca_chain(
    *,
    root_signer: Signer | None = None,
    intermediate_signer: Signer | None = None,
    root_algorithm: str = "ecdsa-p384",
    intermediate_algorithm: str = "ecdsa-p256",
    organization: str = "sceau",
    not_before: dt.datetime | None = None,
    root_validity: dt.timedelta = dt.timedelta(days=3650),
    intermediate_validity: dt.timedelta = dt.timedelta(days=3650),
) -> tuple[CAChain, Signer]:
    """Create a root and an intermediate; return the issuing chain and the root's signer.

    Keys not given are generated (root P-384, intermediate P-256 by default: the P-256
    intermediate issues ~3x faster than P-384, see ``bench/ca_issue.py``). The caller
    persists the keys (``sceau.keys.save_signer``) and certificates.
    """
    root_signer = _ec_signer(root_signer, root_algorithm)
    intermediate_signer = _ec_signer(intermediate_signer, intermediate_algorithm)
    root = make_root(
        root_signer, organization=organization, not_before=not_before, validity=root_validity
    )
    intermediate = make_intermediate(
        intermediate_signer,
        root,
        root_signer,
        organization=organization,
        not_before=not_before,
        validity=intermediate_validity,
    )
    return CAChain(root=root, intermediate=intermediate, signer=intermediate_signer), root_signer


def load_ca_chain(intermediate_pem: bytes, root_pem: bytes, signer: Signer) -> CAChain:
    """Rebuild a :class:`CAChain` from stored PEM certificates and the intermediate key."""
    try:
        intermediate = x509.load_pem_x509_certificate(intermediate_pem)
        root = x509.load_pem_x509_certificate(root_pem)
    except ValueError as e:
        raise InternalError(f"cannot parse CA certificates: {e}") from e
    chain = CAChain(root=root, intermediate=intermediate, signer=signer)
    chain.check()
    return chain


__all__ = [
    "UTCTIME_LIMIT",
    "CAChain",
    "load_ca_chain",
    "make_ca_chain",
    "make_intermediate",
    "make_root",
    "sign_certificate",
    "signature_hash",
    "signing_key",
]
