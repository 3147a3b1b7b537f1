"""Verification material in Rekor entries: certificates and public keys.

Rekor checks that the submitted signature verifies with the submitted certificate's (or
key's) public key before it logs anything; it does not check the certificate's validity
or chain (a log records what was signed, the verifier judges the certificate later). This
module parses the material, re-encodes it the way Rekor stores it (canonical PEM), checks
signatures and lists the identities used by the search index.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from sceau.errors import InputError

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}
# Built once: constructing these per entry costs more than a fifth of an ECDSA verify.
_PREHASHED = {name: utils.Prehashed(alg) for name, alg in HASHES.items()}
_ECDSA_PREHASHED = {name: ec.ECDSA(p) for name, p in _PREHASHED.items()}


@dataclass(frozen=True)
class Material:
    """A parsed certificate or bare public key, as submitted with an entry."""

    public_key: PublicKey
    certificate: x509.Certificate | None

    @cached_property
    def canonical_pem(self) -> bytes:
        """PEM as Rekor re-encodes it (64-column base64, trailing newline)."""
        if self.certificate is not None:
            return self.certificate.public_bytes(serialization.Encoding.PEM)
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def der(self) -> bytes:
        if self.certificate is not None:
            return self.certificate.public_bytes(serialization.Encoding.DER)
        return self.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def key_hash(self) -> str:
        """Rekor's public-key index term: hex SHA-256 of the canonical PEM."""
        return hashlib.sha256(self.canonical_pem).hexdigest()

    @cached_property
    def _identities(self) -> tuple[list[str], list[str]]:
        """(SAN e-mail addresses, every SAN identity) from one pass over the extension."""
        if self.certificate is None:
            return [], []
        try:
            san = self.certificate.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value
        except (x509.ExtensionNotFound, ValueError):
            return [], []
        emails: list[str] = []
        uris: list[str] = []
        others: list[str] = []
        for name in san:
            if isinstance(name, x509.RFC822Name):
                emails.append(name.value)
            elif isinstance(name, x509.UniformResourceIdentifier):
                uris.append(name.value)
            elif isinstance(name, x509.OtherName):
                text = _utf8_string(name.value)
                if text:
                    others.append(text)
        return emails, [*emails, *uris, *others]

    def subjects(self) -> list[str]:
        """SAN e-mail addresses, URIs and UTF-8 otherNames of the certificate (Rekor's
        ``Subjects()``); empty for a bare key."""
        return list(self._identities[1])

    def emails(self) -> list[str]:
        return list(self._identities[0])


def _utf8_string(der: bytes) -> str | None:
    """Decode a short DER UTF8String (tag 0x0c), the form Fulcio uses for usernames."""
    if len(der) < 2 or der[0] != 0x0C or der[1] >= 0x80 or der[1] != len(der) - 2:
        return None
    try:
        return der[2:].decode("utf-8")
    except UnicodeDecodeError:
        return None


# What the CA issues for and Rekor v2 accepts: v1 takes no weaker key (docs/security.md).
NIST_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
MIN_RSA_BITS = 2048


def _check_key(key: object, path: str) -> PublicKey:
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, NIST_CURVES):
            raise InputError(
                f"{path}: ECDSA curve {key.curve.name} is not accepted (P-256, P-384 or P-521)"
            )
        return key
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise InputError(
                f"{path}: RSA key of {key.key_size} bits is too weak (at least {MIN_RSA_BITS})"
            )
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise InputError(f"{path}: unsupported key type {type(key).__name__}")


def from_pem(data: bytes, path: str) -> Material:
    """Parse one PEM certificate or PEM public key (the v1 ``publicKey.content``)."""
    text = data.strip()
    if text.count(b"-----BEGIN ") != 1:
        raise InputError(f"{path}: must hold exactly one PEM certificate or public key")
    try:
        if text.startswith(b"-----BEGIN CERTIFICATE-----"):
            cert = x509.load_pem_x509_certificate(data)
            return Material(_check_key(cert.public_key(), path), cert)
        if text.startswith(b"-----BEGIN PUBLIC KEY-----"):
            key = serialization.load_pem_public_key(data)
            return Material(_check_key(key, path), None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise InputError(f"{path}: not a valid PEM certificate or public key") from e
    raise InputError(f"{path}: expected a PEM CERTIFICATE or PUBLIC KEY block")


def from_der_certificate(data: bytes, path: str) -> Material:
    try:
        cert = x509.load_der_x509_certificate(data)
        return Material(_check_key(cert.public_key(), path), cert)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise InputError(f"{path}: not a valid DER X.509 certificate") from e


def from_der_public_key(data: bytes, path: str) -> Material:
    try:
        key = serialization.load_der_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise InputError(f"{path}: not a valid DER SubjectPublicKeyInfo") from e
    return Material(_check_key(key, path), None)


def verify_digest(
    key: PublicKey,
    signature: bytes,
    digest: bytes,
    algorithm: hashes.HashAlgorithm,
    path: str,
    *,
    pss: bool = False,
) -> None:
    """Verify a signature over a precomputed digest (hashedrekord), or raise a 400."""
    if len(digest) != algorithm.digest_size:
        raise InputError(
            f"{path}: digest is {len(digest)} bytes, {algorithm.name} needs {algorithm.digest_size}"
        )
    prehashed = _PREHASHED.get(algorithm.name) or utils.Prehashed(algorithm)
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            ecdsa = _ECDSA_PREHASHED.get(algorithm.name) or ec.ECDSA(prehashed)
            key.verify(signature, digest, ecdsa)
        elif isinstance(key, rsa.RSAPublicKey):
            pad = (
                padding.PSS(mgf=padding.MGF1(algorithm), salt_length=padding.PSS.AUTO)
                if pss
                else padding.PKCS1v15()
            )
            key.verify(signature, digest, pad, prehashed)
        else:
            raise InputError(
                f"{path}: Ed25519 keys cannot sign a prehashed digest; "
                "use ECDSA or RSA for hashedrekord"
            )
    except InvalidSignature as e:
        raise InputError(f"{path}: signature does not verify with the given key") from e


def verify_message(
    key: PublicKey, signature: bytes, message: bytes, path: str, hash_names: tuple[str, ...]
) -> None:
    """Verify a signature over a whole message (DSSE PAE), trying each allowed hash."""
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
            return
    except InvalidSignature as e:
        raise InputError(f"{path}: signature does not verify with the given key") from e
    for name in hash_names:
        algorithm = HASHES[name]
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, message, ec.ECDSA(algorithm))
            else:
                key.verify(signature, message, padding.PKCS1v15(), algorithm)
            return
        except InvalidSignature:
            continue
    raise InputError(f"{path}: signature does not verify with the given key")


def default_hash(key: PublicKey) -> str:
    """The hash a key type pairs with by default (curve size for ECDSA, SHA-256 else)."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP384R1):
            return "sha384"
        if isinstance(key.curve, ec.SECP521R1):
            return "sha512"
    return "sha256"
