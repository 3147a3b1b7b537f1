"""Two HTTP worker processes feeding one sequencer process behave like one server."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from bench.local_server import free_port, wait_until_ok
from sceau import merkle
from sceau.note import note_verifier, open_checkpoint
from tests.rekor import helpers as h

pytestmark = pytest.mark.server
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workers(tmp_path: Path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.rekor.workers_main", str(tmp_path), str(port)],
        cwd=ROOT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ok(f"{base}/api/v1/log", [proc])
        yield base, tmp_path, port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_two_workers_one_sequencer(workers) -> None:
    base, directory, port = workers
    host = f"127.0.0.1:{port}"
    v2_key = serialization.load_pem_public_key((directory / "v2.pub").read_bytes())
    requests = [h.hashedrekord_v2()[0] for _ in range(40)]

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            return await asyncio.gather(
                *[client.post("/api/v2/log/entries", json=r) for r in requests]
            )

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [201] * 40
    indexes = sorted(int(r.json()["logIndex"]) for r in responses)
    assert indexes == list(range(1, 41))  # one sequencer: contiguous, genesis at 0
    for r in responses:
        value = r.json()
        proof = value["inclusionProof"]
        cp = open_checkpoint(proof["checkpoint"]["envelope"], [note_verifier(host, v2_key)])
        merkle.verify_inclusion(
            int(value["logIndex"]),
            cp.size,
            merkle.leaf_hash(base64.b64decode(value["canonicalizedBody"])),
            [base64.b64decode(x) for x in proof["hashes"]],
            cp.root_hash,
        )

    dup = httpx.post(f"{base}/api/v2/log/entries", json=requests[0])
    assert dup.status_code == 409
    assert dup.headers["x-log-index"] == responses[0].json()["logIndex"]

    v1 = httpx.post(f"{base}/api/v1/log/entries", json=h.hashedrekord_v1()[0])
    assert v1.status_code == 201
    ((entry_id, entry),) = v1.json().items()
    got = httpx.get(f"{base}/api/v1/log/entries/{entry_id}")
    assert got.json()[entry_id]["body"] == entry["body"]
    found = httpx.post(f"{base}/api/v1/index/retrieve", json={"email": h.EMAIL}).json()
    assert entry_id in found
    assert httpx.get(f"{base}/api/v2/checkpoint").text.startswith(f"{host}\n")
    bad = httpx.get(f"{base}/api/v1/log/entries", params={"logIndex": 10**6})
    assert bad.status_code == 404  # NotFound crosses the process boundary with its status
