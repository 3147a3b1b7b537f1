"""Crash safety: SIGKILL an appending engine process, restart, check nothing acked is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sceau.keys import generate_signer, save_signer
from sceau.log import LogConfig, LogEngine
from sceau.log.sqlite import SQLiteStorage
from sceau.merkle import leaf_hash, verify_consistency
from sceau.note import note_signer

from .crash_worker import ORIGIN

ROOT = Path(__file__).resolve().parents[2]


def _kill_while_appending(db: Path, key: Path, prefix: str, seconds: float) -> list[str]:
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'src'}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.log.crash_worker", str(db), str(key), prefix],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while sum(1 for ln in list(lines) if ln.startswith("ACK")) < 200:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"worker did not get going: {proc.stderr.read()}")
        time.sleep(0.05)
    time.sleep(seconds)  # sustained appends in flight
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader.join(timeout=10)
    # The last line may be cut mid-write by the kill; only whole lines count.
    return [ln for ln in lines if ln.endswith("\n")]


@pytest.mark.slow
def test_sigkill_during_appends_loses_nothing_acknowledged(tmp_path):
    db, key = tmp_path / "log.sqlite", tmp_path / "key.pem"
    signer = generate_signer("ed25519")
    save_signer(signer, key)
    acked: dict[int, str] = {}
    checkpoints: dict[int, str] = {}
    for round_ in range(2):  # kill twice: recovery itself must survive a second crash
        for line in _kill_while_appending(db, key, f"r{round_}", seconds=1.0):
            kind, a, b = line.split()
            if kind == "ACK":
                assert acked.setdefault(int(a), b) == b, "an index was reused"
            else:
                checkpoints[int(a)] = b

    async def check():
        engine = LogEngine(SQLiteStorage(db, leaf_run=1000), batch_interval=0.01)
        engine.add_log(LogConfig("main", ORIGIN, [note_signer(ORIGIN, signer)]))
        await engine.start(create=False)
        lg = engine.log("main")
        head = await lg.latest()
        entries = await lg.get_entries(0, head.size)
        roots = {size: await lg.root_at(size) for size in checkpoints}
        consistency = {size: await lg.consistency_proof(size, head.size) for size in checkpoints}
        # The leaf index (runs rebuilt from the tiles, merges cut by the kill) finds them all.
        found = engine.storage.find_leaves("main", [bytes.fromhex(h) for h in acked.values()])
        again = await lg.append(entries[max(acked)])
        more = await asyncio.gather(*(lg.append(b"after-%d" % i) for i in range(100)))
        await engine.close()
        return head, entries, roots, consistency, found, again, more

    head, entries, roots, consistency, found, again, more = asyncio.run(check())
    assert {found[bytes.fromhex(h)]: h for h in acked.values()} == acked
    assert again.duplicate and again.index == max(acked)
    assert len(acked) > 200 and head.size >= max(acked) + 1
    for index, lh in acked.items():
        assert leaf_hash(entries[index]).hex() == lh, f"acknowledged index {index} changed"
    for size, root in checkpoints.items():
        assert roots[size].hex() == root, f"checkpoint {size} no longer matches the tree"
        verify_consistency(size, head.size, consistency[size], bytes.fromhex(root), head.root_hash)
    assert sorted(r.index for r in more) == list(range(head.size, head.size + 100))
