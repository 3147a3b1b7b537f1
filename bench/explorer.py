"""Benchmark: explorer page latency on a large log, and what explorer traffic costs writes.

1. ``sceau init`` an instance and fill its Rekor v1 log with ``--entries`` hashedrekord
   leaves (default 1,000,000) through the log engine, each filed under the search terms an
   HTTP append files (artifact hash, key, e-mail, subject, serial; 16 signers). The
   signatures are placeholders: the explorer shows entries, it does not check signatures.
2. ``sceau serve`` it and time, one request at a time, ``--requests`` of each: search by
   e-mail (first and 50th page), by artifact SHA-256, by log index, and the entry page.
   Prints p50/p99 in ms.
3. Write throughput under explorer traffic: pre-generated signed v1 requests driven by wrk
   as in ``bench/rekor_http.py`` for ``--seconds``, alternately without and with explorer
   requests at ``--explorer-rate`` per second (open loop, a mix of the pages above), for
   ``--rounds`` pairs. Prints each round and the drop of the median write rate.

    .venv/bin/python bench/explorer.py [--entries 1000000] [--requests 300] [--seconds 15]
        [--rounds 2] [--explorer-rate 50] [--connections 64]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from local_server import free_port, wait_until_ok  # bench/ is sys.path[0]
from rekor_http import LUA, _ms, generate, run_httpx, run_wrk

SIGNERS = 16
CHUNK = 8192


def certificates(n: int) -> list[tuple[str, str, str, str]]:
    """``n`` self-signed P-256 certificates with an e-mail SAN:
    (b64 PEM, key term hex, e-mail, serial hex)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    out = []
    for k in range(n):
        key = ec.generate_private_key(ec.SECP256R1())
        email = f"bench{k}@example.com"
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sceau explorer bench")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(minutes=10))
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
            .sign(key, hashes.SHA256())
        )
        pem = cert.public_bytes(serialization.Encoding.PEM)
        out.append(
            (
                base64.b64encode(pem).decode(),
                hashlib.sha256(pem).hexdigest(),
                email,
                format(cert.serial_number, "x"),
            )
        )
    return out


SIGNATURE = base64.b64encode(bytes(range(70))).decode()


def digest(i: int) -> str:
    return hashlib.sha256(b"explorer bench %d" % i).hexdigest()


def leaf(i: int, certs: list[tuple[str, str, str, str]]) -> tuple[bytes, list[str]]:
    """The canonical (JCS) hashedrekord 0.0.1 leaf for artifact ``i`` and its terms."""
    pem, key_hex, email, serial = certs[i % len(certs)]
    h = digest(i)
    body = (
        '{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":'
        f'{{"algorithm":"sha256","value":"{h}"}}}},"signature":{{"content":"{SIGNATURE}",'
        f'"publicKey":{{"content":"{pem}"}}}}}}}}'
    ).encode()
    terms = [f"hash:sha256:{h}", f"key:{key_hex}", f"email:{email}", f"subject:{email}",
             f"serial:{serial}"]  # fmt: skip
    return body, terms


async def fill(directory: Path, entries: int, certs: list[tuple[str, str, str, str]]) -> None:
    from sceau.config import InstanceConfig
    from sceau.instance.app import log_engine

    engine = log_engine(InstanceConfig.load(directory))
    await engine.start(create=False)
    try:
        lg = engine.log("rekor-v1")
        start = time.monotonic()
        for first in range(0, entries, CHUNK):
            leaves = [leaf(i, certs) for i in range(first, min(entries, first + CHUNK))]
            await asyncio.gather(*(lg.append(b, keys=t) for b, t in leaves))
            done = min(entries, first + CHUNK)
            if done % (CHUNK * 16) < CHUNK or done == entries:
                rate = done / (time.monotonic() - start)
                print(f"  filled {done:,} entries ({rate:,.0f}/s)", flush=True)
    finally:
        await engine.close()


