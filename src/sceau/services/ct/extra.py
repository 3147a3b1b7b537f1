"""Where the CT log keeps ``extra_data`` (the chains) beside the Merkle leaves.

The engine's entries must be exactly the RFC 6962 ``MerkleTreeLeaf`` bytes (the tree
hashes them), but ``get-entries`` must also return each entry's chain, which is not in
the leaf. So chains live here, keyed by leaf hash.

Crash invariant: :meth:`ExtraStore.put` is durable before the log append starts, so an
entry the log acknowledged always has its chain; a crash between the two leaves an orphan
row, which nothing reads and which is harmless.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from sceau.errors import InternalError


class ExtraStore(Protocol):
    async def put(self, leaf_hash: bytes, extra_data: bytes) -> None:
        """Store durably (idempotent: a second put of the same leaf keeps the first)."""
        ...

    async def get_many(self, leaf_hashes: Sequence[bytes]) -> dict[bytes, bytes]: ...

    async def close(self) -> None: ...


class MemoryExtraStore:
    """For tests and throw-away logs."""

    def __init__(self) -> None:
        self._rows: dict[bytes, bytes] = {}

    async def put(self, leaf_hash: bytes, extra_data: bytes) -> None:
        self._rows.setdefault(leaf_hash, extra_data)

    async def get_many(self, leaf_hashes: Sequence[bytes]) -> dict[bytes, bytes]:
        return {h: self._rows[h] for h in leaf_hashes if h in self._rows}

    async def close(self) -> None:
        return None


class _GroupedWrites:
    """Concurrent puts share one durable write (group commit); subclasses do the write."""

    def __init__(self, thread_name: str) -> None:
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=thread_name)
        self._pending: list[tuple[bytes, bytes, asyncio.Future[None]]] = []
        self._flushing = False

    def _write(self, rows: list[tuple[bytes, bytes]]) -> None:
        raise NotImplementedError

    async def put(self, leaf_hash: bytes, extra_data: bytes) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((leaf_hash, extra_data, fut))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        await fut

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await loop.run_in_executor(
                        self._pool, self._write, [(h, d) for h, d, _ in batch]
                    )
                except Exception as e:  # every waiter learns the batch failed
                    for _, _, fut in batch:
                        if not fut.done():
                            fut.set_exception(InternalError(f"cannot store CT chain: {e}"))
                    continue
                for _, _, fut in batch:
                    if not fut.done():
                        fut.set_result(None)
        finally:
            self._flushing = False


class SQLiteExtraStore(_GroupedWrites):
    """One SQLite file (WAL, full sync). Writes are grouped: concurrent puts share a commit."""

    def __init__(self, path: str | Path) -> None:
        super().__init__("sceau-ct-extra")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS extra (leaf_hash BLOB PRIMARY KEY, data BLOB NOT NULL)"
            " WITHOUT ROWID"
        )

    def _write(self, rows: list[tuple[bytes, bytes]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR IGNORE INTO extra VALUES (?, ?)", rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")  # durable once this returns (WAL + synchronous=FULL)

    async def get_many(self, leaf_hashes: Sequence[bytes]) -> dict[bytes, bytes]:
        def read() -> dict[bytes, bytes]:
            out: dict[bytes, bytes] = {}
            with self._lock:
                for h in leaf_hashes:
                    row = self._db.execute("SELECT data FROM extra WHERE leaf_hash = ?", (h,))
                    found = row.fetchone()
                    if found is not None:
                        out[h] = found[0]
            return out

        return await asyncio.get_running_loop().run_in_executor(self._pool, read)

    async def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            self._db.close()


class PostgresExtraStore(_GroupedWrites):
    """The chains in PostgreSQL, beside the log tables, so every API host sees them all.

    Same contract as :class:`SQLiteExtraStore`; concurrent puts share one transaction.
    """

    def __init__(self, dsn: str, *, schema: str | None = None) -> None:
        super().__init__("sceau-ct-extra")
        import psycopg
        from psycopg import sql

        try:
            self._db = psycopg.connect(dsn, autocommit=True, application_name="sceau:ct-extra")
        except psycopg.Error as e:
            raise InternalError(f"cannot connect to PostgreSQL for CT chains: {e}") from e
        if schema:
            self._db.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
            )
            self._db.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        self._db.execute("SET synchronous_commit TO on")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS ct_extra (leaf_hash bytea PRIMARY KEY, data bytea NOT NULL)"
        )

    def _write(self, rows: list[tuple[bytes, bytes]]) -> None:
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            cur.executemany(
                "INSERT INTO ct_extra VALUES (%s, %s) ON CONFLICT (leaf_hash) DO NOTHING", rows
            )  # durable when the transaction commits (synchronous_commit on)

    async def get_many(self, leaf_hashes: Sequence[bytes]) -> dict[bytes, bytes]:
        def read() -> dict[bytes, bytes]:
            with self._lock:
                rows = self._db.execute(
                    "SELECT leaf_hash, data FROM ct_extra WHERE leaf_hash = ANY(%s)",
                    (list(leaf_hashes),),
                ).fetchall()
            return {bytes(h): bytes(d) for h, d in rows}

        return await asyncio.get_running_loop().run_in_executor(self._pool, read)

    async def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._db.close()
