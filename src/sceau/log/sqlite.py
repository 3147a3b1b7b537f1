"""SQLite storage driver: the embedded default (WAL, synchronous=FULL).

One database file holds every log of an engine. The writer connection is used only by
the engine's sequencing thread; each reader thread gets its own connection (WAL lets
readers run beside the writer). A batch is one transaction, so one fsync per batch.

The leaf index (leaf hash -> index) lives beside it, in ``<name>-leaves.sqlite``, and is
written in sorted runs by a background thread: see :mod:`sceau.log.leafindex`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from sceau.errors import InternalError
from sceau.log.leafindex import RUN_SIZE, LeafIndex
from sceau.log.sqlite_file import SQLiteFile
from sceau.log.storage import (
    BatchWrite,
    DuplicateLeaves,
    LocalLease,
    StaleHead,
    TileKey,
    TreeHead,
)
from sceau.merkle.tiles import TILE_HEIGHT, TILE_WIDTH

SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    origin TEXT NOT NULL,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tiles (
    log INTEGER NOT NULL, level INTEGER NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (log, level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS search (
    log INTEGER NOT NULL, key TEXT NOT NULL, idx INTEGER NOT NULL,
    PRIMARY KEY (log, key, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
    log INTEGER NOT NULL, first INTEGER NOT NULL, timestamp_ms INTEGER NOT NULL,
    PRIMARY KEY (log, first)
) WITHOUT ROWID;
"""


def _insert_rows(c: sqlite3.Connection, head: str, rows: Sequence[tuple[object, ...]]) -> int:
    """Insert many rows with multi-row VALUES statements; returns how many were inserted.

    As few statements as SQLite's variable limit allows instead of one per row: each
    statement step releases and re-takes the GIL, and under load that hand-off, not SQLite,
    bounds the batch time.
    """
    if not rows:
        return 0
    width = len(rows[0])
    per_statement = max(1, c.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width)
    one = "(" + ",".join("?" * width) + ")"
    total = 0
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        params = [value for row in chunk for value in row]
        cur = c.execute(head + ",".join([one] * len(chunk)), params)
        total += cur.rowcount
    return total


class DatabaseInUse(InternalError):
    """Another process holds the database (a running instance)."""


