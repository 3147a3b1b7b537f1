"""``sceau serve``: run the instance's services over HTTP (all of them, or ``--only``)."""

from __future__ import annotations

import argparse
import logging
import shlex
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from sceau.config import InstanceConfig
    from sceau.services.http_server import ServerLimits


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", default="./.sceau", help="instance directory (default ./.sceau)")
    p.add_argument(
        "--host", default=None, help="address to bind (default: from the URL, 127.0.0.1)"
    )
    p.add_argument("--port", type=int, default=None, help="port (default: from the instance URL)")
    p.add_argument(
        "--only",
        default=None,
        help="comma-separated subset of ca,ct,rekor,tsa,tuf,oidc,explorer "
        "(and witness, only when named)",
    )
    p.add_argument("--dev-oidc", action="store_true", help="serve the development OIDC issuer")
    p.add_argument("--init", action="store_true", help="create the instance first if missing")
    p.add_argument(
        "--url",
        default=None,
        help="with --init: the URL of a new instance (default http://127.0.0.1:8080); an "
        "existing instance keeps its own, with a warning if it differs",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API processes. SQLite: N processes serve HTTP and this one sequences the "
        "logs for them; PostgreSQL: N full processes share the database and take turns "
        "sequencing under its lock",
    )
    p.add_argument("--log-level", default="info")
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="text: one line per event with time, level and fields; json: one JSON object per line",
    )
    p.add_argument("--tls-cert", default=None, help="serve HTTPS: PEM certificate (chain)")
    p.add_argument("--tls-key", default=None, help="serve HTTPS: PEM private key (mode 0600)")


DEFAULT_URL = "http://127.0.0.1:8080"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
log = logging.getLogger("sceau.serve")


def unreachable_port(instance_url: str, port: int) -> bool:
    """True when the instance URL is loopback and names another port than the one served:
    no proxy can sit between, so clients told that URL cannot reach this server."""
    parts = urlsplit(instance_url)
    url_port = parts.port or (443 if parts.scheme == "https" else 80)
    return port != url_port and parts.hostname in LOOPBACK


def url_warnings(
    instance_url: str, asked_url: str | None, port: int, directory: str, *, tls: bool = False
) -> list[str]:
    """Say so when what the operator asked for is not what clients will be told: certificates,
    trust files and printed commands all carry the URL the instance was made with."""
    warnings = []
    if asked_url is not None and asked_url.rstrip("/") != instance_url.rstrip("/"):
        warnings.append(
            f"the instance in {directory} was made for {instance_url}; --url {asked_url} is "
            "ignored (use another --dir for a new instance)"
        )
    parts = urlsplit(instance_url)
    url_port = parts.port or (443 if parts.scheme == "https" else 80)
    if unreachable_port(instance_url, port):
        warnings.append(
            f"listening on port {port} but the instance URL {instance_url} names port "
            f"{url_port}: clients will not reach this server unless a proxy on this machine "
            f"forwards {url_port} to {port}. Serve on --port {url_port}, or make a new "
            f"instance for this port: --dir NEW --init --url "
            f"{parts.scheme}://{parts.hostname}:{port}"
        )
    if tls and parts.scheme == "http":
        warnings.append(
            f"serving HTTPS but the instance URL {instance_url} is http://: clients will "
            "speak plain HTTP to it"
        )
    if not tls and parts.scheme == "https" and port == url_port and parts.hostname in LOOPBACK:
        warnings.append(
            f"the instance URL {instance_url} is https:// on loopback but this server speaks "
            "plain HTTP: give --tls-cert/--tls-key, unless a TLS proxy on this machine is in "
            "front"
        )
    return warnings


OMITTED = (
    "(the commands to sign and verify are not printed: they would name {url}, which this "
    "server does not answer)"
)


def announce(cfg, port: int, log_format: str = "text") -> None:  # type: ignore[no-untyped-def]
    """Print the paste-able commands, unless they would point at a port nobody serves (or
    the output is for a machine: ``--log-format json`` keeps every line JSON)."""
    if log_format == "json":
        log.info("serving %s", cfg.url, extra={"url": cfg.url, "port": port})
    elif unreachable_port(cfg.url, port):
        print(OMITTED.format(url=cfg.url), flush=True)
    else:
        print(instructions(cfg), flush=True)


