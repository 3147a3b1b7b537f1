"""A real CT log (engine over SQLite, chains in SQLite) served by uvicorn on a free port."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.applications import Starlette

from sceau.keys import FileSigner, generate_signer
from sceau.log import LogEngine
from sceau.log.sqlite import SQLiteStorage
from sceau.services._http import install_error_handlers
from sceau.services.ca.authority import CAChain, make_ca_chain
from sceau.services.ct.api import routes as ct_routes
from sceau.services.ct.ctlog import CTLog
from sceau.services.ct.service import build_ct_log
from tests.serving import free_port, serve_app


@dataclass
class CTServer:
    url: str
    ct: CTLog
    key: FileSigner
    chain: CAChain
    app: Starlette


def ct_app(
    data: Path, key: FileSigner, roots, origin: str, extra_routes=()
) -> tuple[Starlette, CTLog]:
    engine = LogEngine(SQLiteStorage(data / "log.sqlite"), batch_interval=0.01)
    ct = build_ct_log(engine, key, roots, origin=origin, extra=data / "ct-extra.sqlite")

    @contextlib.asynccontextmanager
    async def lifespan(app):  # type: ignore[no-untyped-def]
        await engine.start()
        try:
            yield
        finally:
            await engine.close()
            await ct.close()

    app = Starlette(routes=[*ct_routes(ct), *extra_routes], lifespan=lifespan)
    install_error_handlers(app)
    return app, ct


@pytest.fixture(scope="module")
def ct_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CTServer]:
    data = tmp_path_factory.mktemp("ct")
    key = generate_signer("ecdsa-p256")
    chain, _ = make_ca_chain()
    port = free_port()
    app, ct = ct_app(data, key, [chain.root], f"127.0.0.1:{port}/ct")
    with serve_app(app, port=port) as url:
        yield CTServer(url, ct, key, chain, app)
