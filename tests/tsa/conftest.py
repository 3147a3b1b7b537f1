"""TSA fixtures: one chain per session, a responder, and a real server around it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette

from sceau.services._http import install_error_handlers
from sceau.services.tsa import TimestampAuthority, TSAChain, make_tsa_chain, routes
from tests.serving import serve_app


@pytest.fixture(scope="session")
def tsa_chain() -> TSAChain:
    return make_tsa_chain()


@pytest.fixture(scope="session")
def tsa(tsa_chain: TSAChain) -> TimestampAuthority:
    return TimestampAuthority(tsa_chain.leaf_signer, tsa_chain.chain)


def tsa_app(tsa: TimestampAuthority) -> Starlette:
    app = Starlette(routes=routes(tsa))
    install_error_handlers(app)
    return app


@pytest.fixture(scope="module")
def tsa_url(tsa: TimestampAuthority) -> Iterator[str]:
    with serve_app(tsa_app(tsa)) as url:
        yield url
