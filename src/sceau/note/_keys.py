"""Note signers and verifiers for the log's own key: key IDs by key type, log IDs.

Key IDs (signed-note §Signature types, docs/protocols.md §3.6):

- Ed25519 (type 0x01): ``SHA-256(name ‖ "\\n" ‖ 0x01 ‖ 32-byte key)[:4]``.
- ECDSA (type 0x02, the transparency-dev/witness convention Rekor uses):
  ``SHA-256(SPKI DER)[:4]``; the signature is DER ECDSA over the curve's hash of the text,
  exactly what :class:`sceau.keys.Signer` produces.

The full 32-byte hash is the log ID Sigstore puts in bundles and trusted roots.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sceau.errors import SceauError
from sceau.keys import Signer, Verifier, spki_der
from sceau.note._text import KEY_ID_SIZE, NoteError, check_name

ED25519 = 0x01
ECDSA = 0x02
COSIGNATURE_V1 = 0x04


def raw_ed25519(public_key: ed25519.Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def typed_key_hash(name: str, sig_type: int, key_bytes: bytes) -> bytes:
    """``SHA-256(name ‖ "\\n" ‖ type ‖ key)``: the spec's recommended key hash."""
    check_name(name)
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + key_bytes).digest()


def log_id(name: str, public_key: Any) -> bytes:
    """The 32-byte log ID: Ed25519 keys hash the name too; ECDSA and RSA hash the SPKI."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return typed_key_hash(name, ED25519, raw_ed25519(public_key))
    if isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        return hashlib.sha256(spki_der(public_key)).digest()
    raise NoteError(f"unsupported log key type {type(public_key).__name__}")


def _sig_type(public_key: Any) -> int:
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return ED25519
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return ECDSA
    raise NoteError(f"unsupported note key type {type(public_key).__name__}")


class NoteSigner:
    """Signs note text with a log key; ``key_id`` is the 4-byte hint on its signature lines."""

    def __init__(self, name: str, signer: Signer) -> None:
        check_name(name)
        public_key = signer.public_key()
        self.name = name
        self.sig_type = _sig_type(public_key)
        self.public_key: Any = public_key
        self.key_id = log_id(name, public_key)[:KEY_ID_SIZE]
        self._signer = signer

    def sign(self, message: bytes) -> bytes:
        """The raw signature over ``message`` (the key ID is added by :func:`sign_note`)."""
        return self._signer.sign(message)

    def verifier(self) -> NoteVerifier:
        """The matching verifier (a log checks what it stored before trusting it)."""
        return NoteVerifier(self.name, self.public_key)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, key_id={self.key_id.hex()})"


class NoteVerifier:
    """Checks signatures of one known key, identified by ``(name, key_id)``."""

    def __init__(self, name: str, public_key: Any) -> None:
        check_name(name)
        self.name = name
        self.sig_type = _sig_type(public_key)
        self.public_key: Any = public_key
        self.key_id = log_id(name, public_key)[:KEY_ID_SIZE]
        self._verifier = Verifier(public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True iff ``signature`` (without key ID) is valid over ``message``."""
        try:
            self._verifier.verify(signature, message)
        except SceauError:
            return False
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, key_id={self.key_id.hex()})"


def note_signer(name: str, signer: Signer) -> NoteSigner:
    """A note signer for a log key (Ed25519, ECDSA P-256 or P-384)."""
    return NoteSigner(name, signer)


def note_verifier(name: str, public_key: Any) -> NoteVerifier:
    """A note verifier for a log's public key (Ed25519 or ECDSA)."""
    return NoteVerifier(name, public_key)
