from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from sceau.durable import write_atomic
from sceau.errors import InputError, InternalError, VerificationError


class Algorithm(enum.Enum):
    """Key types sceau can hold. Values are the names used in ``sceau.toml``."""

    ED25519 = "ed25519"
    ECDSA_P256 = "ecdsa-p256"
    ECDSA_P384 = "ecdsa-p384"

    @classmethod
    def of(cls, key: object) -> Algorithm:
        if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
            return cls.ED25519
        if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
            if isinstance(key.curve, ec.SECP256R1):
                return cls.ECDSA_P256
            if isinstance(key.curve, ec.SECP384R1):
                return cls.ECDSA_P384
        raise InputError(f"unsupported key type {type(key).__name__}")

    @property
    def hash(self) -> hashes.HashAlgorithm | None:
        """The digest ECDSA applies to the message (None for pure Ed25519)."""
        return {
            Algorithm.ED25519: None,
            Algorithm.ECDSA_P256: hashes.SHA256(),
            Algorithm.ECDSA_P384: hashes.SHA384(),
        }[self]


def public_pem(public_key: object) -> bytes:
    """A public key as PEM SubjectPublicKeyInfo (what a retired key in a token leaves)."""
    pem: bytes = public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


def spki_der(public_key: object) -> bytes:
    """DER SubjectPublicKeyInfo of a public key (the input of every Sigstore key ID)."""
    der: bytes = public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


@runtime_checkable
class Signer(Protocol):
    """What a log, CA or TSA needs from a key. Implementations may live in an HSM."""

    @property
    def algorithm(self) -> Algorithm: ...

    def public_key(self) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey: ...

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` (Ed25519: pure; ECDSA: DER over the curve's hash)."""
        ...


class Verifier:
    """Verifies signatures made by a :class:`Signer` (or any Sigstore-style key)."""

    def __init__(self, public_key: object) -> None:
        if not isinstance(
            public_key,
            ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
        ):
            raise InputError(f"unsupported public key type {type(public_key).__name__}")
        self.public_key = public_key

    def verify(self, signature: bytes, message: bytes) -> None:
        """Raise :class:`VerificationError` unless ``signature`` is valid over ``message``."""
        key = self.public_key
        try:
            if isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, message)
            elif isinstance(key, ec.EllipticCurvePublicKey):
                digest = _ec_hash(key.curve)
                key.verify(signature, message, ec.ECDSA(digest))
            else:
                key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError) as e:
            raise VerificationError("signature does not verify") from e


def _ec_hash(curve: ec.EllipticCurve) -> hashes.HashAlgorithm:
    if isinstance(curve, ec.SECP384R1):
        return hashes.SHA384()
    if isinstance(curve, ec.SECP521R1):
        return hashes.SHA512()
    return hashes.SHA256()


def verifier_for(public_key: object) -> Verifier:
    return Verifier(public_key)


class FileSigner:
    """A software key held in memory, loaded from / saved to a PEM file."""

    def __init__(self, private_key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        self._key = private_key
        self._algorithm = Algorithm.of(private_key)
        # Built once: a SET is signed per log entry, and ECDSA() is not free to construct.
        digest = self._algorithm.hash
        self._ecdsa = ec.ECDSA(digest) if digest is not None else None

    @property
    def algorithm(self) -> Algorithm:
        return self._algorithm

    @property
    def private_key(self) -> ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey:
        """The raw key, for builders (X.509, CMS) that need a ``cryptography`` key."""
        return self._key

    def public_key(self) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey:
        return self._key.public_key()

    def sign(self, message: bytes) -> bytes:
        if isinstance(self._key, ed25519.Ed25519PrivateKey):
            return self._key.sign(message)
        assert self._ecdsa is not None
        return self._key.sign(message, self._ecdsa)

    def __repr__(self) -> str:  # never print key material
        return f"FileSigner({self._algorithm.value})"


def generate_signer(algorithm: Algorithm | str) -> FileSigner:
    try:
        algorithm = Algorithm(algorithm)
    except ValueError:
        choices = ", ".join(a.value for a in Algorithm)
        raise InputError(f"unsupported key algorithm {algorithm!r} (choose {choices})") from None
    if algorithm is Algorithm.ED25519:
        return FileSigner(ed25519.Ed25519PrivateKey.generate())
    curve = ec.SECP256R1() if algorithm is Algorithm.ECDSA_P256 else ec.SECP384R1()
    return FileSigner(ec.generate_private_key(curve))


PASSPHRASE_ENV = "SCEAU_KEY_PASSPHRASE"  # noqa: S105 - a variable name
PASSPHRASE_FILE_ENV = "SCEAU_KEY_PASSPHRASE_FILE"  # noqa: S105


def key_passphrase() -> bytes | None:
    """The passphrase that encrypts the instance's keys at rest, if the operator set one:
    ``$SCEAU_KEY_PASSPHRASE``, or the first line of the file ``$SCEAU_KEY_PASSPHRASE_FILE``
    (a secret mount; refused if others can read it)."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value.encode()
    path = os.environ.get(PASSPHRASE_FILE_ENV)
    if not path:
        return None
    try:
        mode = os.stat(path).st_mode
        with open(path, "rb") as f:
            line = f.readline(4096).rstrip(b"\r\n")
    except OSError as e:
        raise InputError(f"{PASSPHRASE_FILE_ENV}: cannot read {path}: {e.strerror}") from e
    if mode & 0o077:
        raise InputError(
            f"{PASSPHRASE_FILE_ENV}: {path} is readable by others (mode {mode & 0o777:o}); "
            "chmod 600"
        )
    if not line:
        raise InputError(f"{PASSPHRASE_FILE_ENV}: {path} is empty")
    return line


def save_signer(
    signer: FileSigner, path: str | os.PathLike[str], passphrase: bytes | None = None
) -> None:
    """Write the private key as PKCS#8 PEM, mode 0600, atomically; encrypted with
    ``passphrase``, else with :func:`key_passphrase` when the operator set one."""
    passphrase = passphrase or key_passphrase()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    pem = signer.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    write_atomic(path, pem, mode=0o600)


def load_signer(path: str | os.PathLike[str], passphrase: bytes | None = None) -> FileSigner:
    """Load a PEM private key; refuse keys that others can read."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
        data = p.read_bytes()
    except OSError as e:
        raise InternalError(f"cannot read key {p}: {e.strerror}") from e
    if mode & 0o077:
        raise InternalError(
            f"key file {p} is readable by others (mode {mode & 0o777:o}); chmod 600"
        )
    encrypted = b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data
    if encrypted:
        passphrase = passphrase or key_passphrase()
        if not passphrase:
            raise InputError(f"key {p} is encrypted: set {PASSPHRASE_ENV} or {PASSPHRASE_FILE_ENV}")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase if encrypted else None)
    except (ValueError, TypeError) as e:
        if encrypted:  # the operator's passphrase, not the instance, is wrong
            raise InputError(f"cannot load key {p}: wrong passphrase") from e
        raise InternalError(f"cannot load key {p}: not a PEM private key") from e
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise InternalError(f"key {p} has an unsupported type {type(key).__name__}")
    return FileSigner(key)


def load_public_key_pem(data: bytes) -> object:
    """Parse a PEM (or DER) SubjectPublicKeyInfo, with an :class:`InputError` on garbage."""
    try:
        if data.lstrip().startswith(b"-----"):
            return serialization.load_pem_public_key(data)
        return serialization.load_der_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise InputError("not a valid PEM or DER public key") from e
