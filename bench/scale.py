"""Benchmark: signed Rekor v2 entries/s over HTTP with 1, 2 and 4 API processes.

One run measures, on this machine:
- SQLite, one API process (the embedded default);
- PostgreSQL with 1, 2 and 4 API processes on one database (each process a full engine
  behind the real Rekor v2 routes; they take turns sequencing under an advisory lock).

Load: ``wrk`` (C, epoll) POSTs pre-generated, distinct, signed ``hashedrekord`` v0.0.2
requests (``/api/v2/log/entries``; the server parses them, verifies each signature, and
answers once the entry is durable in a signed checkpoint). The API processes share one
port through ``SO_REUSEPORT``: the kernel spreads connections over them, as a load
balancer would. Throughput is counted from the log itself (tree size before/after, so
only sequenced entries count); latency percentiles are wrk's. Without wrk, an async
httpx load generator runs in a separate process instead.

    .venv/bin/python bench/scale.py [--duration 10] [--connections 256] [--dsn DSN]

Without ``--dsn`` a throwaway PostgreSQL cluster is started (initdb in a temp dir).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from local_server import free_port  # bench/ is sys.path[0]
from signed_requests import signed_requests

ROOT = Path(__file__).resolve().parents[1]
URL = "http://rekor.bench.test"
ENTRIES_PATH = "/api/v2/log/entries"

LUA = r"""
-- Each wrk thread POSTs its own slice of the pre-generated bodies, in turn.
local tid_next = 0
function setup(thread)
  thread:set("tid", tid_next)
  tid_next = tid_next + 1
