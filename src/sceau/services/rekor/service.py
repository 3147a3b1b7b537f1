"""Compose the Rekor service: register both logs on the engine, build the HTTP routes.

``build_rekor(engine, config)`` must run before ``engine.start()`` (the engine creates
the logs, with their genesis entries, at start). The returned :class:`RekorService`
carries the routes to mount at the instance root and the identities (origins, log IDs,
public keys) that the trust-root builder needs.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sceau.errors import InputError, InternalError, PayloadTooLarge
from sceau.keys import Algorithm, Signer
from sceau.log.api import LogAPI
from sceau.services._http import install_error_handlers
from sceau.services.rekor import openapi
from sceau.services.rekor.logs import (
    V1Identity,
    V2Identity,
    default_tree_id,
    genesis_entry,
    host_of,
)
from sceau.services.rekor.search import KeyFetcher
from sceau.services.rekor.types import Limits
from sceau.services.rekor.v1 import V1Api
from sceau.services.rekor.v2 import V2Api

MAX_KEY_URL_BYTES = 64 * 1024


@dataclass(frozen=True)
class RekorConfig:
    """What the Rekor service needs.

    ``url``: the public base URL of the instance (``http://127.0.0.1:8080``); its
    ``host[:port]`` is the checkpoint key name of both logs and the v2 origin.
    ``v1_signer``: ECDSA P-256 (checkpoints and SETs of the v1 log).
    ``v2_signer``: Ed25519 (checkpoints of the v2 log).
    ``tree_id``: the v1 tree ID (default: derived from the v1 key).
    ``allow_key_urls``: let searches fetch ``publicKey.url`` (off: it makes the server
    fetch arbitrary URLs).
    """

    url: str
    v1_signer: Signer
    v2_signer: Signer
    tree_id: int | None = None
    limits: Limits = field(default_factory=Limits)
    v1_log_name: str = "rekor-v1"
    v2_log_name: str = "rekor-v2"
    allow_key_urls: bool = False
    # Wraps the v2 log before routes use it: witness cosigning (sceau.log.cosigning).
    wrap_v2: Callable[[LogAPI], LogAPI] | None = None


@dataclass
class RekorService:
    config: RekorConfig
    v1: V1Identity
    v2: V2Identity
    v1_log: LogAPI
    v2_log: LogAPI
    routes: list[BaseRoute]
    openapi: dict[str, Any] = field(default_factory=dict)  # served at /api/openapi.json

    def app(self, engine: Any = None) -> Starlette:
        """A standalone ASGI app with only the Rekor routes; if ``engine`` is given, its
        lifespan starts and closes it (``sceau serve`` composes routes itself)."""

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            if engine is not None:
                await engine.start()
            try:
                yield
            finally:
                if engine is not None:
                    await engine.close()

        app = Starlette(routes=self.routes, lifespan=lifespan)
        install_error_handlers(app)
        return app


def _check_signers(config: RekorConfig) -> None:
    if config.v1_signer.algorithm is not Algorithm.ECDSA_P256:
        raise InternalError(
            "the Rekor v1 log key must be ECDSA P-256 (clients verify SETs "
            f"with it), got {config.v1_signer.algorithm.value}"
        )
    if config.v2_signer.algorithm is not Algorithm.ED25519:
        raise InternalError(
            "the Rekor v2 log key must be Ed25519 (C2SP tlog-tiles), got "
            f"{config.v2_signer.algorithm.value}"
        )


def http_key_fetcher(timeout: float = 5.0, max_bytes: int = MAX_KEY_URL_BYTES) -> KeyFetcher:
    """Fetch a public key for ``publicKey.url`` searches: http(s) only, bounded size."""
    import httpx

    async def fetch(url: str) -> bytes:
        if not url.startswith(("http://", "https://")):
            raise InputError("publicKey.url: only http and https URLs are fetched")
        try:
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
                async with client.stream("GET", url) as resp:
                    if resp.status_code != 200:
                        raise InputError(f"publicKey.url: fetch answered {resp.status_code}")
                    data = b""
                    async for chunk in resp.aiter_bytes():
                        data += chunk
                        if len(data) > max_bytes:
                            raise PayloadTooLarge(
                                f"publicKey.url: key larger than {max_bytes} bytes"
                            )
                    return data
        except httpx.HTTPError as e:
            raise InputError(f"publicKey.url: cannot fetch: {e}") from e

    return fetch


def build_rekor(engine: Any, config: RekorConfig) -> RekorService:
    """Add the v1 and v2 logs to ``engine`` and build their HTTP routes."""
    from sceau.log import LogConfig
    from sceau.note import note_signer

    _check_signers(config)
    host = host_of(config.url)
    tree_id = config.tree_id or default_tree_id(config.v1_signer.public_key())
    v1 = V1Identity(host, tree_id, config.v1_signer)
    v2 = V2Identity(host, config.v2_signer)
    v1_log = engine.add_log(
        LogConfig(
            name=config.v1_log_name,
            origin=v1.origin,
            note_signers=[note_signer(host, config.v1_signer)],
            genesis=genesis_entry(v1.origin, "0.0.1"),
        )
    )
    v2_log: LogAPI = engine.add_log(
        LogConfig(
            name=config.v2_log_name,
            origin=v2.origin,
            note_signers=[note_signer(host, config.v2_signer)],
            genesis=genesis_entry(v2.origin, "0.0.2"),
        )
    )
    if config.wrap_v2 is not None:
        v2_log = config.wrap_v2(v2_log)
    fetch = http_key_fetcher() if config.allow_key_urls else None
    doc = openapi.document()
    doc["paths"] = dict(doc["paths"])  # others (the explorer) may add theirs

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(doc)

    routes: list[BaseRoute] = [
        *V1Api(v1_log, v1, config.limits, fetch).routes(),
        *V2Api(v2_log, v2, config.limits, fetch).routes(),
        Route("/api/openapi.json", openapi_json, methods=["GET"]),
    ]
    return RekorService(config, v1, v2, v1_log, v2_log, routes, doc)