def leaf_uuid(i: int, certs: list[tuple[str, str, str, str]]) -> str:
    return hashlib.sha256(b"\x00" + leaf(i, certs)[0]).hexdigest()


def explorer_paths(entries: int, certs: list[tuple[str, str, str, str]]) -> dict[str, object]:
    """Name → a function giving a random path of that kind."""
    rnd = random.Random(7)
    return {
        "search e-mail (page 1)": lambda: f"/search?q={rnd.choice(certs)[2]}",
        "search e-mail (page 50)": lambda: f"/search?q={rnd.choice(certs)[2]}&page=50",
        "search SHA-256": lambda: f"/search?q={digest(rnd.randrange(entries))}",
        "search log index": lambda: f"/search?q={rnd.randrange(1, entries + 1)}",
        "entry page": lambda: f"/entry/{leaf_uuid(rnd.randrange(entries), certs)}",
    }


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def latencies(base: str, paths: dict[str, object], requests: int) -> float:
    """Print p50/p99 per kind of request; return the overall p50 (ms)."""
    import httpx

    every: list[float] = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for name, make in paths.items():
            times = []
            for _ in range(requests):
                path = make()  # type: ignore[operator]
                t0 = time.perf_counter()
                r = client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    raise SystemExit(f"{path} answered {r.status_code}: {r.text[:300]}")
            every += times
            print(
                f"  {name:26s} p50 {pct(times, 0.5):7.1f} ms   p99 {pct(times, 0.99):7.1f} ms"
                f"   ({requests} requests)"
            )
    return pct(every, 0.5)


