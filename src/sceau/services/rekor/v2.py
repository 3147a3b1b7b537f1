"""Rekor v2 HTTP API (rekor-tiles) plus the search the upstream dropped.

Upstream paths (docs/protocols.md §1.4): ``POST /api/v2/log/entries`` and the static C2SP
read path ``GET /api/v2/checkpoint`` / ``GET /api/v2/tile/…``.

sceau extensions, documented in ``docs/rekor.md``: ``POST /api/v2/index/retrieve`` (the v1
search body; answers the matching log indexes as decimal strings) and
``GET /api/v2/log/entries/{logIndex}`` (the entry as a ``TransparencyLogEntry`` with a
proof to the latest checkpoint), so that what search finds can be fetched without
reassembling tiles.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sceau.errors import InputError, NotFound
from sceau.log.api import LogAPI
from sceau.services._http import (
    error_body,
    parse_json_object,
    read_body,
    read_json,
    require_json,
)
from sceau.services.rekor.logs import V2Identity
from sceau.services.rekor.responses import json_response, v2_entry
from sceau.services.rekor.search import KeyFetcher, parse_query
from sceau.services.rekor.types import Limits, from_v2_request
from sceau.telemetry.metrics import LOG_ENTRIES


@dataclass
class V2Api:
    """Handlers bound to the v2 log; :meth:`routes` lists them."""

    log: LogAPI
    ident: V2Identity
    limits: Limits
    fetch_key: KeyFetcher | None = None

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/v2/log/entries", self.create, methods=["POST"]),
            Route("/api/v2/log/entries/{index}", self.get_entry, methods=["GET"]),
            Route("/api/v2/checkpoint", self.checkpoint, methods=["GET"]),
            Route("/api/v2/tile/{path:path}", self.tile, methods=["GET"]),
            Route("/api/v2/index/retrieve", self.search, methods=["POST"]),
        ]

    async def create(self, request: Request) -> Response:
        require_json(request)
        body = await read_body(request, self.limits.v2_body)
        entry = from_v2_request(parse_json_object(body), self.limits)
        r = await self.log.append(entry.body, keys=entry.keys)
        if not r.duplicate:
            LOG_ENTRIES.labels("rekor-v2", entry.kind).inc()
        if r.duplicate:
            return JSONResponse(
                error_body(
                    409, f"an equivalent entry already exists in the log at index {r.index}"
                ),
                status_code=409,
                headers={"x-log-index": str(r.index)},
            )
        value = v2_entry(
            self.ident, r.index, entry.body, r.proof, r.checkpoint, entry.kind, entry.api_version
        )
        return json_response(value, status_code=201)

    async def get_entry(self, request: Request) -> Response:
        raw = request.path_params["index"]
        if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
            raise InputError(f"logIndex: must be a non-negative integer, got {raw!r}")
        index = int(raw)
        checkpoint = await self.log.latest()
        if index >= checkpoint.size:
            raise NotFound(f"no entry at logIndex {index}")
        body = await self.log.get_entry(index)
        proof = await self.log.inclusion_proof(index, checkpoint.size)
        return json_response(v2_entry(self.ident, index, body, proof, checkpoint))

    async def checkpoint(self, request: Request) -> Response:
        return await self._static("checkpoint")

    async def tile(self, request: Request) -> Response:
        return await self._static("tile/" + request.path_params["path"])

    async def _static(self, path: str) -> Response:
        """The C2SP read path, straight from the engine's tiles."""
        data, content_type, cache = await self.log.read_path(path)
        return Response(data, media_type=content_type, headers={"Cache-Control": cache})

    async def search(self, request: Request) -> Response:
        query = await parse_query(await read_json(request, self.limits.v1_body), self.fetch_key)
        return JSONResponse([str(i) for i in await query.run(self.log)])
