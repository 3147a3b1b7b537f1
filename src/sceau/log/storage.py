"""The storage driver contract, in three parts (as Sunlight's backend + lock, and Tessera's
storage + lock + antispam). Drivers are synchronous; the engine calls them from threads.

1. **Objects** (:class:`Objects`): tiles and entry bundles, addressed by (level, index).
   A full tile never changes once stored; a partial one is replaced by a longer version
   of itself. This is the part an object store (S3-compatible) could hold.
2. **The sequencer lease** (:class:`Sequencing`, :class:`Lease`): one writer per log at a
   time. ``with storage.sequencer_lease(name) as lease`` grants it (PostgreSQL: an
   advisory lock inside the batch's transaction; single-process drivers: their file lock
   or nothing); the :class:`Lease` object owns its head, its reads and its commit — no
   state keyed by thread. :meth:`Lease.commit` persists one batch — tiles, entry bundles,
   leaf index, search keys and the new tree head — *atomically*, and only if the stored
   head still has the size the batch was built on (compare-and-swap), which fences a
   writer that lost its lease without knowing it.
3. **Indexes** (:class:`Indexes`): leaf-hash dedup, search terms, batch times — data
   derived from the objects, written in the same commit.

Crash invariant every driver must keep: after a commit returns, the batch is durable
(survives power loss); if it raises or the process dies inside it, nothing of the batch
is visible. A tree head never refers to tiles that are not stored. The leaf index may be
kept as data derived from the level-0 tiles (the SQLite driver merges it in runs), as long
as ``find_leaves`` finds every leaf of a batch once its commit has returned.
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


class Objects(Protocol):
    """Part 1: tiles and entry bundles. Durable once a commit that wrote them returned."""

    def read_tiles(self, name: str, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        """Stored bytes of the given tiles/bundles (missing ones are absent from the result)."""
        ...

    def tile_sizes(self, name: str) -> Iterable[tuple[int, int, int]]:
        """``(level, index, byte length)`` of every stored tile/bundle (start-up checks)."""
        ...


class Indexes(Protocol):
    """Part 3: derived lookups. Complete for every batch whose commit returned."""

    def find_leaves(self, name: str, leaf_hashes: Sequence[bytes]) -> dict[bytes, int]:
        """Index of each given leaf hash that is already in the log."""
        ...

    def lookup(self, name: str, key: str, limit: int) -> list[int]:
        """Indexes recorded under search ``key``, ascending, at most ``limit``."""
        ...

    def batch_time(self, name: str, index: int) -> int | None:
        """Integration time (ms) of the batch that holds ``index``."""
        ...


class Lease(Protocol):
    """The right to sequence one log, for the ``with`` block that granted it.

    Reads see the log as the holder must build on (the primary, never a lagging replica);
    :meth:`commit` is the batch's commit point: durable when it returns, invisible if it
    raises (:class:`StaleHead` when the stored head moved: reload and retry).
    """

    def head(self) -> TreeHead | None:
        """The stored head, as of the grant (or of this lease's last commit)."""
        ...

    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, bytes]: ...

    def find_leaves(self, leaf_hashes: Sequence[bytes]) -> dict[bytes, int]: ...

    def commit(self, write: BatchWrite) -> None: ...


class Sequencing(Protocol):
    """Part 2: heads and the lease that guards them."""

    def create_log(self, name: str, origin: str, first: BatchWrite | None) -> None:
        """Register a new, empty log (optionally with its first batch, e.g. a genesis)."""
        ...

    def load_head(self, name: str) -> TreeHead | None:
        """The durable head of ``name``, or None if no such log exists (any reader)."""
        ...

    def log_origin(self, name: str) -> str | None: ...

    def sequencer_lease(self, name: str) -> AbstractContextManager[Lease]:
        """Hold the right to sequence ``name`` for the duration of the context."""
        ...

    def commit(self, write: BatchWrite) -> None:
        """A commit outside any lease (migration, tests): takes the lease for itself."""
        ...


class Storage(Objects, Indexes, Sequencing, Protocol):
    """A complete driver: the three parts, its capabilities, and ``close``."""

    # Capabilities, declared by every driver (no probing):
    shared: bool
    """Other processes may commit to the same logs (PostgreSQL): the engine re-reads the
    head for readers and sequences under :meth:`sequencer_lease`."""
    detects_duplicates: bool
    """:meth:`Lease.commit` raises :class:`DuplicateLeaves` itself (inside its
    transaction), so the engine skips its separate :meth:`Lease.find_leaves` check."""

    def close(self) -> None: ...


class LocalLease:
    """The lease of a single-process driver (SQLite, memory): the process already is the
    only writer, so reads and the commit go straight to the driver."""

    def __init__(self, storage: Storage, name: str) -> None:
        self._storage, self._name = storage, name

    def head(self) -> TreeHead | None:
        head: TreeHead | None = self._storage.load_head(self._name)
        return head

    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        tiles: dict[TileKey, bytes] = self._storage.read_tiles(self._name, keys)
        return tiles

    def find_leaves(self, leaf_hashes: Sequence[bytes]) -> dict[bytes, int]:
        found: dict[bytes, int] = self._storage.find_leaves(self._name, leaf_hashes)
        return found

    def commit(self, write: BatchWrite) -> None:
        self._storage.commit(write)
