"""Composes an instance's services into one ASGI app (``sceau serve``).

Every service can run alone or beside the others (``--only``): the CA reaches the CT log
in-process when both run here, over HTTP (``[ca] ct_url``) otherwise. The log engine is
started and closed by the app's lifespan; nothing touches storage at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from sceau.config import InstanceConfig
from sceau.errors import InputError
from sceau.instance.control import start_control
from sceau.instance.live import LiveInstance
from sceau.instance.storage import ct_chain_store, open_storage
from sceau.services._http import install_error_handlers
from sceau.services.admission import (
    GATE_KEY,
    AdmissionMiddleware,
    AdmissionSettings,
    LatencyGate,
)
from sceau.telemetry.metrics import HttpMetrics
from sceau.telemetry.requests import RequestTelemetry

log = logging.getLogger("sceau.app")

SERVICES = ("ca", "ct", "rekor", "tsa", "tuf", "oidc", "explorer")
OPTIONAL_SERVICES = ("witness",)  # served only when named in --only
LOG_SERVICES = frozenset({"rekor", "ct"})  # the services that keep a log in the engine
FULCIO_ISSUER_KEYS = ("oidc-issuers", "meta-issuers", "ci-issuer-metadata")


def parse_only(value: str | None) -> set[str]:
    if not value:
        return set(SERVICES)
    chosen = {s.strip() for s in value.split(",") if s.strip()}
    known = (*SERVICES, *OPTIONAL_SERVICES)
    unknown = chosen - set(known)
    if unknown:
        raise InputError(
            f"unknown service(s) {', '.join(sorted(unknown))}; choose from {', '.join(known)}"
        )
    return chosen


@dataclass
class _Parts:
    """What the service builders contribute to the app, in the order they run."""

    cfg: InstanceConfig
    material: Any
    routes: list[BaseRoute] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    background: list[Callable[[], Coroutine[Any, Any, Any]]] = field(default_factory=list)
    engine: Any = None
    rekor: Any = None
    ct_log: Any = None
    dev: Any = None
    witness: Any = None
    reload: bool = False  # a later generation (sceau.instance.live): start-up warnings said


def _engine(p: _Parts, create_storage: bool) -> None:
    from sceau.log import LogEngine

    settings = {  # checked before storage is opened (and, for SQLite, locked)
        "batch_interval": _log_setting(p.cfg, "batch_interval", 0.05, float),
        "batch_idle": _log_setting(p.cfg, "batch_idle", 0.002, float),
        "batch_size": _log_setting(p.cfg, "batch_size", 2048, int, minimum=1),
        "max_pending": _log_setting(p.cfg, "max_pending", 50_000, int, minimum=1),
    }
    p.engine = LogEngine(open_storage(p.cfg, create=create_storage), **settings)


def _log_setting(
    cfg: InstanceConfig, key: str, default: Any, kind: type, *, minimum: float = 0
) -> Any:
    """``[log] key`` as ``kind``; a value that is not a number or below ``minimum`` is the
    operator's mistake, and is named as such."""
    raw = cfg.get("log", key, default)
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise InputError(f"[log] {key} must be a number, got {raw!r}") from None
    if isinstance(raw, bool) or value < minimum:
        raise InputError(f"[log] {key} must be at least {minimum:g}, got {raw!r}")
    return value


def _rekor(p: _Parts) -> None:
    from sceau.services.rekor.service import RekorConfig, build_rekor

    config = RekorConfig(
        url=p.cfg.url,
        v1_signer=p.material.signer("rekor-v1"),
        v2_signer=p.material.signer("rekor-v2"),
        tree_id=p.cfg.get("rekor", "tree_id"),
        wrap_v2=_cosigning(p),
    )
    p.rekor = build_rekor(p.engine, config)
    p.routes += p.rekor.routes


