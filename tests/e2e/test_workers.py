"""sceau serve --workers: two API processes on SQLite (one sequencer process owns the logs)
and on PostgreSQL (an instance migrated from SQLite), each driven by the real client."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bench.local_server import NotServing, free_port, wait_until_ok
from sceau.cli.main import main
from sceau.instance.init import init_instance
from tests.pg import fresh_schema

SIGSTORE = str(Path(sys.executable).with_name("sigstore"))


def _client_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    return {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "c"),
        "XDG_DATA_HOME": str(home / "d"),
    }


def _serve_workers(cfg, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    """``sceau serve --workers 2``, its output in ``log`` (a file: a pipe nobody reads
    could fill up and stall the server)."""
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "sceau", "serve", "--dir", str(cfg.dir), "--workers", "2",
             "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=out, env=env, start_new_session=True,
        )  # fmt: skip
    try:
        wait_until_ok(f"{cfg.url}/healthz", [server])
    except NotServing as e:
        server.kill()
        pytest.fail(f"{e}: {log.read_text(errors='replace')[-2000:]}")
    return server


def _sign_and_verify_four_files(cfg, tmp_path: Path, env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """sigstore-python signs and verifies two files per Rekor API through the workers;
    every log and every CT chain is then seen alike by whichever worker answers."""
    url = cfg.url
    token = subprocess.run(
        [sys.executable, "-m", "sceau", "dev-token", "--dir", str(cfg.dir), "--email",
         "w@example.com"], capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    trust = str(cfg.trust_dir / "trust_config.json")
    for i, version in enumerate(["1", "2", "1", "2"]):
        f = tmp_path / f"f{i}.txt"
        f.write_text(f"file {i}\n")
        r = subprocess.run(
            [SIGSTORE, "--trust-config", trust, "sign", "--rekor-version", version,
             "--identity-token", token, str(f)],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        r = subprocess.run(
            [SIGSTORE, "--trust-config", trust, "verify", "identity", str(f),
             "--cert-identity", "w@example.com", "--cert-oidc-issuer", f"{url}/oidc"],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
    for _ in range(4):  # several requests, so both workers answer some
        logs = httpx.get(f"{url}/healthz").json()["logs"]
        assert logs["rekor-v1"] == 3 and logs["rekor-v2"] == 3 and logs["ct"] >= 1
        entries = httpx.get(
            f"{url}/ct/v1/get-entries", params={"start": 0, "end": logs["ct"] - 1}
        ).json()["entries"]
        assert len(entries) == logs["ct"]
        assert all(e["extra_data"] for e in entries)
        assert httpx.get(f"{url}/ct/tile/0/000.p/{logs['ct']}").status_code == 200


def _use_postgres(cfg, dsn: str, schema: str) -> None:  # type: ignore[no-untyped-def]
    """Point the instance's sceau.toml at a PostgreSQL schema (already migrated)."""
    toml = cfg.dir / "sceau.toml"
    toml.write_text(
        toml.read_text().replace(
            'driver = "sqlite"', f'driver = "postgres"\ndsn = "{dsn}"\nschema = "{schema}"'
        )
    )


def _stop(server: subprocess.Popen[bytes]) -> int:
    server.terminate()
    return server.wait(timeout=30)


@pytest.mark.server
@pytest.mark.slow
def test_two_workers_on_sqlite_serve_real_clients(tmp_path):
    cfg = init_instance(tmp_path / "inst", url=f"http://127.0.0.1:{free_port()}")
    env = _client_env(tmp_path)
    server = _serve_workers(cfg, env, tmp_path / "serve.log")
    try:
        _sign_and_verify_four_files(cfg, tmp_path, env)
    finally:
        assert _stop(server) == 0, (tmp_path / "serve.log").read_text(errors="replace")
    assert not (cfg.dir / "data" / "sequencer.sock").exists()
    # What the workers logged is in the one SQLite file: a single process serves it back.
    assert main(["check", "--dir", str(cfg.dir)]) == 0


@pytest.mark.server
def test_sqlite_workers_stop_when_a_worker_dies(tmp_path):
    """A worker that dies takes the server down (non-zero), for a supervisor to restart,
    rather than leaving a server that quietly serves with fewer processes."""
    cfg = init_instance(tmp_path / "inst", url=f"http://127.0.0.1:{free_port()}")
    log = tmp_path / "serve.log"
    server = _serve_workers(cfg, _client_env(tmp_path), log)
    try:
        children = subprocess.run(
            ["pgrep", "-P", str(server.pid)], capture_output=True, text=True, check=True
        ).stdout.split()
        assert len(children) == 2, children
        os.kill(int(children[0]), signal.SIGKILL)
        deadline = time.monotonic() + 30
        while server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        if server.poll() is None:
            server.kill()
    stderr = log.read_text(errors="replace")
    assert server.wait() == 1, stderr[-3000:]
    assert f"HTTP worker {children[0]} exited" in stderr, stderr[-3000:]


@pytest.mark.server
@pytest.mark.slow
def test_two_workers_on_postgres_serve_real_clients(tmp_path, pg_dsn):
    cfg = init_instance(tmp_path / "inst", url=f"http://127.0.0.1:{free_port()}")
    schema = fresh_schema("serve")
    assert main(["migrate", "--dir", str(cfg.dir), "--to", pg_dsn, "--schema", schema]) == 0
    _use_postgres(cfg, pg_dsn, schema)
    (cfg.dir / "data" / "sceau.sqlite").rename(cfg.dir / "data" / "old.sqlite")  # not used
    env = _client_env(tmp_path)
    server = _serve_workers(cfg, env, tmp_path / "serve.log")
    try:
        _sign_and_verify_four_files(cfg, tmp_path, env)
    finally:
        _stop(server)


