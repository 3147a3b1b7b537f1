"""PostgreSQL storage driver: one database shared by any number of API processes and hosts.

Every process runs a full :class:`~sceau.log.engine.LogEngine` on the same database and
sequences its *own* pool of appends; the processes take turns per batch. No leader
election and no forwarding: the turn is a transaction-scoped advisory lock.

The sequencer lease (:meth:`PostgresStorage.sequencer_lease`) opens a transaction on the
writer connection and takes ``pg_advisory_xact_lock(key(schema, log))``. Under it the
engine re-reads the stored head (catching up on tiles another process wrote), integrates,
signs, and :meth:`commit` writes tiles, bundles, leaf index, search keys, batch time and the
head **in that same transaction**, with ``synchronous_commit=on``. COMMIT releases the lock.
Because the lock lives and dies with the transaction:

- a process that is killed (or whose host vanishes) loses its lock with its transaction,
  and nothing of its half-done batch is visible; the next process in the lock queue goes
  on at once (failover without timeouts — ``idle_in_transaction_session_timeout`` and TCP
  keepalives bound a *frozen* holder or a silent network);
- a lock cannot be lost while the commit still succeeds (they are one transaction), and
  the compare-and-swap on the old size fences anything else.

A batch costs three round trips under the lock: BEGIN + lock + head read (+ the new
right-edge tiles if another process moved the head) in one pipeline, the dedup probe, and
the whole batch as one CAS-guarded statement + COMMIT in one pipeline.

Readers (tiles, proofs, lookups, search) use one autocommit connection per reader thread
and reconnect once if the server dropped it. With ``read_dsn`` (a streaming replica), full
tiles, leaf lookups and search go to the replica; heads, batch times, missing or partial
tiles, and every read the sequencer makes under its lease go to the primary, so a reply
never depends on how far the replica lags.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sceau.errors import InternalError
from sceau.log.integrate import ENTRIES, split_bundle
from sceau.log.storage import BatchWrite, StaleHead, TileKey, TreeHead
from sceau.merkle import EMPTY_ROOT
from sceau.merkle.tiles import TILE_WIDTH

try:
    import psycopg
    from psycopg import sql
    from psycopg.pq import TransactionStatus
except ImportError as e:  # pragma: no cover - psycopg is an optional dependency
    raise InternalError(
        "the PostgreSQL driver needs psycopg 3: pip install 'sceau[postgres]'"
    ) from e

log = logging.getLogger("sceau.log.postgres")

SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    origin TEXT NOT NULL,
    size BIGINT NOT NULL,
    root BYTEA NOT NULL,
    note TEXT NOT NULL,
    timestamp_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS tiles (
    log BIGINT NOT NULL REFERENCES logs(id), level INTEGER NOT NULL, idx BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (log, level, idx)
);
ALTER TABLE tiles ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE TABLE IF NOT EXISTS leaves (
    log BIGINT NOT NULL REFERENCES logs(id), hash BYTEA NOT NULL, idx BIGINT NOT NULL,
    PRIMARY KEY (log, hash)
);
CREATE TABLE IF NOT EXISTS search (
    log BIGINT NOT NULL REFERENCES logs(id), key TEXT NOT NULL, idx BIGINT NOT NULL,
    PRIMARY KEY (log, key, idx)
);
CREATE TABLE IF NOT EXISTS batches (
    log BIGINT NOT NULL REFERENCES logs(id), first BIGINT NOT NULL, timestamp_ms BIGINT NOT NULL,
    PRIMARY KEY (log, first)
);
"""

TABLES = ("logs", "tiles", "leaves", "search", "batches")
HEAD_SQL = "SELECT size, root, note, timestamp_ms FROM logs WHERE name=%s"

# The right edge of the stored tree (the rightmost tile per level, 8 = tile height, and the
# rightmost entry bundle), only if the stored size is not the one given.
EDGE_SQL = """
SELECT k.level, k.idx, t.data
FROM logs g
CROSS JOIN LATERAL (
    SELECT l AS level, ((g.size >> (8 * l)) - 1) >> 8 AS idx
    FROM generate_series(0, 7) AS l WHERE (g.size >> (8 * l)) > 0
    UNION ALL
    SELECT -1, (g.size - 1) >> 8 WHERE g.size > 0
) AS k
JOIN tiles t ON t.log = g.id AND t.level = k.level AND t.idx = k.idx
WHERE g.name = %s AND g.size <> %s
"""

