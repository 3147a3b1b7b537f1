"""A small in-memory log (Ed25519 checkpoints, real RFC 6962 proofs) and witnesses on free
ports, for the witness tests."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sceau import merkle
from sceau.keys import generate_signer
from sceau.log.cosigning import add_checkpoint_body
from sceau.note import Checkpoint, format_vkey, note_signer, parse_vkey, sign_note
from sceau.services.witness import build_witness_app, init_witness
from tests.serving import serve_app


@dataclass
class TinyLog:
    """A log kept as a list of leaf hashes; signs checkpoints with its Ed25519 key."""

    origin: str
    signer: object = field(default_factory=lambda: generate_signer("ed25519"))
    leaves: list[bytes] = field(default_factory=list)

    @property
    def vkey(self) -> str:
        return format_vkey(note_signer(self.origin, self.signer))

    def grow(self, n: int) -> None:
        self.leaves += [merkle.leaf_hash(os.urandom(16)) for _ in range(n)]

    def root(self, size: int | None = None) -> bytes:
        size = len(self.leaves) if size is None else size
        return merkle.tree_root(self.leaves[:size])

    def checkpoint(self, size: int | None = None) -> str:
        size = len(self.leaves) if size is None else size
        body = Checkpoint(self.origin, size, self.root(size)).body()
        return sign_note(body, [note_signer(self.origin, self.signer)])

    def proof(self, old: int, size: int | None = None) -> list[bytes]:
        size = len(self.leaves) if size is None else size
        if old == 0 or old == size:
            return []
        return merkle.consistency_proof(old, self.leaves[:size])

    def request(self, old: int, size: int | None = None) -> bytes:
        return add_checkpoint_body(old, self.proof(old, size), self.checkpoint(size))

    def fork(self) -> TinyLog:
        """Same origin and key, a different history from the first entry on."""
        return TinyLog(self.origin, self.signer)


@dataclass(frozen=True)
class RunningWitness:
    dir: Path
    url: str
    vkey: str

    @property
    def verifier(self):
        return parse_vkey(self.vkey)


def make_witness(directory: Path, name: str, log_vkeys: list[str]) -> str:
    return init_witness(directory, name, log_vkeys)


@contextlib.contextmanager
def running_witness(directory: Path, name: str, log_vkeys: list[str]) -> Iterator[RunningWitness]:
    """``sceau witness init`` + the witness app under uvicorn on a free port."""
    vkey = make_witness(directory, name, log_vkeys)
    with serve_app(build_witness_app(directory)) as url:
        yield RunningWitness(directory, url, vkey)