def _cosigning(p: _Parts) -> Callable[[Any], Any] | None:
    """``[witnesses]``: the Rekor v2 log's checkpoints get cosigned in the background."""
    from sceau.log.cosigning import CosignedLog, Cosigner, settings_from_config

    settings = settings_from_config(p.cfg.raw.get("witnesses"))
    if settings is None:
        return None

    def wrap(inner: Any) -> Any:
        cosigner = Cosigner(inner, settings)
        p.background.append(cosigner.run)
        p.closers.append(cosigner.aclose)
        return CosignedLog(inner, cosigner)

    return wrap


def _witness(p: _Parts) -> None:
    """``--only witness``: the instance's own witness (``<dir>/witness``) under /witness."""
    from sceau.services.witness.http import open_witness, witness_routes

    witness = p.witness
    if witness is None:  # a reload keeps the witness it has (its state file is open)
        witness = open_witness(p.cfg.path("witness", "dir", "witness"))

        async def close() -> None:
            witness.state.close()

        p.closers.append(close)
    p.witness = witness
    p.routes += witness_routes(witness, "/witness")


def _ct(p: _Parts) -> None:
    from sceau.log.readpath import read_routes
    from sceau.services.ct.api import routes as ct_routes
    from sceau.services.ct.service import build_ct_log

    p.ct_log = build_ct_log(
        p.engine,
        p.material.signer("ct"),
        [p.material.ca_root],
        origin=f"{p.cfg.host}/ct",
        extra=ct_chain_store(p.cfg),
    )
    p.routes += ct_routes(p.ct_log)
    # The same tree as C2SP tlog-tiles (checkpoint + tiles), for monitors and witnesses.
    p.routes += read_routes(p.ct_log.log, "/ct")
    p.closers.append(p.ct_log.close)


def _explorer(p: _Parts) -> None:
    """The web explorer over the logs served here (it reads; it never writes)."""
    from sceau import __version__
    from sceau.services.explorer import ExplorerConfig, build_explorer
    from sceau.services.explorer.catalog import LogView

    views: list[LogView] = []
    idents: dict[str, Any] = {}
    if p.rekor is not None:
        views.append(LogView("rekor-v1", "Rekor v1", "rekor", p.rekor.v1_log))
        views.append(LogView("rekor-v2", "Rekor v2", "rekor", p.rekor.v2_log))
        idents = {"rekor-v1": p.rekor.v1, "rekor-v2": p.rekor.v2}
    if p.ct_log is not None:
        views.append(LogView("ct", "CT log", "ct", p.ct_log.log, p.ct_log))
    config = ExplorerConfig(
        url=p.cfg.url,
        views=views,
        trusted_root=p.cfg.trust_dir / "trusted_root.json",
        tuf_dir=p.cfg.tuf_dir,
        version=__version__,
        rekor_idents=idents,
    )
    p.routes += build_explorer(config)
    if p.rekor is not None:
        from sceau.services.explorer.openapi import paths

        p.rekor.openapi["paths"].update(paths())


def _dev_issuer(p: _Parts, serve_routes: bool) -> None:
    from sceau.services.oidc import DevIssuer

    p.dev = DevIssuer.for_instance(p.material.signer("dev-oidc"), p.cfg.url)
    if serve_routes:
        from sceau.services.oidc import routes as oidc_routes

        if not p.reload:
            log.warning(
                "the development OIDC issuer is enabled at %s/oidc: for development only, "
                "never in production",
                p.cfg.url,
            )
        p.routes.append(Mount("/oidc", routes=oidc_routes(p.dev)))


