"""C2SP signed notes and checkpoints: strict parsing, signing, verification.

A signed note is ``body`` (non-empty ``\\n``-terminated lines) + ``"\\n"`` + one
``— <name> <base64(key ID ‖ signature)>\\n`` line per signature; signatures cover the body
including its final newline. Parsing is strict because clients are: sigstore-python
splits at ``"\\n\\n"`` and requires exactly one; sigstore-js matches ``— (\\S+) (\\S+)\\n``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sceau.errors import VerificationError

MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 1 << 20
_SIG_LINE = re.compile(r"\u2014 ([^\s+]+) ([A-Za-z0-9+/]+={0,2})")
_DIGITS = re.compile(r"0|[1-9][0-9]*")


class NoteError(VerificationError):
    """A note or checkpoint is malformed or its signatures do not verify."""


class _Signer(Protocol):
    name: str
    key_id: bytes

    def sign(self, message: bytes) -> bytes: ...


class _Verifier(Protocol):
    name: str
    key_id: bytes

    def verify(self, message: bytes, signature: bytes) -> bool: ...


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"\u2014 {self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"


@dataclass(frozen=True)
class Note:
    body: str
    signatures: list[NoteSignature]

    def signed_by(self, verifier: _Verifier) -> list[NoteSignature]:
        """This note's signatures that claim ``verifier``'s name and key ID."""
        return [
            s for s in self.signatures if s.name == verifier.name and s.key_id == verifier.key_id
        ]


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise NoteError(f"{what} is not valid base64") from e


def _check_text(text: str, what: str) -> None:
    for ch in text:
        if ch != "\n" and (ord(ch) < 0x20 or ord(ch) == 0x7F):
            raise NoteError(f"{what} contains a control character")


def parse_note(text: str | bytes) -> Note:
    """Parse a signed note strictly; signatures are not checked here."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise NoteError("note is not valid UTF-8") from e
    if len(text) > MAX_NOTE_BYTES:
        raise NoteError("note is too large")
    _check_text(text, "note")
    if text.count("\n\n") != 1:
        raise NoteError("note must have exactly one blank line between text and signatures")
    body, _, sigs = text.partition("\n\n")
    body += "\n"
    if not body.strip("\n") or body.startswith("\n"):
        raise NoteError("note text is empty")
    if not sigs.endswith("\n"):
        raise NoteError("note signature block must end with a newline")
    signatures: list[NoteSignature] = []
    for line in sigs[:-1].split("\n"):
        m = _SIG_LINE.fullmatch(line)
        if not m:
            raise NoteError(f"malformed note signature line {line[:80]!r}")
        raw = _b64(m.group(2), "note signature")
        if len(raw) < 5:
            raise NoteError("note signature is too short")
        signatures.append(NoteSignature(m.group(1), raw[:4], raw[4:]))
    if not signatures:
        raise NoteError("note has no signatures")
    if len(signatures) > MAX_SIGNATURES:
        raise NoteError("note has too many signatures")
    return Note(body, signatures)


def sign_note(body: str, signers: Sequence[_Signer]) -> str:
    """Sign ``body`` (which must end with a newline) with every signer."""
    if not body.endswith("\n") or "\n\n" in body or body.startswith("\n"):
        raise NoteError("note text must be non-empty lines each ending with a newline")
    _check_text(body, "note text")
    if not signers:
        raise NoteError("a note needs at least one signer")
    message = body.encode()
    lines = [NoteSignature(s.name, s.key_id, s.sign(message)).line() for s in signers]
    return body + "\n" + "".join(lines)


def verify_note(text: str | bytes, verifiers: Sequence[_Verifier]) -> Note:
    """Parse and verify: at least one signature by a known key must verify.

    Lines from unknown keys are ignored; a line that claims a known key but does not
    verify is an error (a forged or corrupted signature is never silently skipped).
    """
    note = parse_note(text)
    message = note.body.encode()
    verified = 0
    for v in verifiers:
        for sig in note.signed_by(v):
            if not v.verify(message, sig.signature):
                raise NoteError(f"note signature by {v.name} does not verify")
            verified += 1
    if not verified:
        raise NoteError("note has no signature from a known key")
    return note


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint body: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        root = base64.b64encode(self.root_hash).decode()
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        if not body.endswith("\n"):
            raise NoteError("checkpoint must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError("checkpoint needs an origin, a tree size and a root hash")
        origin, size, root, *extensions = lines
        if not origin:
            raise NoteError("checkpoint origin is empty")
        if not _DIGITS.fullmatch(size) or len(size) > 20:
            raise NoteError(f"checkpoint tree size {size[:30]!r} is not a decimal number")
        root_hash = _b64(root, "checkpoint root hash")
        if len(root_hash) != 32:
            raise NoteError("checkpoint root hash is not 32 bytes")
        if any(not line for line in extensions):
            raise NoteError("checkpoint has an empty line")
        n = int(size)
        if n >= 1 << 63:
            raise NoteError("checkpoint tree size is out of range")
        return cls(origin, n, root_hash, tuple(extensions))


def open_checkpoint(text: str | bytes, verifiers: Sequence[_Verifier]) -> Checkpoint:
    """Verify a signed checkpoint and return its parsed body."""
    return Checkpoint.parse(verify_note(text, verifiers).body)
