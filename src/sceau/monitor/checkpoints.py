"""Verifying the tree head a log publishes, with the key the trusted root gives for it."""

from __future__ import annotations

from sceau import note
from sceau.monitor.errors import LogAlarm
from sceau.monitor.logs import LogTarget


def open_checkpoint(target: LogTarget, text: bytes) -> note.Checkpoint:
    """Verify a checkpoint with the log's trusted key and check its origin (LogAlarm)."""
    try:
        cp = note.open_checkpoint(text, [target.verifier])
    except note.NoteError as e:
        raise LogAlarm(
            f"{target.label}: the checkpoint does not verify with the log's trusted key ({e})"
        ) from None
    if not target.origin_ok(cp.origin):
        raise LogAlarm(f"{target.label}: checkpoint origin {cp.origin!r} is not this log's")
    return cp
