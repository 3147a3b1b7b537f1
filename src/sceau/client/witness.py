"""C2SP tlog-cosignature/v1 checks: required witness cosignatures on a checkpoint.

A cosignature line is ``— <witness name> base64(keyID ‖ timestamp ‖ Ed25519 sig)`` where
keyID = SHA-256(name ‖ "\\n" ‖ 0x04 ‖ public key)[:4], the timestamp is a big-endian uint64
(seconds) and the signature covers ``"cosignature/v1\\ntime <timestamp>\\n" ‖ checkpoint``.
Checked only when the caller configures witnesses; unknown lines are always ignored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sceau.client.errors import LogEntryError


def witness_key_id(name: str, public_key: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(name.encode() + b"\n\x04" + raw).digest()[:4]


def verify_cosignatures(
    note: Any, checkpoint: Any, witnesses: Sequence[Any], threshold: int = 0
) -> tuple[str, ...]:
    """Return the names of witnesses whose cosignature verifies; raise below ``threshold``
    (0 means every configured witness)."""
    from cryptography.exceptions import InvalidSignature

    need = threshold or len(witnesses)
    body = note.body.encode() if isinstance(note.body, str) else note.body
    ok: list[str] = []
    for w in witnesses:
        kid = witness_key_id(w.name, w.public_key)
        for sig in note.signatures:
            if sig.name != w.name or sig.key_id != kid or len(sig.signature) != 72:
                continue
            ts = int.from_bytes(sig.signature[:8], "big")
            msg = b"cosignature/v1\ntime %d\n" % ts + body
            try:
                w.public_key.verify(sig.signature[8:], msg)
            except InvalidSignature:
                continue
            ok.append(w.name)
            break
    if len(ok) < need:
        raise LogEntryError(f"checkpoint has {len(ok)} valid witness cosignature(s), need {need}")
    return tuple(ok)
