"""Composes an instance's services into one ASGI app (``sceau serve``).

Every service can run alone or beside the others (``--only``): the CA reaches the CT log
in-process when both run here, over HTTP (``[ca] ct_url``) otherwise. The log engine is
started and closed by the app's lifespan; nothing touches storage at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from sceau.config import InstanceConfig
from sceau.errors import InputError
from sceau.services._http import install_error_handlers

log = logging.getLogger("sceau.app")

SERVICES = ("ca", "ct", "rekor", "tsa", "tuf", "oidc")
FULCIO_ISSUER_KEYS = ("oidc-issuers", "meta-issuers", "ci-issuer-metadata")


def parse_only(value: str | None) -> set[str]:
    if not value:
        return set(SERVICES)
    chosen = {s.strip() for s in value.split(",") if s.strip()}
    unknown = chosen - set(SERVICES)
    if unknown:
        raise InputError(
            f"unknown service(s) {', '.join(sorted(unknown))}; choose from {', '.join(SERVICES)}"
        )
    return chosen


def open_storage(cfg: InstanceConfig, *, create: bool = False) -> Any:
    """The log storage driver named by ``[storage] driver``."""
    driver = str(cfg.get("storage", "driver", "sqlite"))
    if driver == "sqlite":
        from sceau.log.sqlite import SQLiteStorage

        return SQLiteStorage(cfg.path("storage", "path", "data/sceau.sqlite"), create=create)
    if driver in ("postgres", "postgresql"):
        from sceau.log.postgres import PostgresStorage

        dsn = cfg.get("storage", "dsn")
        if not dsn:
            raise InputError("[storage] driver = postgres needs dsn (or SCEAU_STORAGE_DSN)")
        schema = cfg.get("storage", "schema")
        read_dsn = cfg.get("storage", "read_dsn")
        return PostgresStorage(
            str(dsn),
            schema=str(schema) if schema else None,
            create=create,
            read_dsn=str(read_dsn) if read_dsn else None,
        )
    raise InputError(f"unknown storage driver {driver!r} (sqlite or postgres)")


class _Metrics:
    """Prometheus request metrics, labelled by route template (not raw path)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sceau_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sceau_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
        )

    def middleware(self, app: Any) -> Any:
        async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            status = {"code": 500}

            async def send_status(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    status["code"] = message["status"]
                await send(message)

            start = time.perf_counter()
            try:
                await app(scope, receive, send_status)
            finally:
                route = scope.get("route")
                name = getattr(route, "path", None) or "unmatched"
                self.requests.labels(scope["method"], name, str(status["code"])).inc()
                self.latency.labels(scope["method"], name).observe(time.perf_counter() - start)

        return wrapped


def build_app(
    cfg: InstanceConfig,
    *,
    only: Iterable[str] | None = None,
    dev_oidc: bool | None = None,
    create_storage: bool = False,
) -> Starlette:
    """Build the app for ``cfg``'s instance, serving ``only`` these services (default all)."""
    from sceau.instance import Material

    services = set(only) if only is not None else set(SERVICES)
    if dev_oidc is None:
        dev_oidc = bool(cfg.get("oidc", "dev", False))
    if not dev_oidc:
        services.discard("oidc")
    material = Material.load(cfg)
    routes: list[BaseRoute] = []
    closers: list[Any] = []
    background: list[Any] = []
    engine = None
    ct_log = None

    if services & {"rekor", "ct"}:
        from sceau.log import LogEngine

        engine = LogEngine(
            open_storage(cfg, create=create_storage),
            batch_interval=float(cfg.get("log", "batch_interval", 0.05)),
            batch_size=int(cfg.get("log", "batch_size", 2048)),
            max_pending=int(cfg.get("log", "max_pending", 50_000)),
        )

    if "rekor" in services:
        from sceau.services.rekor.service import RekorConfig, build_rekor

        rekor = build_rekor(
            engine,
            RekorConfig(
                url=cfg.url,
                v1_signer=material.signer("rekor-v1"),
                v2_signer=material.signer("rekor-v2"),
                tree_id=cfg.get("rekor", "tree_id"),
            ),
        )
        routes += rekor.routes

    if "ct" in services:
        from sceau.log.readpath import read_routes
        from sceau.services.ct.api import routes as ct_routes
        from sceau.services.ct.service import build_ct_log

        ct_log = build_ct_log(
            engine,
            material.signer("ct"),
            [material.ca_root],
            origin=f"{cfg.host}/ct",
            extra=cfg.dir / "data" / "ct-chains.sqlite",
        )
        routes += ct_routes(ct_log)
        # The same tree as C2SP tlog-tiles (checkpoint + tiles), for monitors and witnesses.
        routes += read_routes(ct_log.log, "/ct")
        closers.append(ct_log.close)

    dev = None
    if dev_oidc:
        from sceau.services.oidc import DevIssuer

        dev = DevIssuer.for_instance(material.signer("dev-oidc"), cfg.url)
        if "oidc" in services:
            from sceau.services.oidc import routes as oidc_routes

            log.warning(
                "the development OIDC issuer is enabled at %s/oidc: for development "
                "only, never in production",
                cfg.url,
            )
            routes.append(Mount("/oidc", routes=oidc_routes(dev)))

    if "ca" in services:
        from sceau.services.ca.api import routes as ca_routes
        from sceau.services.ca.authority import CAChain
        from sceau.services.ca.ctclient import HTTPCTClient, InProcessCTClient
        from sceau.services.ca.issuer import CertificateAuthority
        from sceau.services.ca.issuers import IssuerSet
        from sceau.services.ca.oidc import TokenVerifier

        chain = CAChain(
            material.ca_root, material.ca_intermediate, material.signer("ca-intermediate")
        )
        if ct_log is not None:
            ct_client: Any = InProcessCTClient(ct_log)
        else:
            ct_client = HTTPCTClient(str(cfg.get("ca", "ct_url", cfg.url)))
            closers.append(ct_client.aclose)
        ca = CertificateAuthority(chain, ct_client, ct_keys=[material.signer("ct").public_key()])
        issuer_cfg = {k: v for k, v in cfg.raw.get("ca", {}).items() if k in FULCIO_ISSUER_KEYS}
        issuers = IssuerSet.from_config(issuer_cfg, dev_oidc_url=dev.issuer_url if dev else None)
        pinned = (
            {u: dev.jwks()["keys"] for u in (dev.issuer_url, dev.github_issuer_url)}
            if dev
            else None
        )
        verifier = TokenVerifier(issuers, pinned_keys=pinned)
        closers.append(verifier.aclose)
        routes += ca_routes(ca, verifier)

    if "tsa" in services:
        from sceau.services.tsa import TimestampAuthority
        from sceau.services.tsa import routes as tsa_routes

        tsa = TimestampAuthority(material.signer("tsa"), [material.tsa_leaf, material.tsa_root])
        routes += tsa_routes(tsa)

    if "tuf" in services:
        from sceau.services.tuf import refresh_periodically
        from sceau.services.tuf import routes as tuf_routes
        from sceau.trust import TufKeys, TufRepository

        routes += tuf_routes(cfg.tuf_dir)
        repo = TufRepository(cfg.tuf_dir, TufKeys.load(cfg.keys_dir))
        background.append(lambda: refresh_periodically(repo))

    metrics = _Metrics()

    async def healthz(request: Request) -> JSONResponse:
        logs = {}
        if engine is not None:
            for name, lg in engine.logs.items():
                logs[name] = (await lg.latest()).size
        return JSONResponse({"status": "ok", "services": sorted(services), "logs": logs})

    async def metrics_endpoint(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    routes += [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if engine is not None:
            await engine.start(create=False)
        tasks = [asyncio.create_task(make()) for make in background]
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()
            for close in closers:
                with contextlib.suppress(Exception):
                    await close()
            if engine is not None:
                await engine.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(_ASGIWrap, wrap=metrics.middleware)
    app.state.engine = engine
    app.state.dev_issuer = dev
    return app


def create_logs(cfg: InstanceConfig) -> None:
    """Create the instance's logs in storage (``sceau init``; ``serve`` never creates)."""
    app = build_app(cfg, only={"rekor", "ct"}, dev_oidc=False, create_storage=True)
    engine = app.state.engine

    async def create() -> None:
        await engine.start(create=True)
        await engine.close()

    asyncio.run(create())


class _ASGIWrap:
    """Adapter so a plain ASGI wrapper can be added with ``add_middleware``."""

    def __init__(self, app: Any, wrap: Any) -> None:
        self._app = wrap(app)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._app(scope, receive, send)
