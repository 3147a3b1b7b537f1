"""Benchmark: signed hashedrekord entries/s over HTTP, against the same server's ceiling.

Starts a Rekor server (both logs on a SQLite engine, uvicorn with uvloop + httptools) in a
separate process, pre-generates distinct signed hashedrekord requests, then drives it with
N concurrent connections for ``--seconds`` (default 30):

1. the trivial endpoint ``POST /bench/ping`` (reads a small JSON body, answers a small
   JSON): the HTTP ceiling of this server on this machine;
2. ``POST /api/v1/log/entries`` (or ``/api/v2/log/entries`` with ``--api v2``), each
   request a fresh entry: durable, verified, sequenced entries/s.

It prints entries/s, p50/p99 latency, the ceiling and the ratio. With ``wrk`` installed
(``apt-get install -y wrk``) the load comes from wrk and a Lua script cycling through the
pre-generated bodies; otherwise from an httpx asyncio generator (which starves a fast
server: numbers are then a lower bound).

With ``--keys pkcs11`` the entries run is repeated against a second server whose Rekor v1
and v2 keys are in a SoftHSM2 token (v1 signs a SignedEntryTimestamp per entry, v2 only
its checkpoints), and the ratio token / file is printed.

    .venv/bin/python bench/rekor_http.py [--seconds 30] [--connections 256] [--api v1|v2]
        [--workers 1] [--threads 1] [--keys file|pkcs11]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from local_server import free_port, wait_until_ok  # bench/ is sys.path[0]
from signed_requests import signed_requests
from softhsm import make_token, token_key

LUA = r"""
local bodies = {}
local counter = 0
local threads = {}
local path = "%(path)s"

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local n = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i %% n == id then table.insert(bodies, line) end
    i = i + 1
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local body = bodies[((counter - 1) %% #bodies) + 1]
  return wrk.format("POST", path, nil, body)
end
"""

PING_LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"ping":true}'
"""


# -- the server process -------------------------------------------------------------------


def serve(directory: Path, port: int, batch_interval: float, workers: int, keys: str) -> None:
    """Run the Rekor app (plus the ping endpoint) under uvicorn; called in the child.

    ``workers`` > 1: that many HTTP processes feed one sequencer process
    (:mod:`sceau.services.rekor.workers`)."""
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from sceau.keys import generate_signer
    from sceau.log import LogEngine
    from sceau.log.sqlite import SQLiteStorage
    from sceau.services._http import tune_gc_for_serving
    from sceau.services.rekor import RekorConfig, build_rekor

    def make_engine() -> LogEngine:
        return LogEngine(SQLiteStorage(directory / "rekor.sqlite"), batch_interval=batch_interval)

    if keys == "pkcs11":  # the parent made the token; its environment is ours
        token = os.environ["SCEAU_BENCH_TOKEN"]
        v1, v2 = token_key(token, "rekor-v1", "ecdsa-p256"), token_key(token, "rekor-v2", "ed25519")
    else:
        v1, v2 = generate_signer("ecdsa-p256"), generate_signer("ed25519")
    config = RekorConfig(url=f"http://127.0.0.1:{port}", v1_signer=v1, v2_signer=v2)

    async def ping(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"ok": True})

    ping_route = Route("/bench/ping", ping, methods=["POST"])
    if workers > 1:
        from sceau.services.rekor.workers import run_workers

        run_workers(
            config,
            make_engine,
            host="127.0.0.1",
            port=port,
            workers=workers,
            socket_path=directory / "sequencer.sock",
            extra_routes=[ping_route],
        )
        return
    engine = make_engine()
    service = build_rekor(engine, config)
    service.routes.append(ping_route)
    app = service.app(engine)
    tune_gc_for_serving()  # as `sceau serve` does
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        loop="uvloop",
        http="httptools",
        access_log=False,
    )


@contextlib.contextmanager
def server(directory: Path, batch_interval: float, workers: int = 1, keys: str = "file"):
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            str(directory),
            "--port",
            str(port),
            "--batch-interval",
            str(batch_interval),
            "--workers",
            str(workers),
            "--keys",
            keys,
        ],
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ok(f"{base}/api/v1/log", [proc])
        yield base, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


# -- load ---------------------------------------------------------------------------------


