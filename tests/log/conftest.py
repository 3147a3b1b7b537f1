from __future__ import annotations

from pathlib import Path

import pytest

from sceau.keys import generate_signer
from sceau.log import LogConfig, LogEngine
from sceau.log.sqlite import SQLiteStorage
from sceau.note import note_signer, note_verifier

ORIGIN = "log.example.test"


@pytest.fixture(scope="module")
def log_key():
    return generate_signer("ed25519")


@pytest.fixture
def make_engine(tmp_path: Path, log_key):
    """Build an engine with one log ``main`` over a SQLite file in tmp_path."""

    def make(*, genesis: bytes | None = None, path: Path | None = None, **kw) -> LogEngine:
        engine = LogEngine(SQLiteStorage(path or tmp_path / "log.sqlite"), **kw)
        engine.add_log(
            LogConfig("main", ORIGIN, [note_signer(ORIGIN, log_key)], genesis=genesis)
        )
        return engine

    return make


@pytest.fixture
def verifier(log_key):
    return note_verifier(ORIGIN, log_key.public_key())