def _ca(p: _Parts) -> None:
    from sceau.services.ca.api import routes as ca_routes
    from sceau.services.ca.authority import CAChain
    from sceau.services.ca.ctclient import HTTPCTClient, InProcessCTClient
    from sceau.services.ca.issuer import CertificateAuthority
    from sceau.services.ca.issuers import IssuerSet
    from sceau.services.ca.oidc import TokenVerifier

    m, cfg, dev = p.material, p.cfg, p.dev
    chain = CAChain(m.ca_root, m.ca_intermediate, m.signer("ca-intermediate"))
    if p.ct_log is not None:  # same process: no HTTP round trip
        ct_client: Any = InProcessCTClient(p.ct_log)
    else:
        ct_client = HTTPCTClient(str(cfg.get("ca", "ct_url", cfg.url)))
        p.closers.append(ct_client.aclose)
    ca = CertificateAuthority(chain, ct_client, ct_keys=[m.signer("ct").public_key()])
    issuer_cfg = {k: v for k, v in cfg.raw.get("ca", {}).items() if k in FULCIO_ISSUER_KEYS}
    issuers = IssuerSet.from_config(issuer_cfg, dev_oidc_url=dev.issuer_url if dev else None)
    # The dev issuer's keys are known here: the CA need not fetch its own JWKS over HTTP.
    pinned = (
        {u: dev.jwks()["keys"] for u in (dev.issuer_url, dev.github_issuer_url)} if dev else None
    )
    verifier = TokenVerifier(issuers, pinned_keys=pinned)
    p.closers.append(verifier.aclose)
    p.routes += ca_routes(ca, verifier)


def _tsa(p: _Parts) -> None:
    from sceau.services.tsa import TimestampAuthority
    from sceau.services.tsa import routes as tsa_routes

    m = p.material
    p.routes += tsa_routes(TimestampAuthority(m.signer("tsa"), [m.tsa_leaf, m.tsa_root]))


def _tuf(p: _Parts) -> None:
    from sceau.instance.material import tuf_keys
    from sceau.services.tuf import refresh_periodically
    from sceau.services.tuf import routes as tuf_routes
    from sceau.trust import TufRepository

    p.routes += tuf_routes(p.cfg.tuf_dir)
    repo = TufRepository(p.cfg.tuf_dir, tuf_keys(p.cfg))
    p.background.append(lambda: refresh_periodically(repo))


