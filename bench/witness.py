"""Benchmark: witness cosignatures/s, and what cosigning costs a log's write path.

1. ``cosign``: a ``sceau witness`` server process witnessing ``--logs`` logs; clients submit
   prepared add-checkpoint requests (each log grows by ``--step`` entries per checkpoint,
   with its consistency proof), one request in flight per log, all logs at once. Reports
   cosignatures/s: each is a signature check, a proof check, an fsync'd SQLite update and
   an Ed25519 cosignature.
2. ``write path``: the log engine in this process (memory storage) appended to by
   ``--writers`` concurrent tasks, plain and then wrapped in the cosigning log with two
   witness processes and a quorum of two. Reports appends/s and the median append latency
   of each: the cost of carrying cosignatures in every answer.

    .venv/bin/python bench/witness.py [--logs 8] [--requests 300] [--entries 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from local_server import free_port, wait_until_ok  # bench/ is sys.path[0]
from sceau import merkle
from sceau.keys import generate_signer
from sceau.log import LogConfig, LogEngine
from sceau.log.cosigning import (
    CosignedLog,
    Cosigner,
    CosigningSettings,
    WitnessEndpoint,
    add_checkpoint_body,
)
from sceau.log.memory import MemoryStorage
from sceau.note import Checkpoint, format_vkey, note_signer, parse_vkey, sign_note
from sceau.services.witness import init_witness


def start_witness(directory: Path, name: str, log_vkeys: list[str]) -> tuple:
    vkey = init_witness(directory, name, log_vkeys)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sceau", "witness", "--dir", str(directory),
         "--port", str(port), "--log-level", "warning"],
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_until_ok(f"{url}/healthz", [proc], 30)
    return proc, url, vkey


def prepared_requests(origin: str, count: int, step: int) -> tuple[str, list[bytes]]:
    """A log's vkey and ``count`` successive add-checkpoint bodies (old size, proof, note)."""
    signer = note_signer(origin, generate_signer("ed25519"))
    leaves: list[bytes] = []
    bodies = []
    old = 0
    for _ in range(count):
        leaves += [merkle.leaf_hash(os.urandom(16)) for _ in range(step)]
        size = len(leaves)
        note = sign_note(Checkpoint(origin, size, merkle.tree_root(leaves)).body(), [signer])
        proof = merkle.consistency_proof(old, leaves) if old else []
        bodies.append(add_checkpoint_body(old, proof, note))
        old = size
    return format_vkey(signer), bodies


async def submit_all(url: str, per_log: list[list[bytes]]) -> float:
    async with httpx.AsyncClient(timeout=30) as client:

        async def one_log(bodies: list[bytes]) -> None:
            for body in bodies:
                r = await client.post(f"{url}/add-checkpoint", content=body)
                if r.status_code != 200:
                    raise SystemExit(f"witness answered {r.status_code}: {r.text}")

        start = time.perf_counter()
        await asyncio.gather(*(one_log(b) for b in per_log))
        return time.perf_counter() - start


def bench_cosign(tmp: Path, logs: int, requests: int, step: int) -> None:
    prepared = [prepared_requests(f"bench.example/log{i}", requests, step) for i in range(logs)]
    proc, url, _ = start_witness(tmp / "cosign", "bench.example/w", [v for v, _ in prepared])
    try:
        elapsed = asyncio.run(submit_all(url, [b for _, b in prepared]))
    finally:
        proc.terminate()
        proc.wait()
    total = logs * requests
    rate = total / elapsed
    print(f"witness: {total} cosignatures over HTTP in {elapsed:.2f}s = {rate:,.0f} "
          f"cosignatures/s ({logs} logs at once, +{step} entries each)")  # fmt: skip


async def appends(log: object, entries: int, writers: int) -> tuple[float, float]:
    latencies: list[float] = []
    queue = iter(range(entries))

    async def writer() -> None:
        for _ in queue:
            t = time.perf_counter()
            await log.append(os.urandom(64))  # type: ignore[attr-defined]
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    return entries / (time.perf_counter() - start), statistics.median(latencies)


async def write_path(tmp: Path, entries: int, writers: int) -> None:
    signer = generate_signer("ed25519")
    origin = "bench.example/rekor"
    vkey = format_vkey(note_signer(origin, signer))
    procs, endpoints = [], []
    for i in (1, 2):
        proc, url, wvkey = start_witness(tmp / f"w{i}", f"bench.example/w{i}", [vkey])
        procs.append(proc)
        endpoints.append(WitnessEndpoint(url, wvkey, parse_vkey(wvkey)))
    try:
        for cosigned in (False, True):
            engine = LogEngine(MemoryStorage())
            log = engine.add_log(LogConfig("l", origin, [note_signer(origin, signer)]))
            await engine.start()
            target: object = log
            task = None
            cosigner = None
            if cosigned:
                cosigner = Cosigner(log, CosigningSettings(tuple(endpoints), 2, 5.0))
                target = CosignedLog(log, cosigner)
                task = asyncio.create_task(cosigner.run())
            rate, p50 = await appends(target, entries, writers)
            what = "with 2 witnesses (quorum 2)" if cosigned else "without witnesses"
            extra = ""
            if cosigner is not None:
                extra = f", {cosigner.rounds} cosigning rounds"
            print(f"log write path {what}: {rate:,.0f} appends/s, median latency "
                  f"{p50 * 1000:.1f} ms{extra}")  # fmt: skip
            if task is not None and cosigner is not None:
                task.cancel()
                await cosigner.aclose()
            await engine.close()
    finally:
        for p in procs:
            p.terminate()
            p.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--logs", type=int, default=8)
    ap.add_argument("--requests", type=int, default=300, help="checkpoints per log")
    ap.add_argument("--step", type=int, default=16, help="entries per checkpoint")
    ap.add_argument("--entries", type=int, default=20000, help="appends per write-path run")
    ap.add_argument("--writers", type=int, default=512)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        bench_cosign(Path(d), args.logs, args.requests, args.step)
        asyncio.run(write_path(Path(d), args.entries, args.writers))


if __name__ == "__main__":
    main()