def generate(count: int, api: str, out: Path) -> None:
    """``count`` distinct signed requests, one JSON per line (16 certificates reused)."""
    out.write_bytes(b"\n".join(signed_requests(count, api, certificates=16)) + b"\n")


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def run_wrk(
    base: str,
    path: str,
    seconds: int,
    connections: int,
    threads: int,
    script: Path,
    args: list[str],
) -> dict[str, float]:
    cmd = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base + path,
        "--",
        *args,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    duration = _ms(re.search(r"requests in ([\d.]+\w+),", out).group(1)) / 1000  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    ok = total - (int(bad.group(1)) if bad else 0)
    lat = {
        p: _ms(re.search(rf"\s{p}%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
        for p in ("50", "99")
    }
    return {
        "rate": ok / duration,
        "p50": lat["50"],
        "p99": lat["99"],
        "ok": ok,
        "failed": total - ok,
        "socket_errors": errors.group(1) if errors else "",
    }


async def run_httpx(
    base: str, path: str, seconds: int, connections: int, bodies: list[bytes] | None
) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    ok = failed = 0
    counter = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:

        async def worker() -> None:
            nonlocal ok, failed, counter
            while time.monotonic() < deadline:
                counter += 1
                body = bodies[counter % len(bodies)] if bodies else b'{"ping":true}'
                t0 = time.monotonic()
                r = await client.post(
                    path, content=body, headers={"content-type": "application/json"}
                )
                latencies.append(time.monotonic() - t0)
                if r.status_code < 300:
                    ok += 1
                else:
                    failed += 1

        start = time.monotonic()
        await asyncio.gather(*[worker() for _ in range(connections)])
        elapsed = time.monotonic() - start
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {
        "rate": ok / elapsed,
        "p50": pick(0.5),
        "p99": pick(0.99),
        "ok": ok,
        "failed": failed,
        "socket_errors": "",
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=int, default=30)
    p.add_argument("--connections", type=int, default=256)
    p.add_argument("--threads", type=int, default=1, help="wrk threads (load generator)")
    p.add_argument("--api", choices=["v1", "v2"], default="v1")
    p.add_argument("--batch-interval", type=float, default=0.05)
    p.add_argument(
        "--workers", type=int, default=1, help="HTTP worker processes feeding one sequencer process"
    )
    p.add_argument(
        "--max-rate",
        type=int,
        default=3000,
        help="entries/s the pre-generated set must cover without repeats",
    )
    p.add_argument(
        "--keys",
        choices=["file", "pkcs11"],
        default="file",
        help="pkcs11: repeat the entries run with the Rekor keys in a SoftHSM2 token",
    )
    p.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.batch_interval, args.workers, args.keys)
        return 0

    use_wrk = shutil.which("wrk") is not None
    with tempfile.TemporaryDirectory(prefix="sceau-bench-") as tmp:
        tmpdir = Path(tmp)
        count = args.max_rate * args.seconds
        bodies_file = tmpdir / "bodies.jsonl"
        t0 = time.monotonic()
        generate(count, args.api, bodies_file)
        print(
            f"generated {count} signed {args.api} hashedrekord requests in "
            f"{time.monotonic() - t0:.1f}s; load generator: {'wrk' if use_wrk else 'httpx'}"
        )
        path = "/api/v1/log/entries" if args.api == "v1" else "/api/v2/log/entries"
        (tmpdir / "data").mkdir()
        ping_script = tmpdir / "ping.lua"
        ping_script.write_text(PING_LUA)
        entry_script = tmpdir / "entries.lua"
        entry_script.write_text(LUA % {"path": path})

        def entries(base: str) -> dict[str, float]:
            if use_wrk:
                return run_wrk(
                    base,
                    path,
                    args.seconds,
                    args.connections,
                    args.threads,
                    entry_script,
                    [str(bodies_file), str(args.threads)],
                )
            bodies = bodies_file.read_bytes().splitlines()
            return asyncio.run(run_httpx(base, path, args.seconds, args.connections, bodies))

        with server(tmpdir / "data", args.batch_interval, args.workers) as (base, _proc):
            if use_wrk:
                ceiling = run_wrk(
                    base,
                    "/bench/ping",
                    min(10, args.seconds),
                    args.connections,
                    args.threads,
                    ping_script,
                    [],
                )
            else:
                ceiling = asyncio.run(
                    run_httpx(base, "/bench/ping", min(10, args.seconds), args.connections, None)
                )
            result = entries(base)
            import httpx

            size = httpx.get(f"{base}/api/v1/log").json()["treeSize"]
        in_token = None
        if args.keys == "pkcs11":  # the same entries, against a server whose keys are in a token
            os.environ["SCEAU_BENCH_TOKEN"] = make_token(tmpdir)
            (tmpdir / "data-token").mkdir()
            with server(tmpdir / "data-token", args.batch_interval, args.workers, "pkcs11") as (
                base,
                _proc,
            ):
                in_token = entries(base)
    print(
        f"HTTP ceiling (POST /bench/ping): {ceiling['rate']:,.0f} req/s  "
        f"p50 {ceiling['p50']:.1f} ms  p99 {ceiling['p99']:.1f} ms"
    )
    sock = f", socket errors {result['socket_errors']}" if result["socket_errors"] else ""
    print(
        f"{args.api} entries: {result['rate']:,.0f} entries/s  p50 {result['p50']:.1f} ms  "
        f"p99 {result['p99']:.1f} ms  ({result['ok']:.0f} logged, {result['failed']:.0f} "
        f"refused{sock})"
    )
    print(
        f"ratio to ceiling: {result['rate'] / ceiling['rate']:.0%}   "
        f"(connections {args.connections}, workers {args.workers}, {args.seconds}s; "
        f"v1 tree size now {size})"
    )
    if in_token is not None:
        print(
            f"{args.api} entries, Rekor keys in a SoftHSM2 token: {in_token['rate']:,.0f} "
            f"entries/s  p50 {in_token['p50']:.1f} ms  p99 {in_token['p99']:.1f} ms  "
            f"({in_token['failed']:.0f} refused); token / file ratio "
            f"{in_token['rate'] / result['rate']:.2f}x"
        )
    target = (
        result["rate"] >= 1000 and result["p99"] <= 1500 and result["rate"] >= 0.5 * ceiling["rate"]
    )
    print("target (>=1000/s, p99<=1.5s, >=50% of ceiling):", "met" if target else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
