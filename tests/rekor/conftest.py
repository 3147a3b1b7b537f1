"""A real Rekor server: SQLite engine, both logs, uvicorn on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sceau.keys import FileSigner, generate_signer
from sceau.log import LogEngine
from sceau.log.sqlite import SQLiteStorage
from sceau.services.rekor import Limits, RekorConfig, RekorService, build_rekor
from tests.serving import free_port, serve_app


@dataclass
class Server:
    url: str
    host: str
    service: RekorService
    v1_key: FileSigner
    v2_key: FileSigner
    client: httpx.Client


def start(
    tmp: Path, limits: Limits | None = None, *, dsn: str | None = None, **engine_kw
) -> tuple[object, RekorService, str, dict]:
    """A Rekor service on a fresh engine: SQLite in ``tmp``, or PostgreSQL at ``dsn``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    keys = {"v1": generate_signer("ecdsa-p256"), "v2": generate_signer("ed25519")}
    if dsn is None:
        storage: object = SQLiteStorage(tmp / "rekor.sqlite")
    else:
        from sceau.log.postgres import PostgresStorage
        from tests.pg import fresh_schema

        storage = PostgresStorage(dsn, schema=fresh_schema("rekor"))
    engine = LogEngine(storage, **({"batch_interval": 0.01} | engine_kw))
    config = RekorConfig(
        url=url, v1_signer=keys["v1"], v2_signer=keys["v2"], limits=limits or Limits()
    )
    service = build_rekor(engine, config)
    return engine, service, url, keys | {"port": port}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def rekor(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The Rekor suite runs once per storage driver."""
    dsn = request.getfixturevalue("pg_dsn") if request.param == "postgres" else None
    engine, service, url, keys = start(tmp_path_factory.mktemp("rekor"), dsn=dsn)
    with (
        serve_app(service.app(engine), port=keys["port"]) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        yield Server(url, f"127.0.0.1:{keys['port']}", service, keys["v1"], keys["v2"], client)
