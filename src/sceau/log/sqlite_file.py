"""One SQLite database file as the SQLite drivers use it.

One writer connection (used by one thread at a time) and one read-only connection per
reader thread, all in WAL mode so readers run beside the writer.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Literal


class SQLiteFile:
    """The connections to one database file; ``synchronous`` says how durable commits are."""

    def __init__(self, path: Path, *, synchronous: Literal["FULL", "NORMAL"]) -> None:
        self.path = path
        self._synchronous = synchronous
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.writer = self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def reader(self) -> sqlite3.Connection:
        """This thread's read-only connection (opened on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            conn.execute("PRAGMA query_only=1")
            with self._lock:
                self._readers.append(conn)
        return conn

    def close(self) -> None:
        self.writer.close()
        with self._lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self._local = threading.local()
