"""The SQLite driver's leaf index (leaf hash -> index), kept in a file of its own.

Why not one ``leaves`` row per entry in each batch transaction: a batch's random 32-byte
keys land all over the index B-tree, so once the index outgrows a batch nearly every index
page is rewritten by every batch, and the per-entry cost grows with the log (13 µs an
entry at a million entries, more than everything else the engine does).

Instead:

- The hashes of the newest entries live in memory, in *runs* of at most ``run_size``
  entries. They are already durable: the level-0 tiles hold every leaf hash, so after a
  crash the runs are rebuilt from the tiles above ``upto``.
- A full run is *merged* into the ``leaves`` table by a background thread, as one sorted
  insert (each index page written once per run), together with the new ``upto``. The table
  lives in its own database file so merges never hold the log database's write lock: they
  run on another core while batches keep committing.
- Lookups read the runs first, then the table. A merge commits the table before it drops
  the run, so every committed leaf is always found in one or the other.

The file is derived data: delete it and the next start rebuilds it from the tiles.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from sceau.errors import InternalError
from sceau.log.sqlite_file import SQLiteFile

log = logging.getLogger("sceau.log")

RUN_SIZE = 65_536  # entries per in-memory run
MAX_SEALED = 2  # full runs waiting for a merge before commits wait for the merger

SCHEMA = """
CREATE TABLE IF NOT EXISTS leaves (
    log INTEGER NOT NULL, hash BLOB NOT NULL, idx INTEGER NOT NULL,
    PRIMARY KEY (log, hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leaf_index (
    log INTEGER PRIMARY KEY, upto INTEGER NOT NULL  -- leaves holds every index below upto
);
"""

_MERGE = """
WITH RECURSIVE n(i) AS (SELECT 0 WHERE ?3 > 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?3)
INSERT OR IGNORE INTO leaves(log, hash, idx)
SELECT ?1, substr(?2, i * 32 + 1, 32), ?4 + i FROM n ORDER BY 2, 3
"""

# (log id, first index, end index) -> the leaf hashes of [first, end), from the level-0 tiles
HashReader = Callable[[int, int, int], list[bytes]]


class _Run:
    """Leaves ``[start, start + n)``: a dict for lookups, their hashes in index order."""

    __slots__ = ("by_hash", "hashes", "start")

    def __init__(self, start: int) -> None:
        self.start = start
        self.by_hash: dict[bytes, int] = {}
        self.hashes = bytearray()  # what a merge inserts (exact even if a leaf repeats)

    def extend(self, leaves: Sequence[tuple[bytes, int]]) -> None:
        """Append leaves that follow the run, in index order (no hash already in the log)."""
        self.by_hash.update(leaves)
        self.hashes += b"".join([lh for lh, _ in leaves])

    @property
    def end(self) -> int:
        return self.start + len(self.hashes) // 32


class _LogRuns:
    """The runs of one log: full ones waiting for the merger, then the one being filled."""

    def __init__(self, upto: int) -> None:
        self.upto = upto  # durable in leaf_index: the table holds every index below it
        self.sealed: tuple[_Run, ...] = ()  # oldest first
        self.current = _Run(upto)

    def snapshot(self) -> tuple[dict[bytes, int], ...]:
        # Attributes are replaced, never mutated in place (but for the current run's dict,
        # which only grows), so readers on other threads see every committed leaf.
        return (self.current.by_hash, *(run.by_hash for run in self.sealed))


class LeafIndex:
    """Leaf hash -> index for every log of one SQLite log database."""

    def __init__(self, path: Path, *, run_size: int = RUN_SIZE) -> None:
        self.path = path
        self.run_size = run_size
        # Derived data: a power cut may drop the newest merges, and upto drops with them.
        self._db = SQLiteFile(path, synchronous="NORMAL")
        self._writer = self._db.writer
        self._writer.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._logs: dict[int, _LogRuns] = {}
        self._merger = ThreadPoolExecutor(1, thread_name_prefix="sceau-leaf-index")
        self._merges: list[Future[None]] = []

    # -- opening --------------------------------------------------------------------

    def open_log(self, log_id: int, size: int, read_hashes: HashReader) -> None:
        """Load the runs of a log of ``size`` entries: the leaves above ``upto``, from tiles.

        Called before anything else touches the log. A missing or stale index file (a new
        database, an upgrade, a deleted file) is rebuilt here, a run at a time.
        """
        row = self._writer.execute("SELECT upto FROM leaf_index WHERE log=?", (log_id,)).fetchone()
        upto = 0 if row is None else row[0]
        if upto > size:  # the log database was restored from an older backup
            log.warning("leaf index of log %d is ahead of the log: rebuilding it", log_id)
            self._writer.execute("DELETE FROM leaves WHERE log=?", (log_id,))
            self._writer.execute("DELETE FROM leaf_index WHERE log=?", (log_id,))
            upto = 0
        if size - upto > self.run_size:
            log.info("log %d: indexing %d leaves from the tiles", log_id, size - upto)
        while size - upto > self.run_size:
            run = _Run(upto)
            run.hashes += b"".join(read_hashes(log_id, upto, upto + self.run_size))
            self._merge_rows(log_id, run)
            upto = run.end
        runs = _LogRuns(upto)
        hashes = read_hashes(log_id, upto, size)
        # reversed: should a leaf appear twice in the tiles, its first index is the one found
        runs.current.by_hash.update(reversed(list(zip(hashes, range(upto, size), strict=True))))
        runs.current.hashes += b"".join(hashes)
        self._logs[log_id] = runs

    # -- lookups --------------------------------------------------------------------

    def find(self, log_id: int, hashes: Sequence[bytes]) -> dict[bytes, int]:
        """Index of each of ``hashes`` that the log holds (any thread)."""
        out: dict[bytes, int] = {}
        runs = self._logs.get(log_id)
        if runs is None:
            raise InternalError(f"leaf index: log {log_id} is not open")
        for run in runs.snapshot():  # the runs before the table; see the module docstring
            for lh in hashes:
                idx = run.get(lh)
                if idx is not None:
                    out[lh] = idx
        rest = sorted(lh for lh in hashes if lh not in out)  # sorted: index pages in order
        if not rest:
            return out
        c = self._db.reader()
        per_statement = max(1, c.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - 1)
        for start in range(0, len(rest), per_statement):
            chunk = rest[start : start + per_statement]
            marks = ",".join("?" * len(chunk))
            for lh, idx in c.execute(
                f"SELECT hash, idx FROM leaves WHERE log=? AND hash IN ({marks})",  # noqa: S608
                (log_id, *chunk),
            ):
                out[bytes(lh)] = idx
        return out

    # -- the writer's side ------------------------------------------------------------

    def make_room(self, log_id: int) -> None:
        """Before a commit: wait while too many full runs wait for the merger.

        Raises if a merge fails, so the batch is refused (nothing written) rather than the
        runs growing without bound; the next batch tries the merge again.
        """
        runs = self._logs[log_id]
        while len(runs.sealed) >= MAX_SEALED:
            pending = [f for f in self._merges if not f.done()]
            self._merges = pending or [self._merger.submit(self._merge_sealed, log_id)]
            self._merges[0].result()

    def add(self, log_id: int, leaves: Sequence[tuple[bytes, int]]) -> None:
        """After a commit: the batch's leaves (in index order) join the current run."""
        runs = self._logs[log_id]
        runs.current.extend(leaves)
        if runs.current.end - runs.current.start >= self.run_size:
            with self._lock:
                full = runs.current
                runs.sealed = (*runs.sealed, full)  # first: a reader always sees it somewhere
                runs.current = _Run(full.end)
            self._merges = [f for f in self._merges if not f.done()]
            self._merges.append(self._merger.submit(self._merge_sealed, log_id))

    def _merge_sealed(self, log_id: int) -> None:
        """Merger thread: write the oldest full run into the table, then drop it."""
        runs = self._logs[log_id]
        if not runs.sealed:
            return
        run = runs.sealed[0]
        try:
            self._merge_rows(log_id, run)
        except BaseException as e:
            log.error("leaf index: merging a run of log %d failed: %s", log_id, e)
            raise
        with self._lock:
            runs.sealed = runs.sealed[1:]  # after the commit: readers find it in the table
            runs.upto = run.end

    def _merge_rows(self, log_id: int, run: _Run) -> None:
        """One transaction: the run's rows and the new ``upto`` (the run's end).

        SQLite splits the run's hashes, sorts and inserts them itself: C, without the GIL,
        so the engine's Python keeps running on the other core.
        """
        c = self._writer
        c.execute("BEGIN IMMEDIATE")
        try:
            c.execute(_MERGE, (log_id, bytes(run.hashes), run.end - run.start, run.start))
            c.execute(
                "INSERT OR REPLACE INTO leaf_index(log, upto) VALUES (?,?)", (log_id, run.end)
            )
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    def flush(self) -> None:
        """Merge every run now (at close, before a migration), waiting for the merger."""
        for f in self._merges:
            f.result()
        self._merges = []
        for log_id, runs in self._logs.items():
            while runs.sealed:
                self._merge_sealed(log_id)
            full = runs.current
            if full.end > full.start:
                self._merge_rows(log_id, full)
                with self._lock:
                    runs.current, runs.upto = _Run(full.end), full.end

    def close(self, *, flush: bool = True) -> None:
        try:
            if flush:
                self.flush()
        except (sqlite3.Error, InternalError) as e:  # the next start rebuilds from the tiles
            log.warning("could not merge the leaf index %s at close: %s", self.path, e)
        finally:
            self._merger.shutdown(wait=True)
            self._db.close()