def instructions(cfg) -> str:  # type: ignore[no-untyped-def]
    """What to paste to sign and verify a file against this instance."""
    d = shlex.quote(str(cfg.dir))
    url = cfg.url
    trust = shlex.quote(str(cfg.trust_dir / "trust_config.json"))
    root = shlex.quote(str(cfg.trust_dir / "trusted_root.json"))
    tuf_root = shlex.quote(str(cfg.tuf_dir / "root.json"))
    ident = "you@example.com"
    return f"""
sceau is serving {url}  (CA, CT, Rekor v1+v2, TSA, TUF at {url}/tuf, dev OIDC at {url}/oidc)
(in another shell, from this directory: `source .venv/bin/activate` first)

# a development identity token (valid 10 minutes)
export SIGSTORE_ID_TOKEN=$(sceau dev-token --dir {d} --email {ident})
echo hello > hello.txt

# sceau
sceau sign --instance-dir {d} --bundle hello.sceau.sigstore.json hello.txt
sceau verify hello.txt --bundle hello.sceau.sigstore.json --trusted-root {root} \\
    --certificate-identity {ident} --certificate-oidc-issuer {url}/oidc

# sigstore-python (pip install sigstore), with the trust config file ...
sigstore --trust-config {trust} sign --identity-token "$SIGSTORE_ID_TOKEN" \\
    --bundle hello.python.sigstore.json hello.txt
sigstore --trust-config {trust} verify identity hello.txt --bundle hello.python.sigstore.json \\
    --cert-identity {ident} --cert-oidc-issuer {url}/oidc
# ... or through TUF
sigstore --instance {url}/tuf trust-instance {tuf_root}
sigstore --instance {url}/tuf sign --identity-token "$SIGSTORE_ID_TOKEN" \\
    --bundle hello.tuf.sigstore.json hello.txt

# sigstore-js (npm install -g @sigstore/cli)
sigstore attest --fulcio-url {url} --rekor-url {url} --tsa-server-url {url} \\
    --identity-token "$SIGSTORE_ID_TOKEN" hello.txt
"""


DEV_OIDC_BANNER = """\
************************************************************************************
* THE DEVELOPMENT OIDC ISSUER IS ON AND THIS INSTANCE IS NOT ON LOOPBACK ({where}).
* IT SIGNS A TOKEN FOR ANY IDENTITY: ANYONE WHO CAN REACH IT CAN SIGN AS ANYONE, AND
* EVERY VERIFIER TRUSTING THIS INSTANCE WILL BELIEVE THEM. NEVER RUN THIS IN PRODUCTION.
************************************************************************************"""


def check_dev_oidc(url: str, bind: str, *, configured: bool, asked: bool) -> None:
    """Refuse to serve the dev OIDC issuer off loopback unless ``--dev-oidc`` says so now.

    "Loopback" is decided from the instance URL and the bind address, never from a client's
    address: a reverse proxy on the same host makes every client look local."""
    from sceau.config import is_loopback_host
    from sceau.errors import InputError

    if not (configured or asked):
        return
    exposed = [
        what
        for what, host in (("URL " + url, urlsplit(url).hostname), ("bind " + bind, bind))
        if not is_loopback_host(host)
    ]
    if not exposed:
        return
    if not asked:
        raise InputError(
            f"the development OIDC issuer is enabled in sceau.toml but this instance is not "
            f"on loopback ({', '.join(exposed)}): anyone reaching it could sign as anyone. "
            "Set [oidc] dev = false and configure a real identity provider, or repeat "
            "--dev-oidc to serve it anyway"
        )
    logging.getLogger("sceau.serve").warning(DEV_OIDC_BANNER.format(where=", ".join(exposed)))


def run(args: argparse.Namespace) -> int:
    from sceau.config import CONFIG_NAME, InstanceConfig
    from sceau.telemetry.logs import configure, logging_config

    configure(args.log_format, args.log_level)
    from sceau.instance.app import parse_only
    from sceau.services.http_server import ServerLimits

    only = parse_only(args.only)
    from pathlib import Path

    if args.init and not (Path(args.dir) / CONFIG_NAME).exists():
        from sceau.instance.init import init_instance

        init_instance(args.dir, url=args.url or DEFAULT_URL, dev_oidc=args.dev_oidc or None)
        log.info("initialised a new instance in %s", args.dir, extra={"dir": args.dir})
    cfg = InstanceConfig.load(args.dir)
    from sceau.instance.init import check_permissions
    from sceau.instance.rotate import finish_online_rotations, recover_rotation

    check_permissions(cfg.dir)
    recovered = recover_rotation(cfg)  # a `sceau rotate` that a crash interrupted
    if recovered:
        log.warning("%s", recovered)
        cfg = InstanceConfig.load(cfg.dir)  # a rotation may have changed sceau.toml's [keys]
    for finished in finish_online_rotations(cfg):
        log.warning("%s", finished)
    dev_oidc = True if args.dev_oidc else None
    parts = urlsplit(cfg.url)
    host = args.host or parts.hostname or "127.0.0.1"
    port = args.port or parts.port or (443 if parts.scheme == "https" else 80)
    from sceau.services.tls import check_tls_files

    tls = check_tls_files(args.tls_cert, args.tls_key)
    # uvicorn logs through sceau's handler; the access line is sceau's (with the request id)
    server_options: dict[str, Any] = {
        **(tls.uvicorn_options() if tls else {}),
        "log_config": logging_config(args.log_format, args.log_level),
        "access_log": False,
    }
    for warning in url_warnings(cfg.url, args.url, port, args.dir, tls=tls is not None):
        log.warning("%s", warning)
    check_dev_oidc(
        cfg.url, host, configured=bool(cfg.get("oidc", "dev", False)), asked=args.dev_oidc
    )
    if args.workers < 1:
        from sceau.errors import InputError

        raise InputError(f"--workers must be at least 1, got {args.workers}")
    limits = ServerLimits.from_config(cfg.raw.get("http", {}))
    from sceau.instance.control import serving_marker

    with serving_marker(cfg, args.workers):
        return _serve(cfg, only, dev_oidc, host, port, args, limits, server_options)


