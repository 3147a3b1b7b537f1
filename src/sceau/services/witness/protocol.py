"""The ``add-checkpoint`` request body (C2SP tlog-witness), parsed strictly.

``old <size>\\n`` + up to 63 base64 proof hashes, one per line + an empty line + the signed
checkpoint note. Sizes are canonical decimals; hashes canonical base64 of 32 bytes. Any
deviation is the client's mistake (400); signatures are checked later, by the witness.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sceau.errors import InputError
from sceau.note import NoteError
from sceau.note._text import b64decode_strict

MAX_BODY = 128 * 1024  # a checkpoint, 63 hashes and a few dozen signature lines fit
MAX_PROOF = 63
_OLD = re.compile(r"old (0|[1-9][0-9]{0,19})")


@dataclass(frozen=True)
class AddCheckpoint:
    old_size: int
    proof: tuple[bytes, ...]
    note: str  # the signed checkpoint, verified by the witness


def parse_request(body: bytes) -> AddCheckpoint:
    """Split and check an add-checkpoint body; raise :class:`InputError` (400) if malformed."""
    if len(body) > MAX_BODY:
        raise InputError(f"request body is larger than {MAX_BODY} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("request body is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise InputError("request body has no empty line before the checkpoint")
    lines = head.split("\n")
    m = _OLD.fullmatch(lines[0])
    if m is None:
        raise InputError("the first line must be 'old <size>' (a canonical decimal)")
    old = int(m.group(1))
    if old > (1 << 64) - 1:
        raise InputError("old size is out of range")
    hashes = lines[1:]
    if len(hashes) > MAX_PROOF:
        raise InputError(f"more than {MAX_PROOF} consistency proof lines")
    proof = []
    for line in hashes:
        try:
            h = b64decode_strict(line, "consistency proof line")
        except NoteError as e:
            raise InputError(e.message) from None
        if len(h) != 32:
            raise InputError("a consistency proof line is not a 32-byte hash")
        proof.append(h)
    return AddCheckpoint(old, tuple(proof), note)
