"""The explorer's HTTP routes: pages at ``/``, ``/search``, ``/entry/{uuid}``,
``/instance``; its JSON API under ``/api/explorer/v1/``; static files under ``/_explorer/``.

Pages answer HTML for every outcome (a bad query is a 400 page with a readable message,
an unknown UUID a 404 page); the JSON API answers the service-wide JSON errors.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sceau.errors import InputError, NotFound, SceauError
from sceau.services.explorer import views
from sceau.services.explorer.bundle import bundle, can_bundle, tlog_entry
from sceau.services.explorer.catalog import Catalog, LogView, Record
from sceau.services.explorer.certs import iso_ms
from sceau.services.explorer.health import instance_info
from sceau.services.explorer.html import STATIC
from sceau.services.explorer.query import BadQuery, parse_page, parse_query
from sceau.services.explorer.search import search
from sceau.services.explorer.stats import DEFAULT_HOURS, MAX_HOURS, StatsCache

log = logging.getLogger("sceau.explorer")

_UUID = re.compile(r"(?:[0-9a-fA-F]{16})?([0-9a-fA-F]{64})")
RECENT = 5  # latest entries per log on the home page
STATIC_FILES = {"verify.js": "text/javascript", "style.css": "text/css"}
SECURITY_HEADERS = {
    # Only our own script and style; nothing inline runs, nothing is framed.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass
class ExplorerConfig:
    """``views``: the logs to show; ``rekor_idents``: log name → V1/V2 identity (bundles);
    ``trusted_root``/``tuf_dir``: the published trust files."""

    url: str
    views: list[LogView]
    trusted_root: Path
    tuf_dir: Path
    version: str
    rekor_idents: dict[str, Any] = field(default_factory=dict)


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status, headers=SECURITY_HEADERS)


Handler = Callable[[Request], Awaitable[Response]]


def _page(handler: Handler) -> Handler:
    """Caller mistakes become an HTML page with the message; our bugs a plain 500 page."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except InputError as e:
            q = request.query_params.get("q", "")[:512]
            return _html(views.error(e.status, e.message, q), e.status)
        except SceauError as e:
            log.error("explorer: %s", e.message)
            return _html(views.error(500, "the server failed to show this page"), 500)

    return wrapped


def _uuid(raw: str) -> bytes:
    m = _UUID.fullmatch(raw)
    if not m:
        shown = raw if len(raw) <= 100 else raw[:100] + "…"
        raise InputError(f"{shown!r} is not an entry UUID (64 hex digits, or an 80-hex entry ID)")
    return bytes.fromhex(m.group(1))