class SQLiteStorage:
    """A :class:`~sceau.log.storage.Storage` in one SQLite file (and its leaf-index file)."""

    detects_duplicates = True  # commit() raises DuplicateLeaves instead of a pre-check
    shared = False

    def __init__(
        self, path: str | os.PathLike[str], *, create: bool = True, leaf_run: int = RUN_SIZE
    ) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise InternalError(f"log database {self.path} does not exist (run `sceau init`)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One sequencing process per database file: the lock is held while we are open.
        self._lock_fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise DatabaseInUse(f"log database {self.path} is in use by another process") from None
        self._ids: dict[str, int] = {}
        self._db = SQLiteFile(self.path, synchronous="FULL")
        self._writer = self._db.writer
        try:
            self._writer.executescript(SCHEMA)
            self.leaf_index = LeafIndex(self.index_path, run_size=leaf_run)
            try:
                for log_id, size in self._writer.execute("SELECT id, size FROM logs").fetchall():
                    self.leaf_index.open_log(log_id, size, self._leaf_hashes)
            except BaseException:
                self.leaf_index.close(flush=False)
                raise
            # Databases from before the separate index file kept a leaves table here.
            self._writer.execute("DROP TABLE IF EXISTS leaves")
        except BaseException:
            self._db.close()
            os.close(self._lock_fd)
            raise

    @property
    def index_path(self) -> Path:
        return self.path.with_name(f"{self.path.stem}-leaves{self.path.suffix}")

    def _id(self, name: str) -> int:
        log_id = self._ids.get(name)
        if log_id is None:
            row = self._db.reader().execute("SELECT id FROM logs WHERE name=?", (name,)).fetchone()
            if row is None:
                raise InternalError(f"no log named {name!r} in {self.path}")
            log_id = self._ids[name] = row[0]
        return log_id

    # -- writer -----------------------------------------------------------------------

    def create_log(self, name: str, origin: str, first: BatchWrite | None) -> None:
        c = self._writer
        c.execute("BEGIN IMMEDIATE")
        try:
            c.execute(
                "INSERT INTO logs(name, origin, size, root, note, timestamp_ms)"
                " VALUES (?,?,?,?,?,?)",
                (name, origin, 0, b"", "", 0),
            )
            log_id = c.execute("SELECT id FROM logs WHERE name=?", (name,)).fetchone()[0]
            if first is not None:
                self._write_batch(c, first, log_id)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        self.leaf_index.open_log(log_id, first.head.size if first else 0, self._leaf_hashes)

    def commit(self, write: BatchWrite) -> None:
        c = self._writer
        log_id = self._id(write.log)
        self.leaf_index.make_room(log_id)
        c.execute("BEGIN IMMEDIATE")
        try:
            existing = self.leaf_index.find(log_id, [lh for lh, _ in write.leaves])
            if existing:  # some leaves are already in the log: write nothing
                raise DuplicateLeaves(existing)
            self._write_batch(c, write, log_id)
            # Commit point: once COMMIT returns (synchronous=FULL, WAL fsynced) the batch and
            # its head are durable together; a crash before it leaves the previous head and
            # none of this batch's rows.
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        # Before the engine acknowledges anything of the batch, so it can be looked up.
        self.leaf_index.add(log_id, write.leaves)

    def _write_batch(self, c: sqlite3.Connection, w: BatchWrite, log_id: int) -> None:
        h = w.head
        cur = c.execute(
            "UPDATE logs SET size=?, root=?, note=?, timestamp_ms=? WHERE id=? AND size=?",
            (h.size, h.root_hash, h.note, h.timestamp_ms, log_id, w.old_size),
        )
        if cur.rowcount != 1:
            raise StaleHead(f"log {w.log}: stored tree head is no longer size {w.old_size}")
        _insert_rows(
            c,
            "INSERT OR REPLACE INTO tiles(log, level, idx, data) VALUES ",
            [(log_id, lvl, idx, data) for (lvl, idx), data in w.tiles.items()],
        )
        if w.keys:
            _insert_rows(
                c,
                "INSERT OR IGNORE INTO search(log, key, idx) VALUES ",
                [(log_id, k, idx) for k, idx in w.keys],
            )
        if h.size > w.old_size:
            c.execute(
                "INSERT OR REPLACE INTO batches(log, first, timestamp_ms) VALUES (?,?,?)",
                (log_id, w.old_size, h.timestamp_ms),
            )

    def _leaf_hashes(self, log_id: int, start: int, end: int) -> list[bytes]:
        """Leaf hashes of ``[start, end)`` from the level-0 tiles (rebuilding the index)."""
        out: list[bytes] = []
        for tile in range(start >> TILE_HEIGHT, ((end - 1) >> TILE_HEIGHT) + 1 if end else 0):
            row = self._writer.execute(
                "SELECT data FROM tiles WHERE log=? AND level=0 AND idx=?", (log_id, tile)
            ).fetchone()
            data = row[0] if row is not None and isinstance(row[0], bytes) else b""
            first = tile << TILE_HEIGHT
            lo, hi = max(start, first) - first, min(end, first + TILE_WIDTH) - first
            if len(data) < hi * 32:
                raise InternalError(f"log database {self.path} is damaged: tile 0/{tile} is short")
            out += [data[i * 32 : i * 32 + 32] for i in range(lo, hi)]
        return out

    def merge_leaf_index(self) -> None:
        """Write every in-memory leaf-index run to the index file (before a migration)."""
        self.leaf_index.flush()

    @contextlib.contextmanager
    def sequencer_lease(self, name: str) -> Iterator[LocalLease]:
        # The file lock taken in __init__ already makes this process the only writer.
        yield LocalLease(self, name)

    # -- readers ----------------------------------------------------------------------

    def load_head(self, name: str) -> TreeHead | None:
        row = (
            self._db.reader()
            .execute("SELECT size, root, note, timestamp_ms FROM logs WHERE name=?", (name,))
            .fetchone()
        )
        if row is None:
            return None
        return TreeHead(row[0], bytes(row[1]), row[2], row[3])

    def log_origin(self, name: str) -> str | None:
        row = self._db.reader().execute("SELECT origin FROM logs WHERE name=?", (name,)).fetchone()
        return None if row is None else row[0]

    def read_tiles(self, name: str, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        log_id = self._id(name)
        conn = self._db.reader()
        out: dict[TileKey, bytes] = {}
        for lvl, idx in keys:
            row = conn.execute(
                "SELECT data FROM tiles WHERE log=? AND level=? AND idx=?", (log_id, lvl, idx)
            ).fetchone()
            if row is not None:
                if not isinstance(row[0], bytes):  # hand-edited or damaged database
                    raise InternalError(
                        f"log {name!r} is damaged: tile {lvl}/{idx} is not stored as bytes"
                    )
                out[(lvl, idx)] = row[0]
        return out

    def tile_sizes(self, name: str) -> Iterable[tuple[int, int, int]]:
        return (
            self._db.reader()
            .execute("SELECT level, idx, length(data) FROM tiles WHERE log=?", (self._id(name),))
            .fetchall()
        )

    def find_leaves(self, name: str, leaf_hashes: Sequence[bytes]) -> dict[bytes, int]:
        if not leaf_hashes:
            return {}
        return self.leaf_index.find(self._id(name), leaf_hashes)

    def lookup(self, name: str, key: str, limit: int) -> list[int]:
        rows = (
            self._db.reader()
            .execute(
                "SELECT idx FROM search WHERE log=? AND key=? ORDER BY idx LIMIT ?",
                (self._id(name), key, limit),
            )
            .fetchall()
        )
        return [r[0] for r in rows]

    def batch_time(self, name: str, index: int) -> int | None:
        row = (
            self._db.reader()
            .execute(
                "SELECT timestamp_ms FROM batches WHERE log=? AND first<=?"
                " ORDER BY first DESC LIMIT 1",
                (self._id(name), index),
            )
            .fetchone()
        )
        return None if row is None else row[0]

    def close(self) -> None:
        self.leaf_index.close()
        self._db.close()
        os.close(self._lock_fd)
