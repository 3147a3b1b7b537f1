"""The storage driver contract. Drivers are synchronous; the engine calls them from threads.

Two roles, kept apart so a database-backed driver can serve many processes:

- the **writer** (one per log at a time): :meth:`Storage.commit` persists one batch —
  tiles, entry bundles, leaf index, search keys and the new tree head — *atomically*, and
  only if the stored head still has the size the batch was built on (compare-and-swap). A
  driver shared by several processes also provides :meth:`Storage.sequencer_lease`, which
  lets exactly one process sequence a log (PostgreSQL: an advisory lock); the CAS fences a
  writer that lost its lease without knowing it.
- **readers** (any number, any process): tiles, leaf lookups, search keys, batch times.

Crash invariant every driver must keep: after ``commit`` returns, the batch is durable
(survives power loss); if it raises or the process dies inside it, nothing of the batch
is visible. A tree head never refers to tiles that are not stored. The leaf index may be
kept as data derived from the level-0 tiles (the SQLite driver merges it in runs), as long
as ``find_leaves`` finds every leaf of a batch once its ``commit`` has returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from sceau.errors import InternalError

TileKey = tuple[int, int]


@dataclass(frozen=True)
class TreeHead:
    """A durable tree head: size, root, its signed checkpoint and when it was made."""

    size: int
    root_hash: bytes
    note: str
    timestamp_ms: int


@dataclass
class BatchWrite:
    """Everything one sequenced batch persists, in one transaction."""

    log: str
    old_size: int  # CAS: commit only if the stored head still has this size
    head: TreeHead
    tiles: dict[TileKey, bytes]  # full current bytes of every touched tile/bundle
    leaves: Sequence[tuple[bytes, int]]  # (leaf hash, index) for dedup
    keys: Sequence[tuple[str, int]]  # (search key, index)


class DuplicateLeaves(InternalError):
    """Some leaves of a batch were already in the log; nothing was written.

    Only raised by drivers whose ``detects_duplicates`` is True: they skip the engine's
    separate dedup query and check uniqueness inside the commit instead.
    """

    def __init__(self, existing: dict[bytes, int]) -> None:
        super().__init__(f"{len(existing)} leaves already in the log")
        self.existing = existing


class StaleHead(InternalError):
    """The stored head moved under us: another sequencer committed. Reload and retry."""


class Storage(Protocol):
    # Capabilities, declared by every driver (no probing):
    shared: bool
    """Other processes may commit to the same logs (PostgreSQL): the engine re-reads the
    head for readers and sequences under :meth:`sequencer_lease`."""
    detects_duplicates: bool
    """:meth:`commit` raises :class:`DuplicateLeaves` itself (inside its transaction), so
    the engine skips its separate :meth:`find_leaves` check before a batch."""

    def create_log(self, name: str, origin: str, first: BatchWrite | None) -> None:
        """Register a new, empty log (optionally with its first batch, e.g. a genesis)."""
        ...

    def load_head(self, name: str) -> TreeHead | None:
        """The durable head of ``name``, or None if no such log exists."""
        ...

    def log_origin(self, name: str) -> str | None: ...

    def commit(self, write: BatchWrite) -> None:
        """Persist ``write`` atomically and durably; raise :class:`StaleHead` on CAS failure."""
        ...

    def read_tiles(self, name: str, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        """Stored bytes of the given tiles/bundles (missing ones are absent from the result)."""
        ...

    def tile_sizes(self, name: str) -> Iterable[tuple[int, int, int]]:
        """``(level, index, byte length)`` of every stored tile/bundle (start-up checks)."""
        ...

    def find_leaves(self, name: str, leaf_hashes: Sequence[bytes]) -> dict[bytes, int]:
        """Index of each given leaf hash that is already in the log."""
        ...

    def lookup(self, name: str, key: str, limit: int) -> list[int]:
        """Indexes recorded under search ``key``, ascending, at most ``limit``."""
        ...

    def batch_time(self, name: str, index: int) -> int | None:
        """Integration time (ms) of the batch that holds ``index``."""
        ...

    def sequencer_lease(self, name: str) -> AbstractContextManager[None]:
        """Hold the right to sequence ``name`` for the duration of the context."""
        ...

    def close(self) -> None: ...