EXPLORER_LUA = r"""
local paths = {}
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do table.insert(paths, line) end
  gap = tonumber(args[2])
  counter = id * 7919
end

function delay()
  return gap
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""


class ExplorerLoad:
    """Explorer traffic at about ``rate`` requests/s from a second wrk (C, cheap: the
    load generator must not take the CPU the server needs): ``connections`` connections,
    each pausing ``connections / rate`` seconds between requests."""

    def __init__(self, base: str, paths: dict[str, object], rate: float, seconds: int,
                 tmp: Path, connections: int = 20, latency_ms: float = 5) -> None:  # fmt: skip
        makers = list(paths.values())
        lines = [makers[n % len(makers)]() for n in range(5000)]  # type: ignore[operator]
        self.paths = tmp / "explorer-paths.txt"
        self.paths.write_text("\n".join(lines) + "\n")
        self.script = tmp / "explorer.lua"
        self.script.write_text(EXPLORER_LUA % {})
        # Each connection waits gap + response time between requests: aim the sum at
        # connections / rate, with the response time measured beforehand.
        gap_ms = max(1, int(1000 * connections / rate - latency_ms))
        self.cmd = [
            "wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds + 2}s", "--latency",
            "--timeout", "10s", "-s", str(self.script), base + "/", "--",
            str(self.paths), str(gap_ms),
        ]  # fmt: skip
        self.result: dict[str, float] = {}

    def __enter__(self) -> ExplorerLoad:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *exc: object) -> None:
        out, _ = self.proc.communicate(timeout=120)
        total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        seconds = _ms(re.search(r"requests in ([\d.]+\w+),", out).group(1)) / 1000  # type: ignore[union-attr]
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        self.result = {
            "rate": total / seconds,
            "p50": _ms(re.search(r"\s50%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
            "p99": _ms(re.search(r"\s99%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
            "failed": int(bad.group(1)) if bad else 0,
        }


def write_round(base: str, args: argparse.Namespace, bodies: Path, use_wrk: bool) -> float:
    """One timed write load from the pre-generated ``bodies`` (generated beforehand, so
    signing them does not compete with the server during the round)."""
    if use_wrk:
        script = bodies.with_suffix(".lua")
        script.write_text(LUA % {"path": "/api/v1/log/entries"})
        r = run_wrk(base, "/api/v1/log/entries", args.seconds, args.connections, 1, script,
                    [str(bodies), "1"])  # fmt: skip
    else:
        r = asyncio.run(run_httpx(base, "/api/v1/log/entries", args.seconds, args.connections,
                                  bodies.read_bytes().splitlines()))  # fmt: skip
    return float(r["rate"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--entries", type=int, default=1_000_000)
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--seconds", type=int, default=15)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--explorer-rate", type=float, default=50)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--max-rate", type=int, default=3000, help="write requests/s to pre-generate")
    p.add_argument("--dir", type=Path, help="keep the filled instance here; reuse it if it exists")
    args = p.parse_args()
    use_wrk = shutil.which("wrk") is not None
    if not use_wrk:
        raise SystemExit("bench/explorer.py needs wrk (apt-get install -y wrk)")

    with tempfile.TemporaryDirectory(prefix="sceau-explorer-bench-") as tmp_name:
        tmp = Path(tmp_name)
        directory = args.dir or tmp / "sceau"
        sceau = [sys.executable, "-m", "sceau"]
        if (directory / "certs.json").exists():
            certs = [tuple(c) for c in json.loads((directory / "certs.json").read_text())]
            saved = json.loads((directory / "bench.json").read_text())
            url, args.entries = saved["url"], saved["entries"]
            print(f"reusing the instance in {directory} ({args.entries:,} entries filled)")
        else:
            url = f"http://127.0.0.1:{free_port()}"
            subprocess.run([*sceau, "init", "--dir", str(directory), "--url", url],
                           check=True, capture_output=True)  # fmt: skip
            certs = certificates(SIGNERS)
            print(f"filling Rekor v1 with {args.entries:,} entries ({SIGNERS} signers, 5 terms)")
            t0 = time.monotonic()
            asyncio.run(fill(directory, args.entries, certs))
            print(f"  done in {time.monotonic() - t0:.0f} s")
            (directory / "bench.json").write_text(json.dumps({"url": url, "entries": args.entries}))
            (directory / "certs.json").write_text(json.dumps(certs))

        log = (tmp / "serve.log").open("wb")
        proc = subprocess.Popen(
            [*sceau, "serve", "--dir", str(directory), "--log-level", "warning"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_until_ok(f"{url}/healthz", [proc], 120)
            paths = explorer_paths(args.entries, certs)
            print(f"explorer latency, one request at a time, log of {args.entries + 1:,} entries:")
            p50 = latencies(url, paths, args.requests)

            print(
                f"write throughput ({'wrk' if use_wrk else 'httpx'}, {args.connections} "
                f"connections, {args.seconds} s rounds), without / with explorer traffic at "
                f"{args.explorer_rate:g} req/s:"
            )
            without, with_load = [], []
            sets = []
            for n in range(2 * args.rounds):  # distinct entries for every round
                sets.append(tmp / f"bodies-{n}.jsonl")
                generate(args.max_rate * args.seconds, "v1", sets[-1])
            for n in range(args.rounds):
                without.append(write_round(url, args, sets[2 * n], use_wrk))
                load = ExplorerLoad(
                    url, paths, args.explorer_rate, args.seconds, tmp, latency_ms=p50
                )
                with load:
                    with_load.append(write_round(url, args, sets[2 * n + 1], use_wrk))
                r = load.result
                print(
                    f"  round {n + 1}: {without[-1]:,.0f} entries/s without, "
                    f"{with_load[-1]:,.0f} with ({r['rate']:.0f} explorer req/s served, "
                    f"p50 {r['p50']:.0f} ms, p99 {r['p99']:.0f} ms, {r['failed']:.0f} failed)"
                )
            a, b = statistics.median(without), statistics.median(with_load)
            drop = (a - b) / a
            print(f"median write rate: {a:,.0f} -> {b:,.0f} entries/s ({drop:+.1%} drop)")
            print("target (drop <= 10 %):", "met" if drop <= 0.10 else "NOT met")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
