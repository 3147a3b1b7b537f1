"""``sceau witness`` as an operator runs it: init, add-log, vkey, serve (standalone and as
``sceau serve --only witness``), with one-line errors."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sceau.note import CosignatureVerifier, parse_vkey, verify_note
from tests.instance import stop
from tests.serving import free_port
from tests.witness.conftest import SCEAU, sceau
from tests.witness.helpers import TinyLog

pytestmark = pytest.mark.server


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    from bench.local_server import NotServing, wait_until_ok

    try:
        wait_until_ok(f"{url}/healthz", [proc], 30)
    except NotServing as e:
        pytest.fail(f"{e}:\n{log.read_text()[-3000:]}")


def test_init_add_log_vkey(tmp_path: Path) -> None:
    d = tmp_path / "w"
    log = TinyLog("example.com/log")
    r = sceau("witness", "init", "--dir", str(d), "--name", "witness.example/w1")
    assert r.returncode == 0, r.stderr
    vkey = r.stdout.strip()
    assert isinstance(parse_vkey(vkey), CosignatureVerifier)
    assert (d / "witness-key.pem").stat().st_mode & 0o777 == 0o600
    assert sceau("witness", "vkey", "--dir", str(d)).stdout.strip() == vkey
    assert sceau("witness", "add-log", "--dir", str(d), log.vkey).returncode == 0
    assert log.vkey in (d / "witness.toml").read_text()
    for args, message in [
        (["init", "--dir", str(d), "--name", "x.example"], "already holds a witness"),
        (["init", "--dir", str(tmp_path / "x"), "--name", "has space"], "witness name"),
        (["add-log", "--dir", str(d), log.vkey], "already has log"),
        (["add-log", "--dir", str(d), "nonsense"], "log vkey"),
        (["add-log", "--dir", str(d), vkey], "witness cosignature key, not a log key"),
        (["vkey", "--dir", str(tmp_path / "none")], "not found"),
    ]:
        r = sceau("witness", *args)
        assert r.returncode == 1, (args, r.stdout)
        assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
        assert message in r.stderr


def test_standalone_witness_serves_add_checkpoint(tmp_path: Path) -> None:
    d = tmp_path / "w"
    log = TinyLog("example.com/log")
    vkey = sceau("witness", "init", "--dir", str(d), "--name", "w.example", "--log", log.vkey)
    port = free_port()
    out = tmp_path / "witness.log"
    with out.open("wb") as f:
        proc = subprocess.Popen(
            [*SCEAU, "witness", "--dir", str(d), "--port", str(port), "--log-level", "warning"],
            stdout=f, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        _wait(url, proc, out)
        log.grow(3)
        r = httpx.post(f"{url}/add-checkpoint", content=log.request(0), timeout=10)
        assert r.status_code == 200, r.text
        assert verify_note(log.checkpoint() + r.text, [parse_vkey(vkey.stdout.strip())])
    finally:
        stop(proc)


def test_serve_only_witness_uses_the_instances_witness(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    inst = tmp_path / "sceau"
    assert sceau("init", "--dir", str(inst), "--url", url).returncode == 0
    vkey = sceau("witness", "vkey", "--dir", str(inst / "witness")).stdout.strip()
    assert vkey.startswith(url.removeprefix("http://") + "/witness+")
    log = TinyLog("example.com/log")
    assert sceau("witness", "add-log", "--dir", str(inst / "witness"), log.vkey).returncode == 0
    out = tmp_path / "serve.log"
    with out.open("wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sceau", "serve", "--dir", str(inst), "--only", "witness",
             "--log-level", "warning"],
            stdout=f, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait(url, proc, out)
        assert httpx.get(f"{url}/healthz").json()["services"] == ["witness"]
        log.grow(2)
        r = httpx.post(f"{url}/witness/add-checkpoint", content=log.request(0), timeout=10)
        assert r.status_code == 200, r.text
        h = hashlib.sha256(b"example.com/log").hexdigest()
        assert httpx.get(f"{url}/witness/{h}/checkpoint").status_code == 200
        # The other services are not there.
        assert httpx.get(f"{url}/api/v2/checkpoint").status_code == 404
    finally:
        stop(proc)
