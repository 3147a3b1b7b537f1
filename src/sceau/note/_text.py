"""The C2SP signed-note text format: strict parsing and formatting, no cryptography.

A note is ``<text>\\n`` + ``\\n`` + one or more ``— <name> base64(keyID ‖ sig)\\n`` lines.
sceau is stricter than the spec on one point, like sigstore-python: the text itself has no
empty lines, so the blank line separating text and signatures is the only one.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from sceau.errors import VerificationError

SIG_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 64  # the spec asks verifiers to accept at least 16
MAX_NOTE_SIZE = 1 << 20
KEY_ID_SIZE = 4

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # ASCII controls other than newline


class NoteError(VerificationError):
    """A signed note or checkpoint is malformed or does not verify."""


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key ``name``, 4-byte ``key_id`` and the raw ``signature``."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """The ``— name base64(keyID ‖ sig)`` line, with its newline."""
        b64 = base64.b64encode(self.key_id + self.signature).decode()
        return f"{SIG_PREFIX}{self.name} {b64}\n"


@dataclass(frozen=True)
class Note:
    """A parsed note. ``verified`` lists the signatures a verifier checked (else empty)."""

    body: str
    signatures: list[NoteSignature]
    verified: tuple[NoteSignature, ...] = field(default=())


def check_text(text: str, what: str = "note text") -> None:
    """Raise unless ``text`` is valid note text: non-empty lines, each ending in newline,
    valid UTF-8, no control characters."""
    if not isinstance(text, str):
        raise NoteError(f"{what} must be a string")
    if not text.endswith("\n"):
        raise NoteError(f"{what} does not end with a newline")
    if text.startswith("\n") or "\n\n" in text:
        raise NoteError(f"{what} contains an empty line")
    check_chars(text, what)


def check_chars(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise NoteError(f"{what} is not valid UTF-8") from e
    if _CONTROL.search(text):
        raise NoteError(f"{what} contains a control character")


def check_name(name: str) -> None:
    """Key names are non-empty, without Unicode spaces or '+' (signed-note §Format)."""
    if not isinstance(name, str) or not name:
        raise NoteError("key name is empty")
    if any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"key name {name!r} contains a space or '+'")
    check_chars(name, "key name")


def b64decode_strict(text: str, what: str) -> bytes:
    """Standard base64 with padding, canonical only (no whitespace, no stray bits)."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as e:
        raise NoteError(f"{what} is not valid base64") from e
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def parse_signature_line(line: str) -> NoteSignature:
    """Parse one signature line (without its newline)."""
    if not line.startswith(SIG_PREFIX):
        raise NoteError("signature line does not start with an em dash and a space")
    parts = line[len(SIG_PREFIX) :].split(" ")
    if len(parts) != 2:
        raise NoteError("signature line is not '— <name> <signature>'")
    name, b64 = parts
    check_name(name)
    raw = b64decode_strict(b64, "signature")
    if len(raw) <= KEY_ID_SIZE:
        raise NoteError("signature is too short to hold a key ID and a signature")
    return NoteSignature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


def parse_note(text: str | bytes) -> Note:
    """Split a signed note into its text and signature lines, strictly.

    Exactly one blank line separates them; every line ends with a newline; there is at least
    one signature line. Signatures are not verified here (see :func:`verify_note`).
    """
    if isinstance(text, bytes | bytearray):
        if len(text) > MAX_NOTE_SIZE:
            raise NoteError("note is too large")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise NoteError("note is not valid UTF-8") from e
    if not isinstance(text, str):
        raise NoteError("note must be text")
    if len(text) > MAX_NOTE_SIZE:
        raise NoteError("note is too large")
    check_chars(text, "note")
    if text.count("\n\n") != 1 or "\n\n\n" in text:
        raise NoteError("note must have exactly one blank line between text and signatures")
    head, sigs = text.split("\n\n")
    body = head + "\n"
    check_text(body)
    if not sigs:
        raise NoteError("note has no signature lines")
    if not sigs.endswith("\n"):
        raise NoteError("note does not end with a newline")
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    return Note(body, [parse_signature_line(line) for line in lines])
