"""Shared test fixtures: where the vectors are, and a real server on a free port."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pg import pg_dsn  # noqa: F401  (session fixture: one throwaway cluster for all)

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "vectors"


@pytest.fixture(scope="session")
def vectors() -> Path:
    if not VECTORS.is_dir():
        pytest.fail(f"test vectors not found at {VECTORS}")
    return VECTORS
