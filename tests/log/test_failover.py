"""Failover: three Rekor API processes on one PostgreSQL; SIGKILL the sequencing one.

Each process is the real Rekor service (``build_rekor``) over its own engine and its own
:class:`PostgresStorage`; they take turns to sequence under the database lock. While
clients append signed hashedrekord v2 entries to all three, the process that holds the
lock at that instant is SIGKILLed. Then: every acknowledged entry is in the log at its
index, every checkpoint anyone saw is a prefix of the final tree (consistency proofs),
and appends went on through the survivors within seconds.

Run as ``python -m tests.log.test_failover serve ...`` this module is one API process.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.signed_requests import signed_requests

ROOT = Path(__file__).resolve().parents[2]
URL = "http://rekor.failover.test"
V2_LOG = "rekor-v2"


# -- one API process --------------------------------------------------------------------


def serve(argv: list[str]) -> None:
    import uvicorn

    from sceau.keys import load_signer
    from sceau.log import LogEngine
    from sceau.log.postgres import PostgresStorage
    from sceau.services.rekor.service import RekorConfig, build_rekor

    p = argparse.ArgumentParser()
    p.add_argument("--dsn", required=True)
    p.add_argument("--schema", required=True)
    p.add_argument("--keys", type=Path, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--name", required=True)
    a = p.parse_args(argv)
    storage = PostgresStorage(a.dsn, schema=a.schema, application_name=a.name)
    engine = LogEngine(storage, batch_interval=0.02)
    rekor = build_rekor(
        engine, RekorConfig(URL, load_signer(a.keys / "v1.pem"), load_signer(a.keys / "v2.pem"))
    )
    uvicorn.run(rekor.app(engine), host="127.0.0.1", port=a.port, log_level="warning")


# -- the test ------------------------------------------------------------------------------


@dataclass
class Worker:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    alive: bool = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Observed:
    # (time sent, time acknowledged, index, entry)
    acks: list[tuple[float, float, int, dict]] = field(default_factory=list)
    dups: list[int] = field(default_factory=list)
    checkpoints: set[str] = field(default_factory=set)
    failures: int = 0


def _start_workers(n: int, dsn: str, schema: str, keys: Path) -> list[Worker]:
    from tests.serving import free_port

    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'src'}")
    workers = []
    for i in range(n):
        port = free_port()
        args = [
            "--dsn",
            dsn,
            "--schema",
            schema,
            "--keys",
            str(keys),
            "--port",
            str(port),
            "--name",
            f"fo-w{i}",
        ]
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.log.test_failover", "serve", *args], cwd=ROOT, env=env
        )
        workers.append(Worker(f"fo-w{i}", port, proc))
    return workers


async def _wait_ready(client, workers: list[Worker], timeout: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    for w in workers:
        while True:
            try:
                if (await client.get(w.url + "/api/v2/checkpoint")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if w.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"API process {w.name} did not start")
            await asyncio.sleep(0.1)


def _lease_holder(dsn: str, key: int) -> str | None:
    import psycopg

    classid, objid = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    with psycopg.connect(dsn, autocommit=True) as c:
        row = c.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s",
            (classid, objid),
        ).fetchone()
    return None if row is None else str(row[0]).split(":")[0]


async def _drive(workers, entries, dsn, lock_key, seen: Observed, after_kill: float):
    """Append from 32 clients over all live workers; kill the lease holder mid-stream."""
    import httpx

    from sceau.merkle.tiles import tile_path

    queue = list(reversed(entries))
    stop = asyncio.Event()
    killed: dict[str, float] = {}
    rr = 0

    async def client_loop(client):
        nonlocal rr
        while queue and not stop.is_set():
            body = queue.pop()
            for _ in range(6):
                live = [w for w in workers if w.alive]
                w = live[rr % len(live)]
                rr += 1
                sent = time.monotonic()
                try:
                    r = await client.post(
                        w.url + "/api/v2/log/entries",
                        content=body,
                        headers={"content-type": "application/json"},
                    )
                except httpx.TransportError:
                    seen.failures += 1
                    if w.proc.poll() is not None:
                        w.alive = False
                    continue
                if r.status_code == 201:
                    e = r.json()
                    seen.acks.append((sent, time.monotonic(), int(e["logIndex"]), e))
                    seen.checkpoints.add(e["inclusionProof"]["checkpoint"]["envelope"])
                    break
                if r.status_code == 409:  # an earlier, unacknowledged try made it in
                    seen.dups.append(int(r.headers["x-log-index"]))
                    break
                seen.failures += 1
                await asyncio.sleep(0.05)

    async def poll_checkpoints(client):
        while not stop.is_set():
            for w in [w for w in workers if w.alive]:
                try:
                    r = await client.get(w.url + "/api/v2/checkpoint")
                    if r.status_code == 200:
                        seen.checkpoints.add(r.text)
                except httpx.TransportError:
                    pass
            await asyncio.sleep(0.05)

    async def killer():
        while len(seen.acks) < 400:
            await asyncio.sleep(0.01)
        loop = asyncio.get_running_loop()
        while True:
            holder = await loop.run_in_executor(None, _lease_holder, dsn, lock_key)
            victim = next((w for w in workers if w.name == holder), None)
            if victim is not None:
                victim.proc.send_signal(signal.SIGKILL)
                victim.alive = False  # the load balancer's health check, in effect
                killed[victim.name] = time.monotonic()
                break
        await asyncio.sleep(after_kill)
        stop.set()

    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(timeout=20, limits=limits) as client:
        await _wait_ready(client, workers)
        tasks = [asyncio.create_task(client_loop(client)) for _ in range(32)]
        tasks += [asyncio.create_task(poll_checkpoints(client)), asyncio.create_task(killer())]
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=90)
        survivor = next(w for w in workers if w.alive and w.proc.poll() is None)
        final = (await client.get(survivor.url + "/api/v2/checkpoint")).text
        size = int(final.split("\n")[1])
        bundles = []
        for t in range((size + 255) // 256):
            width = min(256, size - t * 256)
            path = tile_path(-1, t, width)
            r = await client.get(f"{survivor.url}/api/v2/{path}")
            assert r.status_code == 200, (path, r.status_code)
            bundles.append(r.content)
    return killed, final, bundles


@pytest.mark.slow
@pytest.mark.server
def test_sigkill_of_the_sequencing_process_loses_nothing_and_appends_continue(pg_dsn, tmp_path):
    from sceau.keys import generate_signer, save_signer
    from sceau.log.integrate import split_bundle
    from sceau.log.postgres import lock_key
    from sceau.merkle import (
        consistency_proof,
        leaf_hash,
        tree_root,
        verify_consistency,
        verify_inclusion,
    )
    from sceau.note import open_checkpoint
    from sceau.services.rekor.logs import host_of
    from tests.pg import fresh_schema

    schema = fresh_schema("failover")
    v2 = generate_signer("ed25519")
    save_signer(generate_signer("ecdsa-p256"), tmp_path / "v1.pem")
    save_signer(v2, tmp_path / "v2.pem")
    entries = signed_requests(8_000)
    workers = _start_workers(3, pg_dsn, schema, tmp_path)
    seen = Observed()
    try:
        killed, final, bundles = asyncio.run(
            _drive(workers, entries, pg_dsn, lock_key(schema, V2_LOG), seen, after_kill=3.0)
        )
    finally:
        survivors = [w.proc.poll() is None for w in workers if w.alive]
        for w in workers:
            if w.proc.poll() is None:
                w.proc.terminate()
        for w in workers:
            w.proc.wait(timeout=20)

    # The victim held the lock when it died; the other two kept going.
    assert len(killed) == 1
    (t_kill,) = killed.values()
    # Appends sent after the kill were acknowledged by the survivors, and soon.
    later = sorted(acked for sent, acked, _, _ in seen.acks if sent > t_kill)
    print(
        f"failover: killed {list(killed)} holding the lease; {len(seen.acks)} acknowledged "
        f"({len(later)} sent after the kill, first acknowledged "
        f"{later[0] - t_kill if later else -1:.3f} s after it), "
        f"{len(seen.dups)} duplicates, {seen.failures} failed tries, "
        f"{len(seen.checkpoints)} checkpoints observed"
    )
    assert survivors == [True, True]  # both still serving at the end
    (victim,) = [w for w in workers if not w.alive]
    assert victim.proc.returncode == -signal.SIGKILL
    assert later and later[0] - t_kill < 3.0, "appends did not resume within 3 s"
    assert len(later) >= 100

    from sceau.note import note_verifier

    verifier = note_verifier(host_of(URL), v2.public_key())
    leaves_entries = [e for b in bundles for e in split_bundle(b)]
    leaves = [leaf_hash(e) for e in leaves_entries]
    head = open_checkpoint(final, [verifier])
    assert head.size == len(leaves) and tree_root(leaves) == head.root_hash
    assert len(set(leaves)) == len(leaves)  # no entry twice, no index reused

    # Every acknowledged entry is at its index, with a proof that verifies.
    indexes = [i for _, _, i, _ in seen.acks]
    assert len(set(indexes)) == len(indexes)
    for _, _, index, e in seen.acks:
        body = base64.b64decode(e["canonicalizedBody"])
        assert leaves_entries[index] == body
        p = e["inclusionProof"]
        verify_inclusion(
            index,
            int(p["treeSize"]),
            leaf_hash(body),
            [base64.b64decode(h) for h in p["hashes"]],
            base64.b64decode(p["rootHash"]),
        )
    assert all(i < head.size for i in seen.dups)

    # Every checkpoint anyone saw is consistent with the final tree.
    sizes = set()
    for note in seen.checkpoints:
        cp = open_checkpoint(note, [verifier])
        proof = consistency_proof(cp.size, leaves)
        verify_consistency(cp.size, head.size, proof, cp.root_hash, head.root_hash)
        sizes.add(cp.size)
    assert len(sizes) > 10


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"]:
        sys.exit("usage: python -m tests.log.test_failover serve --dsn ... --port ...")
    serve(sys.argv[2:])