# One batch in one statement. Every insert joins on the CAS-guarded head update, so if the
# stored size is no longer ``old`` nothing at all is written; the result is 1 or 0.
COMMIT_SQL = """
WITH head AS (
    UPDATE logs SET size=%(size)s, root=%(root)s, note=%(note)s, timestamp_ms=%(ts)s
    WHERE id=%(log)s AND size=%(old)s RETURNING id
), t AS (
    INSERT INTO tiles(log, level, idx, data)
    SELECT head.id, k.level, k.idx, k.data
    FROM head, unnest(%(t_level)s::int[], %(t_idx)s::bigint[], %(t_data)s::bytea[])
        AS k(level, idx, data)
    ON CONFLICT (log, level, idx) DO UPDATE SET data = EXCLUDED.data
), l AS (
    INSERT INTO leaves(log, hash, idx)
    SELECT head.id, k.hash, k.idx
    FROM head, unnest(%(l_hash)s::bytea[], %(l_idx)s::bigint[]) AS k(hash, idx)
    ON CONFLICT DO NOTHING
), s AS (
    INSERT INTO search(log, key, idx)
    SELECT head.id, k.key, k.idx
    FROM head, unnest(%(s_key)s::text[], %(s_idx)s::bigint[]) AS k(key, idx)
    ON CONFLICT DO NOTHING
), b AS (
    INSERT INTO batches(log, first, timestamp_ms)
    SELECT head.id, %(old)s, %(ts)s FROM head WHERE %(grew)s
    ON CONFLICT (log, first) DO UPDATE SET timestamp_ms = EXCLUDED.timestamp_ms
)
SELECT count(*)::int FROM head
"""


def _commit_params(w: BatchWrite, log_id: int) -> dict[str, Any]:
    h, keys = w.head, list(w.tiles)
    return {
        "size": h.size,
        "root": h.root_hash,
        "note": h.note,
        "ts": h.timestamp_ms,
        "log": log_id,
        "old": w.old_size,
        "grew": h.size > w.old_size,
        "t_level": [k[0] for k in keys],
        "t_idx": [k[1] for k in keys],
        "t_data": [w.tiles[k] for k in keys],
        "l_hash": [lh for lh, _ in w.leaves],
        "l_idx": [i for _, i in w.leaves],
        "s_key": [k for k, _ in w.keys],
        "s_idx": [i for _, i in w.keys],
    }


def _full(key: TileKey, data: bytes) -> bool:
    """Whether a stored tile or entry bundle is complete (then it never changes again)."""
    if key[0] == ENTRIES:
        return len(split_bundle(data)) == TILE_WIDTH
    return len(data) == TILE_WIDTH * 32


def _head(row: Sequence[Any] | None) -> TreeHead | None:
    if row is None:
        return None
    size, root, note, ts = row
    return TreeHead(int(size), bytes(root), str(note), int(ts))


