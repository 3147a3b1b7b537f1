"""Witness cosignatures (C2SP tlog-cosignature/v1) required on a log checkpoint.

Only checked when the caller configures witnesses: the checkpoint's note is verified with
the log's key *and* every witness key in one pass (``sceau.note.verify_note``: unknown lines
ignored, a known line that fails rejects the note), then at least ``threshold`` witnesses
must be among the verified signers. Without witnesses, cosignature lines are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sceau.client.errors import LogEntryError


@dataclass(frozen=True)
class Witness:
    """A C2SP tlog-witness: its name and Ed25519 public key."""

    name: str
    public_key: Any


def witness_verifiers(witnesses: Sequence[Witness]) -> list[Any]:
    from sceau.note import cosignature_verifier

    return [cosignature_verifier(w.name, w.public_key) for w in witnesses]


def count_cosigners(note: Any, verifiers: Sequence[Any], threshold: int) -> tuple[str, ...]:
    """Names of witnesses whose cosignature is among the note's verified signatures;
    raise below ``threshold`` (0 means every configured witness)."""
    need = threshold or len(verifiers)
    ids = {(v.name, bytes(v.key_id)) for v in verifiers}
    names = tuple(
        sig.name for sig in getattr(note, "verified", ()) if (sig.name, sig.key_id) in ids
    )
    if len(names) < need:
        raise LogEntryError(
            f"checkpoint has {len(names)} valid witness cosignature(s), need {need}"
        )
    return names