def _serve(
    cfg: InstanceConfig,
    only: set[str],
    dev_oidc: bool | None,
    host: str,
    port: int,
    args: argparse.Namespace,
    limits: ServerLimits,
    server_options: dict[str, Any],
) -> int:
    from sceau.instance.app import LOG_SERVICES, build_app
    from sceau.instance.storage import is_shared
    from sceau.services._http import tune_gc_for_serving
    from sceau.services.http_server import serve, uvicorn_config

    if args.workers > 1 and not is_shared(cfg) and only & LOG_SERVICES:
        announce(cfg, port, args.log_format)
        return _serve_sequenced(cfg, only, dev_oidc, host, port, args, limits, server_options)
    if args.workers > 1:
        import os

        # Each worker process builds its own app (and engine) from these.
        os.environ["SCEAU_SERVE_DIR"] = str(cfg.dir)
        os.environ["SCEAU_SERVE_ONLY"] = ",".join(sorted(only))
        os.environ["SCEAU_SERVE_DEV_OIDC"] = "1" if args.dev_oidc else ""
        os.environ["SCEAU_SERVE_PARENT"] = str(os.getpid())
        announce(cfg, port, args.log_format)
        serve(
            uvicorn_config(
                "sceau.cli.serve_cmd:worker_app",
                limits=limits,
                factory=True,
                host=host,
                port=port,
                workers=args.workers,
                log_level=args.log_level,
                **server_options,
            )
        )
        return 0
    app = build_app(cfg, only=only, dev_oidc=dev_oidc, control="admin")
    announce(cfg, port, args.log_format)
    tune_gc_for_serving()
    serve(
        uvicorn_config(
            app,
            limits=limits,
            host=host,
            port=port,
            log_level=args.log_level,
            **server_options,
        )
    )
    return 0


def _serve_sequenced(
    cfg: InstanceConfig,
    only: set[str],
    dev_oidc: bool | None,
    host: str,
    port: int,
    args: argparse.Namespace,
    limits: ServerLimits,
    server_options: dict[str, Any],
) -> int:
    """SQLite has one writer: ``args.workers`` processes serve HTTP (and do the parsing,
    verification and signing), this process owns the log engine and sequences for them."""
    from sceau.instance.app import build_app, log_engine, log_parts
    from sceau.instance.live import sequencer_control
    from sceau.services.workers import run_sequenced, socket_path_in

    return run_sequenced(
        lambda remote: build_app(
            cfg, only=only, dev_oidc=dev_oidc, engine=remote, control="signal"
        ),
        lambda: log_engine(cfg, only),
        host=host,
        port=port,
        workers=args.workers,
        socket_path=socket_path_in(cfg.dir / "data"),
        log_level=args.log_level,
        limits=limits,
        server_options=server_options,
        control=sequencer_control(
            cfg, lambda cfg_, material, engine: log_parts(cfg_, material, engine, only)
        ),
    )


def worker_app():  # type: ignore[no-untyped-def]
    """App factory for ``--workers`` on PostgreSQL (or with no log service): one full app
    per process."""
    import os

    from sceau.config import InstanceConfig
    from sceau.instance.app import build_app, parse_only
    from sceau.services._http import tune_gc_for_serving
    from sceau.services.http_server import die_with_parent

    die_with_parent(int(os.environ["SCEAU_SERVE_PARENT"]))
    cfg = InstanceConfig.load(os.environ["SCEAU_SERVE_DIR"])
    dev = True if os.environ.get("SCEAU_SERVE_DEV_OIDC") else None
    app = build_app(cfg, only=parse_only(os.environ.get("SCEAU_SERVE_ONLY")), dev_oidc=dev)
    tune_gc_for_serving()
    return app