def test_rotate_refuses_postgres_workers_that_cannot_switch_online(tmp_path, pg_dsn):
    """With PostgreSQL every worker is a whole server under uvicorn's supervisor, with no
    admin socket: rotating under it would leave it signing with a key whose window has
    closed, so ``sceau rotate`` refuses and changes nothing."""
    cfg = init_instance(tmp_path / "inst", url=f"http://127.0.0.1:{free_port()}")
    schema = fresh_schema("rotate")
    assert main(["migrate", "--dir", str(cfg.dir), "--to", pg_dsn, "--schema", schema]) == 0
    _use_postgres(cfg, pg_dsn, schema)
    server = _serve_workers(cfg, _client_env(tmp_path), tmp_path / "serve.log")
    try:
        keys = sorted(p.name for p in cfg.keys_dir.iterdir())
        done = subprocess.run(
            [sys.executable, "-m", "sceau", "rotate", "tsa", "--dir", str(cfg.dir)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 1, done.stdout
        assert "--workers 2) is running" in done.stderr and "Traceback" not in done.stderr
        assert sorted(p.name for p in cfg.keys_dir.iterdir()) == keys
        assert not (cfg.dir / "retired.json").exists()
    finally:
        _stop(server)


def test_workers_must_be_positive(tmp_path, capsys):
    cfg = init_instance(tmp_path / "i", url=f"http://127.0.0.1:{free_port()}")
    assert main(["serve", "--dir", str(cfg.dir), "--workers", "0"]) == 1
    assert "--workers must be at least 1" in capsys.readouterr().err


def test_socket_path_falls_back_to_a_private_directory_when_too_long(tmp_path):
    from sceau.services.workers import socket_path_in

    short = socket_path_in(tmp_path)
    assert short == tmp_path / "sequencer.sock"
    deep = tmp_path / ("d" * 120)
    fallback = socket_path_in(deep)
    try:
        assert fallback.parent != deep and len(os.fsencode(fallback)) < 100
        assert fallback.parent.stat().st_mode & 0o777 == 0o700  # mkdtemp: owner only
    finally:
        fallback.parent.rmdir()


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (from /proc's children lists)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            with contextlib.suppress(OSError):
                kids = [int(k) for k in (task / "children").read_text().split()]
                found += kids
                todo += kids
    return found


def _alive(pid: int) -> bool:
    """Any thread of ``pid`` still running. A killed process's main thread can show as a
    zombie while its other threads are still releasing the process's files (the port)."""
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        with contextlib.suppress(OSError):
            if "\nState:\tZ" not in status.read_text():
                return True
    return False


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _kill_parent_and_watch(server: subprocess.Popen[bytes], port: int) -> tuple[list[int], float]:
    """SIGKILL ``server``; return the workers still alive after one second (none, we hope)
    and how long they took to go and free the port."""
    workers = _descendants(server.pid)
    assert len(workers) >= 2, workers
    begin = time.monotonic()
    server.kill()
    server.wait()
    while time.monotonic() - begin < 1.0 and (any(_alive(w) for w in workers) or _port_open(port)):
        time.sleep(0.01)
    took = time.monotonic() - begin
    left = [w for w in workers if _alive(w)]
    states = {w: _state(w) for w in left}
    for w in left:  # don't leave them to the next test
        with contextlib.suppress(ProcessLookupError):
            os.kill(w, signal.SIGKILL)
    assert not left, f"workers {states} outlived their parent by {took:.2f} s"
    assert not _port_open(port), f"the port still accepts connections after {took:.2f} s"
    return left, took


def _state(pid: int) -> str:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return "gone"
    return " ".join(x for x in lines if x.startswith(("Name:", "State:", "PPid:")))


@pytest.mark.server
def test_sqlite_workers_die_with_a_killed_parent(tmp_path):
    """A SIGKILL of ``serve --workers 2`` (SQLite: forked HTTP workers, the sequencer in
    the parent) takes its workers down within a second and frees the port."""
    port = free_port()
    cfg = init_instance(tmp_path / "inst", url=f"http://127.0.0.1:{port}")
    server = _serve_workers(cfg, _client_env(tmp_path), tmp_path / "serve.log")
    left, took = _kill_parent_and_watch(server, port)
    assert not left, f"workers {left} outlived their parent by {took:.2f} s"


@pytest.mark.server
def test_postgres_workers_die_with_a_killed_parent(tmp_path, pg_dsn):
    """The same with PostgreSQL, where uvicorn's supervisor spawns the workers."""
    port = free_port()
    cfg = init_instance(tmp_path / "inst", url=f"http://127.0.0.1:{port}")
    schema = fresh_schema("orphans")
    assert main(["migrate", "--dir", str(cfg.dir), "--to", pg_dsn, "--schema", schema]) == 0
    _use_postgres(cfg, pg_dsn, schema)
    server = _serve_workers(cfg, _client_env(tmp_path), tmp_path / "serve.log")
    left, took = _kill_parent_and_watch(server, port)
    assert not left, f"workers {left} outlived their parent by {took:.2f} s"
