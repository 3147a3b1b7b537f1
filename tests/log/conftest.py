from __future__ import annotations

from pathlib import Path

import pytest

from sceau.keys import generate_signer
from sceau.log import LogConfig, LogEngine
from sceau.log.sqlite import SQLiteStorage
from sceau.note import note_signer, note_verifier
from tests.pg import fresh_schema

ORIGIN = "log.example.test"
DRIVERS = ["sqlite", "postgres"]


@pytest.fixture(scope="module")
def log_key():
    return generate_signer("ed25519")


def _engine(storage, log_key, genesis: bytes | None, **kw) -> LogEngine:
    engine = LogEngine(storage, **kw)
    engine.add_log(LogConfig("main", ORIGIN, [note_signer(ORIGIN, log_key)], genesis=genesis))
    return engine


@pytest.fixture
def make_sqlite_engine(tmp_path: Path, log_key):
    """Build an engine with one log ``main`` over a SQLite file in tmp_path."""

    def make(*, genesis: bytes | None = None, path: Path | None = None, **kw) -> LogEngine:
        return _engine(SQLiteStorage(path or tmp_path / "log.sqlite"), log_key, genesis, **kw)

    return make


@pytest.fixture(params=DRIVERS)
def make_engine(request, tmp_path: Path, log_key):
    """Build an engine with one log ``main`` over each storage driver in turn.

    SQLite: a file in tmp_path (``path`` names another file). PostgreSQL: a fresh schema
    of the session's throwaway cluster (``path`` selects another schema, by its stem).
    """
    if request.param == "sqlite":
        return request.getfixturevalue("make_sqlite_engine")
    from sceau.log.postgres import PostgresStorage

    dsn = request.getfixturevalue("pg_dsn")
    base = fresh_schema()

    def make(*, genesis: bytes | None = None, path: Path | None = None, **kw) -> LogEngine:
        schema = base if path is None else f"{base}_{path.stem}"
        return _engine(PostgresStorage(dsn, schema=schema), log_key, genesis, **kw)

    return make


@pytest.fixture
def verifier(log_key):
    return note_verifier(ORIGIN, log_key.public_key())
