"""Signing and verifying notes with any mix of log signers and witness cosigners."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Protocol

from sceau.note._text import Note, NoteError, NoteSignature, check_name, check_text, parse_note


class SignsNotes(Protocol):
    name: str
    key_id: bytes

    def sign(self, message: bytes) -> bytes: ...


class VerifiesNotes(Protocol):
    name: str
    key_id: bytes

    def verify(self, message: bytes, signature: bytes) -> bool: ...


def sign_note(body: str, signers: Sequence[SignsNotes]) -> str:
    """``body`` + blank line + one signature line per signer, in order."""
    check_text(body)
    if not signers:
        raise NoteError("a note needs at least one signer")
    message = body.encode()
    lines = []
    for s in signers:
        check_name(s.name)
        lines.append(NoteSignature(s.name, bytes(s.key_id), s.sign(message)).line())
    return body + "\n" + "".join(lines)


def verify_note(text: str | bytes, verifiers: Iterable[VerifiesNotes]) -> Note:
    """Parse ``text`` and check its signatures against the known keys.

    signed-note §Signatures: lines whose (name, key ID) match no known key are ignored; a
    line from a known key that fails to verify rejects the note (the spec's SHOULD); at least
    one known signature must verify. The returned note lists them in ``verified``.
    """
    note = parse_note(text)
    known: dict[tuple[str, bytes], list[VerifiesNotes]] = {}
    for v in verifiers:
        known.setdefault((v.name, bytes(v.key_id)), []).append(v)
    message = note.body.encode()
    verified: list[NoteSignature] = []
    for sig in note.signatures:
        candidates = known.get((sig.name, sig.key_id))
        if not candidates:
            continue
        if not any(v.verify(message, sig.signature) for v in candidates):
            raise NoteError(f"signature from known key {sig.name} ({sig.key_id.hex()}) is invalid")
        verified.append(sig)
    if not verified:
        raise NoteError("note has no signature from a known key")
    return replace(note, verified=tuple(verified))
