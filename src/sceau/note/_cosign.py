"""C2SP tlog-cosignature/v1: timestamped Ed25519 witness cosignatures on checkpoints.

Signature bytes are ``u64 big-endian timestamp ‖ Ed25519 signature`` over
``"cosignature/v1\\ntime <timestamp>\\n" ‖ checkpoint text``; the key ID uses type 0x04, so
the same witness key never verifies as a plain Ed25519 note signature. Both classes plug into
:func:`sign_note` / :func:`verify_note` like the log's own signers and verifiers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from sceau.keys import Signer
from sceau.note._keys import COSIGNATURE_V1, NoteSigner, NoteVerifier, raw_ed25519, typed_key_hash
from sceau.note._text import KEY_ID_SIZE, NoteError, NoteSignature, check_name

_TS_SIZE = 8
_SIG_SIZE = _TS_SIZE + 64
MAX_TIMESTAMP = (1 << 63) - 1


def cosignature_key_id(name: str, public_key: ed25519.Ed25519PublicKey) -> bytes:
    return typed_key_hash(name, COSIGNATURE_V1, raw_ed25519(public_key))[:KEY_ID_SIZE]


def cosigned_message(body: bytes, timestamp: int) -> bytes:
    """What a v1 cosignature signs: header line, time line, then the checkpoint text."""
    return b"cosignature/v1\ntime %d\n" % timestamp + body


def cosignature_timestamp(signature: NoteSignature | bytes) -> int:
    """The POSIX timestamp (seconds) carried by a cosignature (signature bytes or line)."""
    raw = signature.signature if isinstance(signature, NoteSignature) else signature
    if len(raw) != _SIG_SIZE:
        raise NoteError(f"a cosignature is {_SIG_SIZE} bytes, got {len(raw)}")
    ts = int.from_bytes(raw[:_TS_SIZE], "big")
    if ts > MAX_TIMESTAMP:
        raise NoteError("cosignature timestamp exceeds 2^63-1")
    return ts


def _ed25519_key(key: Any) -> ed25519.Ed25519PublicKey:
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise NoteError("cosignature/v1 keys must be Ed25519")
    return key


class CosignatureSigner(NoteSigner):
    """A witness: cosigns checkpoint text with an Ed25519 key at the current time."""

    def __init__(self, name: str, signer: Signer, clock: Callable[[], float] = time.time) -> None:
        check_name(name)
        public_key = _ed25519_key(signer.public_key())
        self.name = name
        self.sig_type = COSIGNATURE_V1
        self.public_key = public_key
        self.key_id = cosignature_key_id(name, public_key)
        self._signer = signer
        self._clock = clock

    def sign(self, message: bytes) -> bytes:
        ts = int(self._clock())
        if not 0 <= ts <= MAX_TIMESTAMP:
            raise NoteError("clock is outside the cosignature timestamp range")
        return ts.to_bytes(_TS_SIZE, "big") + self._signer.sign(cosigned_message(message, ts))

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.public_key)


class CosignatureVerifier(NoteVerifier):
    """Checks a witness's cosignature/v1 lines (timestamp ‖ Ed25519 signature)."""

    def __init__(self, name: str, public_key: Any) -> None:
        check_name(name)
        self.name = name
        self.sig_type = COSIGNATURE_V1
        self.public_key = _ed25519_key(public_key)
        self.key_id = cosignature_key_id(name, self.public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            ts = cosignature_timestamp(signature)
        except NoteError:
            return False
        try:
            self.public_key.verify(signature[_TS_SIZE:], cosigned_message(message, ts))
        except InvalidSignature:
            return False
        return True


def cosignature_signer(
    name: str, signer: Signer, clock: Callable[[], float] = time.time
) -> CosignatureSigner:
    return CosignatureSigner(name, signer, clock)


def cosignature_verifier(name: str, public_key: Any) -> CosignatureVerifier:
    """A verifier for witness ``name``'s cosignatures, usable in :func:`verify_note`."""
    return CosignatureVerifier(name, public_key)