end
function init(args)
  bodies, i = {}, 0
  local n, k = tonumber(args[2]), 0
  for line in io.lines(args[1]) do
    if k % n == tid then bodies[#bodies + 1] = line end
    k = k + 1
  end
  headers = {["Content-Type"] = "application/json"}
end
function request()
  i = i % #bodies + 1
  return wrk.format("POST", "%s", headers, bodies[i])
end
"""


# -- one API process ------------------------------------------------------------------


def serve(argv: list[str]) -> None:
    import uvicorn

    from sceau.keys import load_signer
    from sceau.log import LogEngine
    from sceau.services.rekor.service import RekorConfig, build_rekor

    p = argparse.ArgumentParser()
    p.add_argument("--driver", choices=["sqlite", "postgres"], required=True)
    p.add_argument("--dsn")
    p.add_argument("--schema")
    p.add_argument("--db", type=Path)
    p.add_argument("--keys", type=Path, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--name", default="bench")
    p.add_argument("--switch-interval", type=float, default=0.0)
    a = p.parse_args(argv)
    if a.switch_interval:
        # The sequencer thread waits for the GIL after each database round trip while the
        # event loop verifies signatures; a shorter switch interval shortens every batch.
        sys.setswitchinterval(a.switch_interval)
    if a.driver == "sqlite":
        from sceau.log.sqlite import SQLiteStorage

        storage = SQLiteStorage(a.db)
    else:
        from sceau.log.postgres import PostgresStorage

        storage = PostgresStorage(a.dsn, schema=a.schema, application_name=a.name)
    engine = LogEngine(storage, batch_interval=0.05)
    rekor = build_rekor(
        engine, RekorConfig(URL, load_signer(a.keys / "v1.pem"), load_signer(a.keys / "v2.pem"))
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", a.port))
    config = uvicorn.Config(rekor.app(engine), log_level="warning", access_log=False, backlog=4096)
    uvicorn.Server(config).run(sockets=[sock])


# -- a measured configuration -----------------------------------------------------------


@dataclass
class Result:
    label: str
    processes: int
    entries_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    duplicates: int


def checkpoint_size(base: str) -> int:
    import httpx

    r = httpx.get(base + "/api/v2/checkpoint", timeout=10)
    r.raise_for_status()
    return int(r.text.split("\n")[1])


def start_servers(n: int, port: int, server_args: list[str], workdir: Path) -> list:
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'src'}")
    procs = []
    for i in range(n):
        args = [*server_args, "--port", str(port), "--name", f"bench-{i}"]
        procs.append(
            subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "serve", *args],
                cwd=workdir,
                env=env,
                stdout=subprocess.DEVNULL,
            )
        )
        if i == 0:
            wait_ready(f"http://127.0.0.1:{port}", procs)  # creates the logs, alone
    time.sleep(1.0 + 0.5 * n)  # the others bind the same port: give them time to start
    wait_ready(f"http://127.0.0.1:{port}", procs)
    return procs


def wait_ready(base: str, procs: list, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if any(p.poll() is not None for p in procs):
            raise SystemExit("an API process exited during start-up")
        try:
            checkpoint_size(base)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop_servers(procs: list) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def run_wrk(base: str, bodies: Path, script: Path, seconds: float, conns: int) -> dict:
    proc = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{conns}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base + ENTRIES_PATH,
            "--",
            str(bodies),
            "2",
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise SystemExit(f"wrk failed: {proc.stderr.strip() or proc.stdout.strip()}")
    out = proc.stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]

    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "p50": ms("50"),
        "p99": ms("99"),
        "non2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": sum(int(x) for x in errs.groups()) if errs else 0,
        "raw": out,
    }


def run_httpx(base: str, bodies: list[bytes], seconds: float, conns: int) -> dict:
    """Fallback load generator (no wrk): asyncio + httpx, in a separate process."""
    import multiprocessing as mp

    q: mp.Queue = mp.Queue()
    proc = mp.Process(target=_httpx_worker, args=(base, bodies, seconds, conns, q))
    proc.start()
    result = q.get()
    proc.join()
    return result


def _httpx_worker(base, bodies, seconds, conns, q) -> None:  # type: ignore[no-untyped-def]
    import httpx

    async def go() -> dict:
        lat: list[float] = []
        bad = 0
        it = iter(bodies)
        end = time.monotonic() + seconds
        limits = httpx.Limits(max_connections=conns)
        async with httpx.AsyncClient(timeout=10, limits=limits) as c:

            async def one() -> None:
                nonlocal bad
                for body in it:
                    if time.monotonic() > end:
                        return
                    t = time.monotonic()
                    r = await c.post(
                        base + ENTRIES_PATH,
                        content=body,
                        headers={"content-type": "application/json"},
                    )
                    lat.append(time.monotonic() - t)
                    bad += r.status_code != 201

            await asyncio.gather(*(one() for _ in range(conns)))
        lat.sort()
        pick = lambda f: lat[int(f * (len(lat) - 1))] * 1000 if lat else float("nan")  # noqa: E731
        return {"p50": pick(0.5), "p99": pick(0.99), "non2xx": bad, "socket_errors": 0}

    q.put(asyncio.run(go()))


def measure(
    label: str,
    n: int,
    server_args: list[str],
    args,
    bodies_file: Path,
    script: Path,
    bodies: list[bytes],
    workdir: Path,
) -> Result:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    procs = start_servers(n, port, server_args, workdir)
    try:
        before = checkpoint_size(base)
        t0 = time.monotonic()
        if shutil.which("wrk") and not args.httpx:
            w = run_wrk(base, bodies_file, script, args.duration, args.connections)
        else:
            w = run_httpx(base, bodies, args.duration, args.connections)
        elapsed = time.monotonic() - t0
        after = checkpoint_size(base)
    finally:
        stop_servers(procs)
    rate = (after - before) / elapsed
    return Result(label, n, rate, w["p50"], w["p99"], w["socket_errors"], w["non2xx"])


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per configuration")
    ap.add_argument("--connections", type=int, default=256)
    ap.add_argument("--processes", default="1,2,4", help="PostgreSQL process counts")
    ap.add_argument("--dsn", help="an existing PostgreSQL (default: a throwaway cluster)")
    ap.add_argument("--httpx", action="store_true", help="use the httpx generator, not wrk")
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument(
        "--switch-interval",
        type=float,
        default=0.0,
        help="sys.setswitchinterval in the API processes (default 0: Python's own, 5 ms)",
    )
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT))
    from sceau.keys import generate_signer, save_signer

    work = Path(tempfile.mkdtemp(prefix="sceau-scale-"))
    cluster = None
    try:
        dsn = args.dsn
        if dsn is None:
            from tests.pg import Cluster

            cluster = Cluster()
            dsn = cluster.start()
        save_signer(generate_signer("ecdsa-p256"), work / "v1.pem")
        save_signer(generate_signer("ed25519"), work / "v2.pem")
        n_bodies = int(args.duration * 4000) + 10_000
        t = time.monotonic()
        bodies = signed_requests(n_bodies)
        (work / "bodies.jsonl").write_bytes(b"\n".join(bodies) + b"\n")
        script = work / "bench.lua"
        script.write_text(LUA.replace('"%s"', json.dumps(ENTRIES_PATH)))
        print(
            f"{n_bodies} signed hashedrekord v0.0.2 requests in {time.monotonic() - t:.1f} s;"
            f" {args.connections} connections, {args.duration:.0f} s per configuration,"
            f" GIL switch interval {args.switch_interval or 0.005} s"
        )
        keys = ["--keys", str(work), "--switch-interval", str(args.switch_interval)]
        results = []
        if not args.skip_sqlite:
            results.append(
                measure(
                    "sqlite",
                    1,
                    ["--driver", "sqlite", "--db", str(work / "log.sqlite"), *keys],
                    args,
                    work / "bodies.jsonl",
                    script,
                    bodies,
                    work,
                )
            )
            print(_row(results[-1]), flush=True)
        for n in [int(x) for x in args.processes.split(",")]:
            schema = f"bench_{n}_{uuid.uuid4().hex[:8]}"
            results.append(
                measure(
                    "postgres",
                    n,
                    ["--driver", "postgres", "--dsn", dsn, "--schema", schema, *keys],
                    args,
                    work / "bodies.jsonl",
                    script,
                    bodies,
                    work,
                )
            )
            print(_row(results[-1]), flush=True)
        pg = {r.processes: r for r in results if r.label == "postgres"}
        if 1 in pg:
            for n, r in sorted(pg.items()):
                print(f"scaling postgres x{n} / x1: {r.entries_per_s / pg[1].entries_per_s:.2f}")
        sq = next((r for r in results if r.label == "sqlite"), None)
        if sq is not None and pg:
            best = max(pg.values(), key=lambda r: r.entries_per_s)
            print(
                f"best postgres (x{best.processes}) / sqlite: "
                f"{best.entries_per_s / sq.entries_per_s:.2f}"
            )
        for r in (r for r in pg.values() if r.processes >= 2):
            hit = r.entries_per_s >= 1000 and r.p99_ms <= 1500
            print(
                f"target (postgres, 2+ processes: >= 1000 entries/s, p99 <= 1.5 s): "
                f"x{r.processes} {'met' if hit else 'NOT met'}"
            )
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


def _row(r: Result) -> str:
    return (
        f"{r.label:>8} x{r.processes}: {r.entries_per_s:8.0f} entries/s  "
        f"p50 {r.p50_ms:7.1f} ms  p99 {r.p99_ms:7.1f} ms  "
        f"non-2xx {r.duplicates}  socket errors {r.errors}"
    )


if __name__ == "__main__":
    main()
