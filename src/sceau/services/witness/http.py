"""The witness over HTTP: ``POST <prefix>/add-checkpoint`` and the monitoring
``GET <prefix>/<origin hash>/checkpoint`` (C2SP tlog-witness), plus ``GET /healthz``.

Answers are plain text with the spec's status codes, never sceau's JSON error bodies: a
witness speaks to logs written against the spec, not to sceau clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from sceau.services.witness.protocol import MAX_BODY
from sceau.services.witness.witness import Reply, Witness

_HEX64 = re.compile(r"[0-9a-f]{64}")


def _response(reply: Reply) -> Response:
    # The content type exactly as given: text/x.tlog.size takes no charset parameter.
    return Response(reply.body, reply.status, headers={"Content-Type": reply.content_type})


async def _bounded_body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        return None
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            return None
    return bytes(data)


def witness_routes(witness: Witness, prefix: str = "") -> list[BaseRoute]:
    """The witness's routes under ``prefix`` (its submission and monitoring prefix)."""

    async def add_checkpoint(request: Request) -> Response:
        body = await _bounded_body(request)
        if body is None:
            return PlainTextResponse(f"request body is larger than {MAX_BODY} bytes\n", 413)
        # SQLite with fsync and a signature: off the event loop.
        return _response(await asyncio.to_thread(witness.add_checkpoint, body))

    async def checkpoint(request: Request) -> Response:
        origin_hash = request.path_params["origin_hash"]
        if not _HEX64.fullmatch(origin_hash):
            return PlainTextResponse("not found\n", 404)
        return _response(await asyncio.to_thread(witness.checkpoint_of, origin_hash))

    return [
        Route(f"{prefix}/add-checkpoint", add_checkpoint, methods=["POST"]),
        Route(prefix + "/{origin_hash}/checkpoint", checkpoint, methods=["GET"]),
    ]


def open_witness(directory: str | Path) -> Witness:
    """The witness of a directory made by ``sceau witness init``: key, logs, state."""
    from sceau.keys import load_signer
    from sceau.note import cosignature_signer
    from sceau.services.witness.config import WitnessConfig
    from sceau.services.witness.state import WitnessState

    cfg = WitnessConfig.load(directory)
    signer = cosignature_signer(cfg.name, load_signer(cfg.key_path))
    return Witness(signer, cfg.verifiers(), WitnessState(cfg.state_path))


def build_witness_app(directory: str | Path) -> Starlette:
    """A standalone witness app (``sceau witness serve``): submission prefix = the root."""
    witness = open_witness(directory)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse(f"ok {witness.vkey}\n")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            witness.state.close()

    routes = [*witness_routes(witness), Route("/healthz", healthz, methods=["GET"])]
    return Starlette(routes=routes, lifespan=lifespan)