def _health_and_metrics(p: _Parts, services: set[str], metrics: HttpMetrics) -> None:
    from prometheus_client import CollectorRegistry

    from sceau.telemetry.metrics import REGISTRY, EngineCollector, ExpiryCollector

    engine = p.engine
    engine_metrics = EngineCollector()
    instance = CollectorRegistry()
    instance.register(engine_metrics)
    instance.register(ExpiryCollector(p.cfg.dir, p.cfg.tuf_dir, p.cfg.trust_dir))

    async def healthz(request: Request) -> JSONResponse:
        logs = {}
        if engine is not None:
            for name, lg in engine.logs.items():
                logs[name] = (await lg.latest()).size
        return JSONResponse({"status": "ok", "services": sorted(services), "logs": logs})

    async def metrics_endpoint(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        await engine_metrics.refresh(engine)
        text = b"".join(generate_latest(r) for r in (metrics.registry, REGISTRY, instance))
        return Response(text, media_type=CONTENT_TYPE_LATEST)

    p.routes += [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]


def _lifespan(
    live: LiveInstance, gate: LatencyGate, control: str | None
) -> Callable[[Starlette], Any]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        engine = live.engine
        if engine is not None:
            await engine.start(create=False)
        live.start()
        stop_control = await start_control(live, listen=control == "admin") if control else None
        try:
            # The admission gate, where sceau's server protocol finds it to shed load at
            # header time (sceau.services.http_server).
            yield {GATE_KEY: gate}
        finally:
            if stop_control is not None:
                await stop_control()
            await live.close()
            if engine is not None:
                await engine.close()

    return lifespan


def build_parts(
    cfg: InstanceConfig,
    material: Any,
    services: set[str],
    dev_oidc: bool,
    *,
    engine: Any = None,
    create_storage: bool = False,
    metrics: HttpMetrics,
    previous: _Parts | None = None,
) -> _Parts:
    """The services of one generation of the app: built at start, and again over the same
    engine when the instance reloads its keys (:mod:`sceau.instance.live`)."""
    p = _Parts(cfg, material, witness=previous.witness if previous else None,
               reload=previous is not None)  # fmt: skip
    # Order matters: the logs join the engine before it starts; the CA uses the CT log and
    # the dev issuer if they are built here.
    if services & LOG_SERVICES:
        if engine is not None:
            p.engine = engine
        else:
            _engine(p, create_storage)
    if "rekor" in services:
        _rekor(p)
    if "ct" in services:
        _ct(p)
    if dev_oidc:
        _dev_issuer(p, serve_routes="oidc" in services)
    if "ca" in services:
        _ca(p)
    if "tsa" in services:
        _tsa(p)
    if "tuf" in services:
        _tuf(p)
    if "witness" in services:
        _witness(p)
    if "explorer" in services:
        _explorer(p)
    _health_and_metrics(p, services, metrics)
    return p


def log_parts(cfg: InstanceConfig, material: Any, engine: Any, only: Iterable[str]) -> _Parts:
    """The log services of ``only`` alone, over a running engine: what the sequencer
    process of ``serve --workers`` builds again when it reloads (their logs' configs)."""
    return build_parts(cfg, material, set(LOG_SERVICES & set(only)), False, engine=engine,
                       metrics=HttpMetrics())  # fmt: skip


def build_app(
    cfg: InstanceConfig,
    *,
    only: Iterable[str] | None = None,
    dev_oidc: bool | None = None,
    create_storage: bool = False,
    engine: Any = None,
    control: str | None = None,
) -> Starlette:
    """Build the app for ``cfg``'s instance, serving ``only`` these services (default all).

    ``engine``: the log engine to build on instead of opening storage here — a
    :class:`~sceau.services.workers.RemoteEngine` in a ``serve --workers`` process.
    ``control``: how reloads reach it — ``"admin"``: SIGHUP and the admin socket of
    ``sceau rotate`` (``sceau serve`` in one process); ``"signal"``: SIGHUP from its
    sequencer process (a ``serve --workers`` HTTP worker); None: not at all."""
    from sceau.instance.material import Material

    services = set(only) if only is not None else set(SERVICES)
    if dev_oidc is None:
        dev_oidc = bool(cfg.get("oidc", "dev", False))
    if not dev_oidc:
        services.discard("oidc")
    if not cfg.get("explorer", "enabled", True):
        services.discard("explorer")
    metrics = HttpMetrics()

    def build(cfg: InstanceConfig, material: Any, engine: Any, previous: _Parts | None) -> _Parts:
        return build_parts(
            cfg, material, services, dev_oidc, engine=engine, create_storage=create_storage,
            metrics=metrics, previous=previous,
        )  # fmt: skip

    p = build(cfg, Material.load(cfg), engine, None)
    live = LiveInstance(cfg, p, build)
    admission = AdmissionSettings.from_config(cfg.raw.get("http", {}))
    gate = LatencyGate(admission.latency_budget, admission.min_in_flight)
    # One route for everything: the services behind it are swapped whole on a reload.
    app = Starlette(routes=[Mount("", app=live.switch)], lifespan=_lifespan(live, gate, control))
    install_error_handlers(app)
    # Writes are admitted (or shed) before any handler parses them; the request id, access
    # line and metrics cover both.
    app.add_middleware(AdmissionMiddleware, settings=admission, gate=gate)
    app.add_middleware(RequestTelemetry, metrics=metrics)
    app.state.engine = p.engine
    app.state.dev_issuer = p.dev
    app.state.live = live
    return app


def log_engine(
    cfg: InstanceConfig, only: Iterable[str] = LOG_SERVICES, *, create_storage: bool = False
) -> Any:
    """The engine with the logs of ``only``'s log services added, not started: what
    ``sceau init`` creates and what the sequencer of ``serve --workers`` runs."""
    services = LOG_SERVICES & set(only)
    return build_app(cfg, only=services, dev_oidc=False, create_storage=create_storage).state.engine


def create_logs(cfg: InstanceConfig) -> None:
    """Create the instance's logs in storage (``sceau init``; ``serve`` never creates)."""
    engine = log_engine(cfg, create_storage=True)

    async def create() -> None:
        await engine.start(create=True)
        await engine.close()

    asyncio.run(create())
