"""Copy every log from a SQLite database to PostgreSQL, verbatim, then check the copy.

Used by ``sceau migrate``. The rows are copied as they are (tiles, entry bundles, leaf
index, search terms, batch times, head and its signed checkpoint), one PostgreSQL
transaction per log, so a log is either fully copied or not at all. The source must not
be in use: the SQLite driver holds its lock for the duration, and first merges its
in-memory leaf-index run so the ``leaves`` table is complete. Afterwards every log
is read back from PostgreSQL: row counts and a digest of every table must match the
source, and the right-edge tiles must give the stored root hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sceau.errors import Conflict, InputError, InternalError
from sceau.log.integrate import TreeEdge, TreeHasher

TABLES = {  # table -> columns after ``log``, in primary-key order
    "tiles": ("level", "idx", "data"),
    "leaves": ("hash", "idx"),
    "search": ("key", "idx"),
    "batches": ("first", "timestamp_ms"),
}
# Byte order on both sides (SQLite's BINARY collation; PostgreSQL's "C").
_ORDER = {
    "tiles": "level, idx",
    "leaves": "hash",
    "search": 'key COLLATE "C", idx',
    "batches": "first",
}


@dataclass(frozen=True)
class MigratedLog:
    name: str
    size: int
    rows: dict[str, int]


@contextlib.contextmanager
def _source_lock(path: Path) -> Iterator[Path]:
    """Hold the SQLite driver (and its lock): refuse while a server has the database open.

    Opening it also completes the ``leaves`` table (the driver merges its leaf-index run).
    """
    from sceau.log.sqlite import DatabaseInUse, SQLiteStorage

    try:
        store = SQLiteStorage(path, create=False)
    except DatabaseInUse:
        raise Conflict(f"{path} is in use: stop the instance before migrating") from None
    try:
        store.merge_leaf_index()
        yield store.index_path
    finally:
        store.close()


def _digest(rows: Iterator[tuple[object, ...]]) -> tuple[int, str]:
    h, n = hashlib.sha256(), 0
    for row in rows:
        n += 1
        for v in row:
            b = bytes(v) if isinstance(v, bytes | bytearray | memoryview) else str(v).encode()
            h.update(len(b).to_bytes(4, "big") + b)
    return n, h.hexdigest()


def migrate_sqlite_to_postgres(
    sqlite_path: str | os.PathLike[str],
    dsn: str,
    *,
    schema: str | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> list[MigratedLog]:
    """Copy every log of ``sqlite_path`` into PostgreSQL at ``dsn``; return what was copied."""
    import psycopg

    from sceau.log.postgres import PostgresStorage

    path = Path(sqlite_path)
    if not path.exists():
        raise InputError(f"{path} does not exist: nothing to migrate")
    with _source_lock(path) as index_path:
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        # The leaf index has a file of its own; attached, its ``leaves`` reads like a table here.
        src.execute("ATTACH DATABASE ? AS leaf_index", (f"file:{index_path}?mode=ro",))
        target = PostgresStorage(dsn, schema=schema, application_name="sceau-migrate")
        try:
            logs = src.execute(
                "SELECT id, name, origin, size, root, note, timestamp_ms FROM logs ORDER BY id"
            ).fetchall()
            done = []
            for log_id, name, origin, size, root, note, ts in logs:
                if target.load_head(name) is not None:
                    raise Conflict(f"log {name!r} already exists in the target database")
                w = target._writer_conn()
                rows: dict[str, int] = {}
                try:
                    with w.transaction():
                        new_id = w.execute(
                            "INSERT INTO logs(name, origin, size, root, note, timestamp_ms)"
                            " VALUES (%s,%s,%s,%s,%s,%s) RETURNING id",
                            (name, origin, size, bytes(root), note, ts),
                        ).fetchone()
                        assert new_id is not None  # RETURNING always yields the row
                        new_id = new_id[0]
                        for table, cols in TABLES.items():
                            rows[table] = _copy_table(src, w, table, cols, log_id, new_id)
                except psycopg.Error as e:
                    raise InternalError(f"copying log {name!r} failed: {e}") from e
                progress(f"log {name}: size {size}, " + ", ".join(f"{rows[t]} {t}" for t in rows))
                _verify(src, target, log_id, name, bytes(root), size)
                done.append(MigratedLog(name, size, rows))
            return done
        finally:
            src.close()
            target.close()


def _copy_table(src, w, table: str, cols: tuple[str, ...], old_id: int, new_id: int) -> int:  # type: ignore[no-untyped-def]
    select = f"SELECT {', '.join(cols)} FROM {table} WHERE log=?"  # noqa: S608 - fixed names
    n = 0
    with w.cursor().copy(f"COPY {table} (log, {', '.join(cols)}) FROM STDIN") as copy:
        for row in src.execute(select, (old_id,)):
            copy.write_row((new_id, *(bytes(v) if isinstance(v, bytes) else v for v in row)))
            n += 1
    return n


def _verify(src, target, old_id: int, name: str, root: bytes, size: int) -> None:  # type: ignore[no-untyped-def]
    """The copy must hold the same rows, and its tiles must give the signed root."""
    new_id = target._id(name)
    for table, cols in TABLES.items():
        order = _ORDER[table]
        select = f"SELECT {', '.join(cols)} FROM {table} WHERE log=%s ORDER BY {order}"  # noqa: S608
        lite = select.replace("%s", "?").replace(' COLLATE "C"', "")
        want = _digest(iter(src.execute(lite, (old_id,))))
        got = _digest(iter(target._query(select, (new_id,))))
        if want != got:
            raise InternalError(
                f"log {name!r}: table {table} differs after the copy "
                f"({want[0]} rows in SQLite, {got[0]} in PostgreSQL)"
            )
    head = target.load_head(name)
    if head is None or (head.size, head.root_hash) != (size, root):
        raise InternalError(f"log {name!r}: the copied tree head differs")

    def load(key: tuple[int, int]) -> bytes:
        data = target.read_tiles(name, [key]).get(key)
        if data is None:
            raise InternalError(f"log {name!r}: tile {key[0]}/{key[1]} is missing in the copy")
        tile: bytes = data
        return tile

    if size:
        edge = TreeEdge.load(size, load)
        tiles = {(lvl, i): h for lvl, (i, h) in edge.tiles.items()}
        if TreeHasher(size, tiles, load).root() != root:
            raise InternalError(f"log {name!r}: the copied tiles do not give the signed root")
