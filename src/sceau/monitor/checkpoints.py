"""Verifying the tree head a log publishes, with the key the trusted root gives for it."""

from __future__ import annotations

from sceau import note
from sceau.client.errors import LogEntryError
from sceau.monitor.errors import LogAlarm
from sceau.monitor.logs import LogTarget


def open_checkpoint(target: LogTarget, text: bytes) -> note.Checkpoint:
    """Verify a checkpoint with the log's trusted key and check its origin (LogAlarm)."""
    policy = target.witness_policy
    witnesses = policy.verifiers() if policy is not None else []
    try:
        parsed = note.verify_note(text, [target.verifier, *witnesses])
        if not any(
            (s.name, bytes(s.key_id)) == (target.verifier.name, bytes(target.verifier.key_id))
            for s in parsed.verified
        ):
            raise note.NoteError("no signature from the log's key")
        cp = note.Checkpoint.parse(parsed.body)
    except note.NoteError as e:
        raise LogAlarm(
            f"{target.label}: the checkpoint does not verify with the log's trusted key ({e})"
        ) from None
    if policy is not None:
        try:
            policy.check(parsed)
        except LogEntryError as e:
            raise LogAlarm(
                f"{target.label}: UNWITNESSED: {e.message}; the checkpoint is not trusted"
            ) from None
    if not target.origin_ok(cp.origin):
        raise LogAlarm(f"{target.label}: checkpoint origin {cp.origin!r} is not this log's")
    return cp
