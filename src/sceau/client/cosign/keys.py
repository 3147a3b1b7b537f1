"""cosign key pairs: ``cosign.key`` and ``cosign.pub``, as ``cosign generate-key-pair`` writes.

The private key is PKCS#8 DER sealed with NaCl secretbox (XSalsa20-Poly1305) under a key
derived from the password with scrypt, the three held in a JSON document, base64 in a PEM
block of type ``ENCRYPTED SIGSTORE PRIVATE KEY`` (older cosign wrote ``ENCRYPTED COSIGN
PRIVATE KEY``: same contents). The public key is a PKIX ``PUBLIC KEY`` PEM.

Only the scrypt parameters cosign has written are accepted when reading: a file is
untrusted input, and scrypt's cost is whatever the file says.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sceau.errors import InputError

PEM_TYPE = "ENCRYPTED SIGSTORE PRIVATE KEY"
LEGACY_PEM_TYPE = "ENCRYPTED COSIGN PRIVATE KEY"
PASSWORD_ENVS = ("COSIGN_PASSWORD", "SCEAU_PASSWORD")
# (N, r, p): what cosign writes today, and what it wrote before (go-tuf's defaults).
SCRYPT_WRITE = (65536, 8, 1)
SCRYPT_ACCEPTED = frozenset({(65536, 8, 1), (32768, 8, 1)})
SALT_SIZE = 32
MAX_KEY_FILE = 64 * 1024


class CosignKeyError(InputError):
    """A cosign key file cannot be read, decrypted or written."""


def is_cosign_key(data: bytes) -> bool:
    """Whether ``data`` is an encrypted cosign private key (either PEM type)."""
    head = data.lstrip()[:64]
    return head.startswith(
        (b"-----BEGIN " + PEM_TYPE.encode(), b"-----BEGIN " + LEGACY_PEM_TYPE.encode())
    )


def _pem_body(data: bytes, where: str) -> bytes:
    try:
        lines = data.decode("ascii").strip().splitlines()
    except UnicodeDecodeError:
        raise CosignKeyError(f"{where}: not a PEM file") from None
    types = (PEM_TYPE, LEGACY_PEM_TYPE)
    if len(lines) < 3 or not any(lines[0] == f"-----BEGIN {t}-----" for t in types):
        raise CosignKeyError(f"{where}: not an encrypted cosign private key")
    if not any(lines[-1] == f"-----END {t}-----" for t in types):
        raise CosignKeyError(f"{where}: PEM block is not terminated")
    try:
        return base64.b64decode("".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        raise CosignKeyError(f"{where}: PEM body is not base64") from None


def _b64field(doc: Mapping[str, Any], path: tuple[str, ...], where: str) -> bytes:
    value: Any = doc
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    if not isinstance(value, str):
        raise CosignKeyError(f"{where}: {'.'.join(path)} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CosignKeyError(f"{where}: {'.'.join(path)} is not base64") from None


def _scrypt(password: bytes, salt: bytes, params: tuple[int, int, int]) -> bytes:
    n, r, p = params
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 * 1024 * 1024)


def decrypt_private_key(data: bytes, password: bytes, where: str = "key") -> Any:
    """The private key (a pyca key object) inside an encrypted cosign key file."""
    import nacl.exceptions
    import nacl.secret
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    if len(data) > MAX_KEY_FILE:
        raise CosignKeyError(f"{where}: too large for a key file")
    try:
        doc = json.loads(_pem_body(data, where))
    except (ValueError, UnicodeDecodeError):
        raise CosignKeyError(f"{where}: encrypted key is not JSON") from None
    if not isinstance(doc, dict):
        raise CosignKeyError(f"{where}: encrypted key is not a JSON object")
    kdf, cipher = doc.get("kdf"), doc.get("cipher")
    if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
        raise CosignKeyError(f"{where}: unsupported key derivation (only scrypt)")
    if not isinstance(cipher, dict) or cipher.get("name") != "nacl/secretbox":
        raise CosignKeyError(f"{where}: unsupported cipher (only nacl/secretbox)")
    p = kdf.get("params")
    params = (p.get("N"), p.get("r"), p.get("p")) if isinstance(p, dict) else None
    if params not in SCRYPT_ACCEPTED:
        raise CosignKeyError(f"{where}: unexpected scrypt parameters {params}")
    assert params is not None
    salt = _b64field(doc, ("kdf", "salt"), where)
    nonce = _b64field(doc, ("cipher", "nonce"), where)
    ciphertext = _b64field(doc, ("ciphertext",), where)
    if len(nonce) != nacl.secret.SecretBox.NONCE_SIZE:
        raise CosignKeyError(f"{where}: secretbox nonce must be 24 bytes")
    box = nacl.secret.SecretBox(_scrypt(password, salt, params))
    try:
        plaintext = box.decrypt(ciphertext, nonce)
    except nacl.exceptions.CryptoError:
        raise CosignKeyError(
            f"{where}: cannot decrypt the private key (wrong password, or the file was altered)"
        ) from None
    try:
        return load_der_private_key(plaintext, password=None)
    except ValueError:
        raise CosignKeyError(f"{where}: decrypted key is not PKCS#8") from None


def encrypt_private_key(private_key: Any, password: bytes) -> str:
    """``private_key`` sealed as cosign seals it: the contents of a ``cosign.key``."""
    import nacl.secret
    import nacl.utils
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    der = private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    salt = os.urandom(SALT_SIZE)
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    box = nacl.secret.SecretBox(_scrypt(password, salt, SCRYPT_WRITE))
    sealed = box.encrypt(der, nonce).ciphertext
    n, r, p = SCRYPT_WRITE
    doc = {
        "kdf": {
            "name": "scrypt",
            "params": {"N": n, "r": r, "p": p},
            "salt": base64.b64encode(salt).decode(),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(sealed).decode(),
    }
    body = base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {PEM_TYPE}-----\n" + "\n".join(lines) + f"\n-----END {PEM_TYPE}-----\n"


def public_key_pem(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pem: bytes = public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return pem


def password(
    *,
    confirm: bool = False,
    env: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] | None = None,
) -> bytes:
    """The key password: ``$COSIGN_PASSWORD`` or ``$SCEAU_PASSWORD`` if set (an empty value
    is an empty password, as cosign), else a prompt when stdin is a terminal."""
    env = os.environ if env is None else env
    for name in PASSWORD_ENVS:
        if name in env:
            return env[name].encode()
    if prompt is None:
        if not sys.stdin.isatty():
            raise CosignKeyError(
                "a key password is needed: set COSIGN_PASSWORD or SCEAU_PASSWORD "
                "(empty for none), or run on a terminal"
            )
        import getpass

        prompt = getpass.getpass
    first = prompt("Enter password for private key: ")
    if confirm and prompt("Enter password for private key again: ") != first:
        raise CosignKeyError("passwords do not match")
    return first.encode()


def load_private_key(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Any:
    """Read and decrypt a ``cosign.key`` (the password as :func:`password` finds it)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise CosignKeyError(f"cannot read key {path}: {e.strerror}") from None
    return decrypt_private_key(data, password(env=env), str(path))


def generate_key_pair(prefix: str | os.PathLike[str], secret: bytes) -> tuple[Path, Path]:
    """Write ``PREFIX.key`` (0600) and ``PREFIX.pub`` with a new ECDSA P-256 key; refuse to
    replace either file."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from sceau.durable import write_atomic

    key_path, pub_path = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    for p in (key_path, pub_path):
        if p.exists():
            raise CosignKeyError(f"{p} already exists: remove it or choose --output-key-prefix")
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        write_atomic(key_path, encrypt_private_key(key, secret).encode(), 0o600)
        write_atomic(pub_path, public_key_pem(key.public_key()), 0o644)
    except OSError as e:
        raise CosignKeyError(f"cannot write the key pair: {e.strerror}") from None
    return key_path, pub_path
