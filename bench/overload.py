"""What a `sceau serve` instance does when offered more writes than it can take.

Starts a real instance (SQLite), measures its capacity for Rekor v1 entries (closed loop,
many connections, after a warm-up), then offers 1×, 2× and 4× that rate open-loop
(`bench/loadgen.py`: requests go out on schedule whatever the server does; latency from
each request's due time). Prints, per load: accepted requests/s, accepted p50/p99, the
shed fraction (503 + Retry-After), refusal p99, and anything else (errors, timeouts).

    python bench/overload.py [--seconds 5] [--loads 1,2,4] [--connections 3000]

The target (issue "safe to expose"): p99 of accepted requests ≤ 2 s at 2× capacity, the
rest refused with 503 + Retry-After, nothing lost (every accepted entry is in the log,
no refused one is).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loadgen import LoadResult, closed_loop, open_loop, percentile
from bench.local_server import free_port, wait_until_ok
from bench.signed_requests import signed_requests

ENDPOINTS = {"rekor": "/api/v1/log/entries", "ca": "/api/v2/signingCert"}


@dataclass
class Workload:
    """What to offer: a path, distinct request bodies, headers for all of them."""

    path: str
    bodies: list[bytes]
    headers: dict[str, str]


def workload(endpoint: str, count: int, inst: Instance) -> Workload:
    """``count`` requests for ``endpoint``: distinct signed Rekor v1 entries, or CA
    requests (one CSR and one dev token, reused: the CA keeps no state per request)."""
    if endpoint == "rekor":
        return Workload(ENDPOINTS[endpoint], signed_requests(count, "v1", certificates=16), {})
    import base64
    import json

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(key, hashes.SHA256())
    )
    pem = csr.public_bytes(serialization.Encoding.PEM)
    body = json.dumps({"certificateSigningRequest": base64.b64encode(pem).decode()}).encode()
    sceau = Path(sys.executable).with_name("sceau")
    token = subprocess.run(
        [str(sceau), "dev-token", "--dir", str(inst.directory), "--email", "load@example.com"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return Workload(ENDPOINTS[endpoint], [body] * count, {"Authorization": f"Bearer {token}"})


@dataclass
class Instance:
    directory: Path
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def instance(workdir: Path, http: dict[str, object] | None = None) -> Iterator[Instance]:
    """A fresh instance served by `sceau serve` on a free port; ``http``: `[http]` keys."""
    port = free_port()
    directory = workdir / f"instance-{port}"
    sceau = Path(sys.executable).with_name("sceau")
    subprocess.run(
        [str(sceau), "init", "--dir", str(directory), "--url", f"http://127.0.0.1:{port}"],
        check=True,
        capture_output=True,
    )
    if http:
        lines = "".join(f"{k} = {v!r}\n" for k, v in http.items())
        with open(directory / "sceau.toml", "a") as f:
            f.write(f"\n[http]\n{lines}")
    proc = subprocess.Popen(
        [str(sceau), "serve", "--dir", str(directory), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_ok(f"http://127.0.0.1:{port}/healthz", [proc])
        yield Instance(directory, port, proc)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def capacity(inst: Instance, work: Workload, seconds: float = 3.0) -> tuple[float, int]:
    """Successes/s with 256 busy connections, after three seconds of warm-up (the admission
    gate starts small and grows to what the server does); bodies used."""
    loop = closed_loop("127.0.0.1", inst.port, work.path, work.bodies, connections=256,
                       seconds=3, headers=work.headers)  # fmt: skip
    _, used = _run(loop)
    loop = closed_loop("127.0.0.1", inst.port, work.path, work.bodies[used:], connections=256,
                       seconds=seconds, headers=work.headers)  # fmt: skip
    rate, more = _run(loop)
    return rate, used + more


def offer(
    inst: Instance, work: Workload, bodies: list[bytes], rate: float, seconds: float,
    connections: int,
) -> LoadResult:  # fmt: skip
    return _run(
        open_loop(
            "127.0.0.1",
            inst.port,
            work.path,
            bodies,
            rate=rate,
            seconds=seconds,
            preopen=connections,
            max_connections=connections * 2,
            headers=work.headers,
        )
    )


def _run(coro):  # type: ignore[no-untyped-def]
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)


def report(multiple: float, result: LoadResult) -> str:
    accepted = result.latencies(200, 201)
    refused = result.refused()
    other = {s: n for s, n in result.by_status().items() if s not in (200, 201, 503)}
    total = len(result.outcomes) or 1
    return (
        f"{multiple:>3g}x  offered {result.offered_rate:7.0f}/s  "
        f"accepted {len(accepted) / result.seconds:7.0f}/s  "
        f"p50 {percentile(accepted, 50):5.2f} s  p99 {percentile(accepted, 99):5.2f} s  "
        f"shed {len(refused) / total:5.1%} "
        f"(p99 {percentile([o.latency for o in refused], 99):4.2f} s, "
        f"Retry-After {sum(o.retry_after for o in refused)}/{len(refused)})  "
        f"other {other or '-'}  late starts {result.late_starts}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--loads", default="1,2,4")
    parser.add_argument("--connections", type=int, default=3000)
    parser.add_argument("--endpoint", choices=sorted(ENDPOINTS), default="rekor")
    args = parser.parse_args()
    loads = [float(x) for x in args.loads.split(",")]
    with tempfile.TemporaryDirectory() as tmp, instance(Path(tmp)) as inst:
        begin = time.monotonic()
        work = workload(args.endpoint, int(60_000 + sum(loads) * 6_000 * args.seconds), inst)
        print(f"{len(work.bodies)} requests for {work.path} made in "
              f"{time.monotonic() - begin:.1f} s")  # fmt: skip
        cap, used = capacity(inst, work)
        print(f"capacity: {cap:.0f}/s (closed loop, 256 connections)")
        for multiple in loads:
            rate = cap * multiple
            need = int(rate * args.seconds)
            bodies = work.bodies[used : used + need]
            result = offer(inst, work, bodies, rate, args.seconds, args.connections)
            used += need
            print(report(multiple, result), flush=True)
            time.sleep(2)  # let the queue drain between loads


if __name__ == "__main__":
    main()
