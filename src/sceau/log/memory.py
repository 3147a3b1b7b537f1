"""An in-memory storage driver: the contract of :class:`~sceau.log.storage.Storage` and
nothing else, for tests of the engine (``tests/log/test_fault_matrix.py``) and as the
smallest example of a driver.

Durability here means "survives the engine": a new engine opened on the same object sees
exactly what was committed. Each :meth:`MemoryStorage.commit` applies all of a batch or
none of it, as a database transaction would.
"""

from __future__ import annotations

import bisect
import contextlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from sceau.errors import InternalError
from sceau.log.storage import (
    BatchWrite,
    DuplicateLeaves,
    LocalLease,
    StaleHead,
    TileKey,
    TreeHead,
)


@dataclass
class _Log:
    origin: str
    head: TreeHead
    tiles: dict[TileKey, bytes] = field(default_factory=dict)
    leaves: dict[bytes, int] = field(default_factory=dict)
    keys: dict[str, list[int]] = field(default_factory=dict)
    batches: list[tuple[int, int]] = field(default_factory=list)  # (first index, time ms)


class MemoryStorage:
    """Every log in dictionaries, one lock for writers."""

    shared = False
    detects_duplicates = True

    def __init__(self) -> None:
        self._logs: dict[str, _Log] = {}
        self._lock = threading.Lock()

    def _log(self, name: str) -> _Log:
        log = self._logs.get(name)
        if log is None:
            raise InternalError(f"no log named {name!r}")
        return log

    def create_log(self, name: str, origin: str, first: BatchWrite | None) -> None:
        with self._lock:
            if name in self._logs:
                raise InternalError(f"log {name!r} already exists")
            log = _Log(origin, TreeHead(0, b"", "", 0))
            if first is not None:
                self._apply(log, first)
            self._logs[name] = log

    def load_head(self, name: str) -> TreeHead | None:
        log = self._logs.get(name)
        return None if log is None else log.head

    def log_origin(self, name: str) -> str | None:
        log = self._logs.get(name)
        return None if log is None else log.origin

    def commit(self, write: BatchWrite) -> None:
        with self._lock:
            log = self._log(write.log)
            existing = {lh: log.leaves[lh] for lh, _ in write.leaves if lh in log.leaves}
            if existing:
                raise DuplicateLeaves(existing)
            self._apply(log, write)

    @staticmethod
    def _apply(log: _Log, w: BatchWrite) -> None:
        """All of ``w`` or, on a stale head, nothing."""
        if log.head.size != w.old_size:
            raise StaleHead(f"log {w.log}: stored tree head is no longer size {w.old_size}")
        log.tiles.update(w.tiles)
        log.leaves.update(w.leaves)
        for key, index in w.keys:
            indexes = log.keys.setdefault(key, [])
            if index not in indexes:
                bisect.insort(indexes, index)
        if w.head.size > w.old_size:
            log.batches.append((w.old_size, w.head.timestamp_ms))
        log.head = w.head

    def read_tiles(self, name: str, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        tiles = self._log(name).tiles
        return {k: tiles[k] for k in keys if k in tiles}

    def tile_sizes(self, name: str) -> Iterable[tuple[int, int, int]]:
        return [(lvl, idx, len(data)) for (lvl, idx), data in self._log(name).tiles.items()]

    def find_leaves(self, name: str, leaf_hashes: Sequence[bytes]) -> dict[bytes, int]:
        leaves = self._log(name).leaves
        return {lh: leaves[lh] for lh in leaf_hashes if lh in leaves}

    def lookup(self, name: str, key: str, limit: int) -> list[int]:
        return self._log(name).keys.get(key, [])[:limit]

    def batch_time(self, name: str, index: int) -> int | None:
        batches = self._log(name).batches
        at = bisect.bisect_right(batches, (index, 1 << 62)) - 1
        return None if at < 0 else batches[at][1]

    @contextlib.contextmanager
    def sequencer_lease(self, name: str) -> Iterator[LocalLease]:
        yield LocalLease(self, name)

    def close(self) -> None:
        """Nothing to release: the data stays for the next engine opened on this object."""
