"""``sceau backup`` under write load, ``sceau restore`` and ``sceau check``, then every entry
acknowledged before the backup started is served by the restored instance, with an
inclusion proof that verifies against its checkpoint."""

from __future__ import annotations

import base64
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from sceau import merkle
from tests.instance import client_env, served_instance, stop, wait_healthy
from tests.rekor.helpers import hashedrekord_v1, leaf
from tests.serving import free_port

SCEAU = [sys.executable, "-m", "sceau"]
pytestmark = [pytest.mark.server, pytest.mark.slow]


class Writers:
    """Threads adding Rekor v1 entries until stopped; what was acknowledged, and when."""

    def __init__(self, url: str, threads: int = 3) -> None:
        self.url = url
        self.acked: list[tuple[float, str, int]] = []  # (monotonic time, uuid, index)
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def __enter__(self) -> Writers:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count:
            assert not self.failures, self.failures[:3]
            assert time.monotonic() < deadline, f"only {len(self.acked)} entries in {timeout} s"
            time.sleep(0.01)

    def _run(self) -> None:
        cert, key = leaf()
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self._stop.is_set():
                request, *_ = hashedrekord_v1(cert=cert, key=key)
                r = client.post("/api/v1/log/entries", json=request)
                if r.status_code != 201:
                    self.failures.append(f"{r.status_code} {r.text[:200]}")
                    continue
                ((uuid, body),) = r.json().items()
                with self._lock:
                    self.acked.append((time.monotonic(), uuid, body["logIndex"]))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SCEAU, *args], capture_output=True, text=True, timeout=300)


def test_backup_under_load_restores_every_acknowledged_entry(tmp_path: Path) -> None:
    env = client_env(tmp_path / "home")
    backup_dir, restored = tmp_path / "backup", tmp_path / "restored"
    with served_instance(tmp_path, env) as (directory, url), Writers(url) as writers:
        writers.wait_for(100)
        started = time.monotonic()
        done = run("backup", "--dir", str(directory), str(backup_dir))
        assert done.returncode == 0, done.stderr
        writers.wait_for(len(writers.acked) + 50)  # the server kept writing throughout
    assert not writers.failures, writers.failures[:3]
    before = [(uuid, index) for t, uuid, index in writers.acked if t < started]
    assert len(before) >= 100

    # keys keep their mode; no runtime state or derived index was copied
    for key in (backup_dir / "keys").glob("*.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert stat.S_IMODE((backup_dir / "keys").stat().st_mode) == 0o700
    assert not list(backup_dir.rglob("*.lock")) and not list(backup_dir.rglob("*-wal"))
    assert not (backup_dir / "data" / "sceau-leaves.sqlite").exists()
    assert not (backup_dir / "run").exists()  # the live server's socket and marker

    check = run("check", "--dir", str(backup_dir))
    assert check.returncode == 0, check.stderr
    assert "rekor-v1:" in check.stdout and "every tile, entry and leaf-index row" in check.stdout
    restore = run("restore", str(backup_dir), "--dir", str(restored))
    assert restore.returncode == 0, restore.stderr

    port = free_port()
    log = tmp_path / "restored.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*SCEAU, "serve", "--dir", str(restored), "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, server, log)
        with httpx.Client(base_url=base, timeout=30) as client:
            for uuid, index in before:
                r = client.get(f"/api/v1/log/entries/{uuid}")
                assert r.status_code == 200, (uuid, r.text)
                ((_, entry),) = r.json().items()
                assert entry["logIndex"] == index
                proof = entry["verification"]["inclusionProof"]
                merkle.verify_inclusion(
                    proof["logIndex"],
                    proof["treeSize"],
                    merkle.leaf_hash(base64.b64decode(entry["body"])),
                    [bytes.fromhex(h) for h in proof["hashes"]],
                    bytes.fromhex(proof["rootHash"]),
                )
    finally:
        stop(server)


def test_backup_refuses_a_used_destination_and_a_non_instance(tmp_path: Path) -> None:
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / "precious.txt").write_text("keep me\n")
    (tmp_path / "empty").mkdir()
    done = run("backup", "--dir", str(tmp_path / "empty"), str(tmp_path / "b"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and "sceau init" in done.stderr
    assert not (tmp_path / "b").exists()

    init = run("init", "--dir", str(tmp_path / "inst"))
    assert init.returncode == 0, init.stderr
    done = run("backup", "--dir", str(tmp_path / "inst"), str(tmp_path / "dest"))
    assert done.returncode == 1 and "not an empty directory" in done.stderr, done.stderr
    assert (tmp_path / "dest" / "precious.txt").read_text() == "keep me\n"
    done = run("restore", str(tmp_path / "dest"), "--dir", str(tmp_path / "r"))
    assert done.returncode == 1 and "not a sceau backup" in done.stderr, done.stderr
    assert not list(tmp_path.glob("*.partial-*"))
