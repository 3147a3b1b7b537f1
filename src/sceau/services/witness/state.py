"""The witness's memory: the latest cosigned checkpoint of each log, in SQLite.

The check of ``old size`` against the stored size and the update happen in one
``BEGIN IMMEDIATE`` transaction (tlog-witness: otherwise two concurrent requests could roll
the record back), durably (``synchronous=FULL``) before the cosignature is returned.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root_hash BLOB NOT NULL,
    note TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
)
"""


@dataclass(frozen=True)
class Stored:
    """What the witness last cosigned for one origin."""

    size: int
    root_hash: bytes
    note: str


class WitnessState:
    """One SQLite file; every call is serialised (a witness does little work per request)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        new = not self.path.exists()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if new:
            os.chmod(self.path, 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()

    def get(self, origin: str) -> Stored | None:
        with self._lock:
            return self._get(origin)

    def _get(self, origin: str) -> Stored | None:
        row = self._db.execute(
            "SELECT size, root_hash, note FROM checkpoints WHERE origin = ?", (origin,)
        ).fetchone()
        return Stored(int(row[0]), bytes(row[1]), str(row[2])) if row else None

    def update(self, origin: str, decide: Callable[[Stored | None], tuple[Stored, _T]]) -> _T:
        """Atomically: read ``origin``'s record, let ``decide`` check it and return the new
        one (or raise, leaving it unchanged), write it, commit."""
        with self._lock, self._transaction():
            new, result = decide(self._get(origin))
            self._db.execute(
                "INSERT INTO checkpoints (origin, size, root_hash, note, updated_ms) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(origin) DO UPDATE SET size = excluded.size, "
                "root_hash = excluded.root_hash, note = excluded.note, "
                "updated_ms = excluded.updated_ms",
                (origin, new.size, new.root_hash, new.note, time.time_ns() // 1_000_000),
            )
            return result

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
