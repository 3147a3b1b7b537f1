"""The checks of C2SP tlog-witness ``add-checkpoint``, in the spec's order, with its codes.

404 unknown origin; 403 no valid signature from a key trusted for the origin (or a bad one
from such a key); 400 malformed, or old size above the checkpoint size; 409 (body: the size
the witness knows, ``text/x.tlog.size``) when the old size is not the one it last cosigned;
422 when the proof or the roots do not check. Only then is the new checkpoint recorded and
the timestamped cosignature/v1 line returned. A refused checkpoint leaves the state as it was.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sceau.errors import InputError
from sceau.merkle import ProofError, verify_consistency
from sceau.note import (
    Checkpoint,
    CosignatureSigner,
    NoteError,
    NoteSignature,
    format_vkey,
    parse_note,
    verify_note,
)
from sceau.services.witness.protocol import AddCheckpoint, parse_request
from sceau.services.witness.state import Stored, WitnessState

log = logging.getLogger("sceau.witness")

EMPTY_ROOT = hashlib.sha256(b"").digest()
TEXT = "text/plain; charset=utf-8"
SIZE_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = TEXT


class _Refused(Exception):
    def __init__(self, status: int, message: str, content_type: str = TEXT) -> None:
        super().__init__(message)
        self.reply = Reply(status, (message if message.endswith("\n") else message + "\n").encode(),
                           content_type)  # fmt: skip


class Witness:
    """Cosigns checkpoints of the logs in ``logs`` (origin → verifiers of its keys)."""

    def __init__(
        self,
        cosigner: CosignatureSigner,
        logs: Mapping[str, Sequence[Any]],
        state: WitnessState,
    ) -> None:
        self.cosigner = cosigner
        self.logs = {origin: tuple(vs) for origin, vs in logs.items()}
        self.state = state

    @property
    def name(self) -> str:
        return self.cosigner.name

    @property
    def vkey(self) -> str:
        return format_vkey(self.cosigner)

    def add_checkpoint(self, body: bytes) -> Reply:
        """Answer one ``POST add-checkpoint`` body (runs in a worker thread: SQLite, fsync)."""
        try:
            return self._add(body)
        except _Refused as r:
            return r.reply

    def _add(self, body: bytes) -> Reply:
        try:
            req = parse_request(body)
        except InputError as e:
            raise _Refused(400, e.message) from None
        origin = _origin_of(req.note)
        verifiers = self.logs.get(origin)
        if verifiers is None:
            raise _Refused(404, f"unknown log origin {origin!r}")
        try:
            note = verify_note(req.note, verifiers)
        except NoteError as e:
            raise _Refused(403, f"checkpoint signature: {e.message}") from None
        try:
            cp = Checkpoint.parse(note.body)
        except NoteError as e:
            raise _Refused(400, f"checkpoint: {e.message}") from None
        if req.old_size > cp.size:
            raise _Refused(400, f"old size {req.old_size} is above the checkpoint size {cp.size}")
        log_lines = "".join(s.line() for s in note.verified)

        def decide(stored: Stored | None) -> tuple[Stored, NoteSignature]:
            self._check(req, cp, stored)
            cosig = NoteSignature(
                self.cosigner.name, self.cosigner.key_id, self.cosigner.sign(note.body.encode())
            )
            kept = note.body + "\n" + log_lines + cosig.line()
            return Stored(cp.size, cp.root_hash, kept), cosig

        cosig = self.state.update(origin, decide)
        return Reply(200, cosig.line().encode())

    def _check(self, req: AddCheckpoint, cp: Checkpoint, stored: Stored | None) -> None:
        known = stored.size if stored else 0
        if req.old_size != known:
            raise _Refused(409, f"{known}\n", SIZE_TYPE)
        if cp.size == 0 and cp.root_hash != EMPTY_ROOT:
            raise _Refused(422, "a checkpoint of size 0 must have the empty tree's root hash")
        if req.old_size == 0:
            if req.proof:
                raise _Refused(422, "the consistency proof from size 0 must be empty")
            return
        assert stored is not None
        if req.old_size == cp.size:
            if cp.root_hash != stored.root_hash:
                log.warning(
                    "log %s: checkpoint of size %d with a root hash that differs from the one "
                    "cosigned (a fork?)", cp.origin, cp.size,
                )  # fmt: skip
                raise _Refused(422, "same size as the cosigned checkpoint, different root hash")
            return
        try:
            verify_consistency(req.old_size, cp.size, req.proof, stored.root_hash, cp.root_hash)
        except ProofError as e:
            log.warning(
                "log %s: no consistency from %d to %d (%s): refused",
                cp.origin, req.old_size, cp.size, e.message,
            )  # fmt: skip
            raise _Refused(422, f"consistency proof does not verify: {e.message}") from None

    def checkpoint_of(self, origin_hash: str) -> Reply:
        """``GET <origin hash>/checkpoint``: the latest cosigned checkpoint of a log."""
        for origin in self.logs:
            if hashlib.sha256(origin.encode()).hexdigest() == origin_hash:
                stored = self.state.get(origin)
                if stored is not None:
                    return Reply(200, stored.note.encode())
        return Reply(404, b"no checkpoint cosigned for that origin\n")


def _origin_of(text: str) -> str:
    try:
        return parse_note(text).body.split("\n", 1)[0]
    except NoteError as e:
        raise _Refused(400, f"checkpoint: {e.message}") from None