class Explorer:
    def __init__(self, config: ExplorerConfig) -> None:
        self.config = config
        self.catalog = Catalog(config.views)
        self.stats = StatsCache()
        self.static = {
            name: resources.files("sceau.services.explorer").joinpath("static", name).read_bytes()
            for name in STATIC_FILES
        }

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", _page(self.home), methods=["GET"]),
            Route("/search", _page(self.search_page), methods=["GET"]),
            Route("/entry/{uuid}", _page(self.entry_page), methods=["GET"]),
            Route("/entry/{uuid}/bundle", self.bundle, methods=["GET"]),
            Route("/instance", _page(self.instance_page), methods=["GET"]),
            Route(STATIC + "/{name}", self.static_file, methods=["GET"]),
            Route("/api/explorer/v1/search", self.api_search, methods=["GET"]),
            Route("/api/explorer/v1/entries/{uuid}", self.api_entry, methods=["GET"]),
            Route("/api/explorer/v1/recent", self.api_recent, methods=["GET"]),
            Route("/api/explorer/v1/stats", self.api_stats, methods=["GET"]),
            Route("/api/explorer/v1/trusted-root", self.api_trusted_root, methods=["GET"]),
        ]

    # -- reads shared by pages and API ----------------------------------------------------

    async def _record(self, request: Request) -> Record:
        lh = _uuid(request.path_params["uuid"])
        only = request.query_params.get("log")
        if only is not None and only not in self.catalog.by_name:
            raise InputError(f"log must be one of {', '.join(self.catalog.by_name)}")
        found = await self.catalog.find_uuid(lh, only)
        if not found:
            raise NotFound("no entry with this UUID in this instance's logs")
        view, index = found[0]
        return await self.catalog.record(view, index)

    async def _links(self, r: Record) -> list[Record]:
        cert = r.decoded.certificate
        if cert is None:
            return []
        families = {"ct"} if r.view.family == "rekor" else {"rekor"}
        found = await self.catalog.by_serial(cert.serial, families)
        return [await self.catalog.record(v, i, full=False) for v, i in found]

    async def _recent(self, per_log: int) -> list[Record]:
        out = []
        for view in self.catalog.views:
            size = await self.catalog.size(view)
            first = 1 if view.family == "rekor" else 0  # Rekor's index 0 is a placeholder
            for index in range(size - 1, max(first, size - per_log) - 1, -1):
                out.append(await self.catalog.record(view, index, full=False))
        return out

    # -- pages ----------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        sizes = [(f"{v.label} entries", await self.catalog.size(v)) for v in self.catalog.views]
        return _html(views.home(sizes, await self._recent(RECENT)))

    async def search_page(self, request: Request) -> Response:
        raw = request.query_params.get("q")
        if raw is None:  # the bare path: the search box, as on the home page
            return await self.home(request)
        try:
            q = parse_query(raw)
            page = parse_page(request.query_params.get("page"))
        except BadQuery as e:
            return _html(views.error(400, e.message, raw[:512]), 400)
        return _html(views.results(await search(self.catalog, q, page)))

    async def entry_page(self, request: Request) -> Response:
        r = await self._record(request)
        return _html(views.entry(r, await self._links(r), can_bundle(r)))

    async def instance_page(self, request: Request) -> Response:
        c = self.config
        info = await instance_info(self.catalog, c.trusted_root, c.tuf_dir, c.url, c.version)
        charts = []
        for view in self.catalog.views:
            charts.append(views.chart(view.label, await self.stats.get(view.log)))
        return _html(views.instance(info, charts))

    async def bundle(self, request: Request) -> Response:
        r = await self._record(request)
        ident = self.config.rekor_idents.get(r.view.name)
        if not can_bundle(r) or ident is None:
            raise InputError("only hashedrekord entries with a certificate make a bundle")
        cp = await r.view.log.latest()
        proof = await r.view.log.inclusion_proof(r.index, cp.size)
        doc = bundle(r, tlog_entry(r, ident, proof, cp))
        name = f"{r.view.name}-{r.index}.sigstore.json"
        return Response(
            json.dumps(doc, indent=2),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    async def static_file(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            raise NotFound("no such file")
        headers = {"Cache-Control": "public, max-age=300", **SECURITY_HEADERS}
        return Response(self.static[name], media_type=STATIC_FILES[name], headers=headers)

    # -- JSON API -------------------------------------------------------------------------

    @staticmethod
    def _summary(r: Record) -> dict[str, Any]:
        return {
            "log": r.view.name,
            "index": r.index,
            "uuid": r.uuid,
            "kind": r.decoded.kind,
            "version": r.decoded.version,
            "integratedTime": iso_ms(r.time_ms) if r.time_ms else None,
            "identity": r.decoded.identity,
        }

    async def api_search(self, request: Request) -> Response:
        q = parse_query(request.query_params.get("q", ""))
        page = parse_page(request.query_params.get("page"))
        res = await search(self.catalog, q, page)
        return JSONResponse(
            {
                "query": {"kind": q.kind, "value": q.value},
                "page": page,
                "more": res.more,
                "results": [self._summary(r) for r in res.records],
            }
        )

    async def api_entry(self, request: Request) -> Response:
        """The leaf, its inclusion proof and the checkpoint it leads to: what the page's
        script verifies."""
        r = await self._record(request)
        cp = await r.view.log.latest()
        proof = await r.view.log.inclusion_proof(r.index, cp.size)
        return JSONResponse(
            {
                **self._summary(r),
                "leaf": base64.b64encode(r.body).decode(),
                "treeSize": cp.size,
                "hashes": [h.hex() for h in proof],
                "checkpoint": cp.note,
            }
        )

    async def api_recent(self, request: Request) -> Response:
        raw = request.query_params.get("limit", str(RECENT))
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 2 and 1 <= int(raw) <= 20):
            raise InputError("limit must be between 1 and 20")
        return JSONResponse([self._summary(r) for r in await self._recent(int(raw))])

    async def api_stats(self, request: Request) -> Response:
        raw = request.query_params.get("hours", str(DEFAULT_HOURS))
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 4 and 1 <= int(raw) <= MAX_HOURS):
            raise InputError(f"hours must be between 1 and {MAX_HOURS}")
        out = {}
        for view in self.catalog.views:
            s = await self.stats.get(view.log, int(raw))
            out[view.name] = {"start": iso_ms(s.start_ms), "hourly": s.counts}
        return JSONResponse({"logs": out})

    async def api_trusted_root(self, request: Request) -> Response:
        try:
            data = self.config.trusted_root.read_bytes()
        except OSError:
            raise NotFound("this instance has no trusted_root.json") from None
        return Response(
            data, media_type="application/json", headers={"Cache-Control": "max-age=60"}
        )


def build_explorer(config: ExplorerConfig) -> list[BaseRoute]:
    return Explorer(config).routes()
