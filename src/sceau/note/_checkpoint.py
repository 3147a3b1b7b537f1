"""C2SP tlog-checkpoint: the note text of a transparency log tree head."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sceau.note._sign import VerifiesNotes, verify_note
from sceau.note._text import NoteError, b64decode_strict, check_text

HASH_SIZE = 32
MAX_SIZE = (1 << 64) - 1
_SIZE = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class Checkpoint:
    """Origin, tree size, root hash and optional extension lines.

    Rekor v1 origins are ``"<host> - <treeID>"``; Rekor v2 origins are the host itself.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise NoteError("checkpoint size must be an integer")
        if not 0 <= self.size <= MAX_SIZE:
            raise NoteError("checkpoint size out of range")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise NoteError("checkpoint root hash must be 32 bytes")
        object.__setattr__(self, "extensions", tuple(self.extensions))
        if any("\n" in line for line in (self.origin, *self.extensions)):
            raise NoteError("checkpoint origin and extension lines cannot contain a newline")
        check_text(self._text(), "checkpoint")

    def _text(self) -> str:
        b64 = base64.b64encode(self.root_hash).decode()
        return "".join(f"{line}\n" for line in (self.origin, str(self.size), b64, *self.extensions))

    def body(self) -> str:
        """``origin\\nsize\\nbase64(root)\\n[extension\\n...]``: the text a log signs."""
        return self._text()

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Parse checkpoint text strictly (digits-only size, 32-byte canonical base64 root)."""
        check_text(body, "checkpoint")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError("checkpoint needs origin, size and root hash lines")
        origin, size_s, root_s, *extensions = lines
        if not _SIZE.fullmatch(size_s):
            raise NoteError("checkpoint size is not a canonical decimal number")
        size = int(size_s)
        if size > MAX_SIZE:
            raise NoteError("checkpoint size out of range")
        root = b64decode_strict(root_s, "checkpoint root hash")
        if len(root) != HASH_SIZE:
            raise NoteError(f"checkpoint root hash is {len(root)} bytes, not {HASH_SIZE}")
        return cls(origin, size, root, tuple(extensions))


def open_checkpoint(text: str | bytes, verifiers: Iterable[VerifiesNotes]) -> Checkpoint:
    """Verify a signed checkpoint note and parse its text (raises :class:`NoteError`)."""
    return Checkpoint.parse(verify_note(text, verifiers).body)