def lock_key(schema: str, name: str) -> int:
    """The 64-bit advisory lock key of log ``name`` in ``schema`` (stable across versions)."""
    digest = hashlib.sha256(f"sceau-log\0{schema}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# A primary-key probe per key or hash, whatever the table statistics say (a plain ``= ANY``
# may scan the log's whole index while the statistics are young).
TILES_SQL = (
    "SELECT k.level, k.idx, (SELECT data FROM tiles t WHERE t.log=%s"
    " AND t.level=k.level AND t.idx=k.idx) FROM unnest(%s::int[], %s::bigint[])"
    " AS k(level, idx)"
)
LEAVES_SQL = (
    "SELECT h.hash, (SELECT idx FROM leaves l WHERE l.log=%s AND l.hash=h.hash)"
    " FROM unnest(%s::bytea[]) AS h(hash)"
)


def _tile_params(log_id: int, keys: Sequence[TileKey]) -> tuple[Any, ...]:
    return (log_id, [k[0] for k in keys], [k[1] for k in keys])


class PostgresLease:
    """The sequencer's lease on one log: the writer connection's open transaction, which
    holds the log's advisory lock. Its reads run in that transaction on the primary; the
    edge tiles read with the lock are served from memory."""

    def __init__(
        self,
        storage: PostgresStorage,
        conn: psycopg.Connection[Any],
        name: str,
        head: TreeHead | None,
        edge_tiles: dict[TileKey, bytes],
    ) -> None:
        self._storage, self._conn, self._name = storage, conn, name
        self._head, self._edge_tiles = head, edge_tiles
        self._done = False

    def _rows(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(query, params).fetchall()
        except psycopg.Error as e:
            raise InternalError(f"PostgreSQL read failed: {e}") from e

    def head(self) -> TreeHead | None:
        return self._head

    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        wanted = list(keys)
        if all(k in self._edge_tiles for k in wanted):
            return {k: self._edge_tiles[k] for k in wanted}
        log_id = self._storage._id(self._name)
        rows = self._rows(TILES_SQL, _tile_params(log_id, wanted))
        return {(int(lvl), int(idx)): bytes(data) for lvl, idx, data in rows if data is not None}

    def find_leaves(self, leaf_hashes: Sequence[bytes]) -> dict[bytes, int]:
        if not leaf_hashes:
            return {}
        rows = self._rows(LEAVES_SQL, (self._storage._id(self._name), list(leaf_hashes)))
        return {bytes(lh): int(idx) for lh, idx in rows if idx is not None}

    def commit(self, write: BatchWrite) -> None:
        """The batch's commit point; it also ends the transaction, and with it the lock."""
        if write.log != self._name:
            raise InternalError(f"a lease on {self._name} cannot commit to {write.log}")
        if self._done:
            raise InternalError(f"log {self._name}: this lease already committed its batch")
        self._done, self._edge_tiles = True, {}
        self._storage._commit_in(self._conn, write)
        self._head = write.head


class PostgresStorage:
    """A :class:`~sceau.log.storage.Storage` in one PostgreSQL database (optionally a schema).

    ``dsn``: a libpq URI or key/value string. ``schema``: keep sceau's tables in this
    schema (created if missing) instead of the connection's default. ``create=False``
    refuses a database where the tables do not exist yet. ``read_dsn``: a streaming
    replica for the bulk reads that tolerate lag (see :meth:`read_tiles`).
    """

    shared = True  # other processes write too: the engine re-reads the head for readers
    detects_duplicates = False

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        create: bool = True,
        application_name: str = "sceau",
        stuck_holder_timeout_s: int = 30,
        connect_timeout_s: int = 10,
        read_dsn: str | None = None,
    ) -> None:
        self.dsn = dsn
        self.read_dsn = read_dsn
        self.schema = schema
        self.application_name = application_name
        self._stuck_timeout = stuck_holder_timeout_s
        self._connect_timeout = connect_timeout_s
        self._local = threading.local()
        self._readers: list[psycopg.Connection[Any]] = []
        self._readers_lock = threading.Lock()
        self._wlock = threading.RLock()
        self._known: dict[str, int] = {}  # log -> size after our last commit or lease
        self._replica_off_until = 0.0
        self._ids: dict[str, int] = {}
        self._writer: psycopg.Connection[Any] | None = None
        w = self._writer_conn()
        current = w.execute("SELECT current_schema()").fetchone()
        self._schema_name = schema or str(current[0] if current else "public")
        if create:
            self._create_schema(w)
        elif not self._tables_exist(w):
            where = f"schema {schema!r}" if schema else "the database"
            raise InternalError(f"no sceau log tables in {where} (run `sceau init`)")

    # -- connections ------------------------------------------------------------------

    def _connect(self, role: str, dsn: str | None = None) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(
                dsn or self.dsn,
                autocommit=True,
                application_name=f"{self.application_name}:{role}",
                connect_timeout=self._connect_timeout,
                keepalives=1,
                keepalives_idle=10,
                keepalives_interval=3,
                keepalives_count=3,
            )
        except psycopg.Error as e:
            raise InternalError(f"cannot connect to PostgreSQL: {e}") from e
        if self.schema:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        return conn

    def _writer_conn(self) -> psycopg.Connection[Any]:
        conn = self._writer
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                conn.close()
            conn = self._writer = self._connect("writer")
            # Durable at COMMIT, whatever the server default; a holder that freezes inside
            # its transaction is cut off (and its lock released) after the timeout; the
            # server notices a vanished client host through keepalives.
            conn.execute("SET synchronous_commit TO on")
            conn.execute(
                sql.SQL("SET idle_in_transaction_session_timeout TO {}").format(
                    sql.Literal(f"{self._stuck_timeout}s")
                )
            )
            for k, v in (("idle", 10), ("interval", 3), ("count", 3)):
                conn.execute(
                    sql.SQL("SET {} TO {}").format(
                        sql.Identifier(f"tcp_keepalives_{k}"), sql.Literal(v)
                    )
                )
        return conn

    def _reader(self, replica: bool = False) -> psycopg.Connection[Any]:
        replica = replica and self.read_dsn is not None
        attr = "replica" if replica else "conn"
        conn = getattr(self._local, attr, None)
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                with self._readers_lock:
                    self._readers.remove(conn)
                conn.close()
            role = "replica-reader" if replica else "reader"
            conn = self._connect(role, self.read_dsn if replica else None)
            setattr(self._local, attr, conn)
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def _query(
        self, query: str, params: Sequence[Any] = (), *, replica: bool = False
    ) -> list[tuple[Any, ...]]:
        """Run a read on this thread's reader connection (the replica if asked for and
        configured); reconnect once if the server dropped the connection. The sequencer's
        own reads go through its :class:`PostgresLease` instead."""
        if replica and self.read_dsn is not None and time.monotonic() >= self._replica_off_until:
            try:
                return self._reader(True).execute(query, params).fetchall()
            except (psycopg.Error, InternalError) as e:
                # The replica is an optimisation: down, or behind the schema -> the primary
                # (and leave the replica alone for a few seconds).
                log.warning("replica read failed (%s); reading from the primary", e)
                self._replica_off_until = time.monotonic() + 5
        for attempt in (0, 1):
            conn = self._reader()
            try:
                return conn.execute(query, params).fetchall()
            except (psycopg.OperationalError, psycopg.InterfaceError) as e:
                if not (conn.closed or conn.broken) or attempt:
                    raise InternalError(f"PostgreSQL read failed: {e}") from e
                log.warning("reader connection lost (%s); reconnecting", e)
        raise AssertionError("unreachable")

    def _create_schema(self, w: psycopg.Connection[Any]) -> None:
        # Several processes may start at once: serialise DDL under a lock of its own.
        with w.transaction():
            w.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(self._schema_name, ""),))
            if self.schema:
                w.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
                )
            for stmt in SCHEMA.split(";"):
                if stmt.strip():
                    w.execute(stmt)

    def _tables_exist(self, w: psycopg.Connection[Any]) -> bool:
        row = w.execute("SELECT to_regclass('logs') IS NOT NULL").fetchone()
        return bool(row and row[0])

    def _id(self, name: str) -> int:
        log_id = self._ids.get(name)
        if log_id is None:
            rows = self._query("SELECT id FROM logs WHERE name=%s", (name,))
            if not rows:
                raise InternalError(f"no log named {name!r} in the database")
            log_id = self._ids[name] = int(rows[0][0])
        return log_id

    def lock_key(self, name: str) -> int:
        return lock_key(self._schema_name, name)

    # -- writer -----------------------------------------------------------------------

    def create_log(self, name: str, origin: str, first: BatchWrite | None) -> None:
        """Create ``name`` unless another process just did (then theirs stands)."""
        with self._wlock:
            w = self._writer_conn()
            try:
                with w.transaction():
                    w.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock_key(name),))
                    row = w.execute(
                        "INSERT INTO logs(name, origin, size, root, note, timestamp_ms)"
                        " VALUES (%s,%s,0,%s,'',0)"
                        " ON CONFLICT (name) DO NOTHING RETURNING id",
                        (name, origin, EMPTY_ROOT),
                    ).fetchone()
                    if row is not None and first is not None:
                        done = w.execute(COMMIT_SQL, _commit_params(first, int(row[0])))
                        if done.fetchone() != (1,):
                            raise InternalError(f"log {name}: first batch was not written")
            except psycopg.Error as e:
                raise InternalError(f"cannot create log {name!r}: {e}") from e

    @contextlib.contextmanager
    def sequencer_lease(self, name: str) -> Iterator[PostgresLease]:
        """Open the batch transaction and wait for this log's advisory lock inside it."""
        with self._wlock:
            w = self._writer_conn()
            try:
                # One round trip: begin, wait for the lock, read the head it protects and, if
                # another process moved it since we last wrote, the new right-edge tiles the
                # engine is about to load.
                with w.pipeline():
                    w.execute("BEGIN")
                    w.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock_key(name),))
                    cur = w.execute(HEAD_SQL, (name,))
                    edge = w.execute(EDGE_SQL, (name, self._known.get(name, -1)))
                row = cur.fetchone()
                tiles = {(int(a), int(b)): bytes(d) for a, b, d in edge.fetchall()}
            except psycopg.Error as e:
                self._abort(w)
                raise InternalError(f"log {name}: cannot take the sequencer lock: {e}") from e
            head = _head(row)
            if head is not None:
                self._known[name] = head.size  # the engine catches up to it in this lease
            try:
                yield PostgresLease(self, w, name, head, tiles)
            finally:
                if w.info.transaction_status != TransactionStatus.IDLE:
                    self._abort(w)  # no commit happened (nothing to write, or an error)

    def _abort(self, w: psycopg.Connection[Any]) -> None:
        try:
            w.execute("ROLLBACK")
        except psycopg.Error:
            w.close()  # broken: the next batch reconnects

    def commit(self, write: BatchWrite) -> None:
        """A commit outside a lease takes the log's lock in its own transaction."""
        with self.sequencer_lease(write.log) as lease:
            lease.commit(write)

    def _commit_in(self, w: psycopg.Connection[Any], write: BatchWrite) -> None:
        """The batch as one statement then COMMIT, in ``w``'s open (locked) transaction."""
        log_id = self._id(write.log)
        try:
            # One round trip. If the CAS on the old size fails, the statement writes nothing.
            with w.pipeline():
                cur = w.execute(COMMIT_SQL, _commit_params(write, log_id))
                # Commit point: COMMIT returns once the WAL record is flushed
                # (synchronous_commit=on); before it, none of the batch is visible.
                w.execute("COMMIT")
            row = cur.fetchone()
        except psycopg.Error as e:
            self._abort(w)
            raise InternalError(f"log {write.log}: commit failed: {e}") from e
        if row != (1,):
            raise StaleHead(f"log {write.log}: stored tree head is no longer size {write.old_size}")
        self._known[write.log] = write.head.size

    # -- readers ----------------------------------------------------------------------

    def load_head(self, name: str) -> TreeHead | None:
        rows = self._query(HEAD_SQL, (name,))
        return _head(rows[0] if rows else None)

    def log_origin(self, name: str) -> str | None:
        rows = self._query("SELECT origin FROM logs WHERE name=%s", (name,))
        return None if not rows else str(rows[0][0])

    def read_tiles(self, name: str, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        """Tiles by key. With a replica, full tiles come from it (a full tile never changes,
        so a lagging copy is still right); missing and partial ones from the primary."""
        wanted = list(keys)
        if not wanted:
            return {}
        out = self._read_tiles(name, wanted, replica=self.read_dsn is not None)
        if self.read_dsn is not None:
            again = [k for k in wanted if k not in out or not _full(k, out[k])]
            if again:
                out.update(self._read_tiles(name, again, replica=False))
        return out

    def _read_tiles(self, name: str, keys: list[TileKey], replica: bool) -> dict[TileKey, bytes]:
        # A primary-key probe per key, whatever the table statistics say.
        rows = self._query(TILES_SQL, _tile_params(self._id(name), keys), replica=replica)
        return {(int(lvl), int(idx)): bytes(data) for lvl, idx, data in rows if data is not None}

    def tile_sizes(self, name: str) -> Iterable[tuple[int, int, int]]:
        rows = self._query(
            "SELECT level, idx, octet_length(data) FROM tiles WHERE log=%s", (self._id(name),)
        )
        return [(int(a), int(b), int(c)) for a, b, c in rows]

    def find_leaves(self, name: str, leaf_hashes: Sequence[bytes]) -> dict[bytes, int]:
        if not leaf_hashes:
            return {}
        # The sequencer's own dedup runs in its lease, on the primary.
        rows = self._query(LEAVES_SQL, (self._id(name), list(leaf_hashes)), replica=True)
        return {bytes(lh): int(idx) for lh, idx in rows if idx is not None}

    def lookup(self, name: str, key: str, limit: int) -> list[int]:
        rows = self._query(
            "SELECT idx FROM search WHERE log=%s AND key=%s ORDER BY idx LIMIT %s",
            (self._id(name), key, limit),
            replica=True,  # search may lag the log by the replication delay
        )
        return [int(r[0]) for r in rows]

    def batch_time(self, name: str, index: int) -> int | None:
        rows = self._query(
            "SELECT timestamp_ms FROM batches WHERE log=%s AND first<=%s"
            " ORDER BY first DESC LIMIT 1",
            (self._id(name), index),
        )
        return None if not rows else int(rows[0][0])

    def close(self) -> None:
        with self._wlock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self._local = threading.local()
