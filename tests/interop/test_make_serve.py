"""A fresh clone: ``make serve`` comes up and the commands it prints work, pasted as printed.

The clone is the repository's tracked files (``git ls-files``) copied to a temporary directory.
To stay fast it reuses the test run's virtualenv (``.venv`` is a symlink to it and ``make -o``
keeps make from reinstalling into it); everything else — instance creation, serving, the
printed instructions — happens in the clone. ``make serve PORT=N`` listens on a free port
the test picks, so a busy 8080 on the machine cannot fail the suite.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.instance import client_env
from tests.serving import free_port

pytestmark = [pytest.mark.interop, pytest.mark.server, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
STAMP = ".venv/.installed"  # the Makefile's $(STAMP) with VENV=.venv


@dataclass
class MakeServe:
    clone: Path
    url: str
    env: dict[str, str]
    output: list[str]

    def text(self) -> str:
        return "".join(self.output)


def _copy_tracked_files(dest: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
    )
    for name in listed.stdout.decode().split("\0"):
        src = ROOT / name
        if name and src.is_file():  # tracked but deleted in the work tree: not in a clone
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


@pytest.fixture(scope="module")
def make_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeServe]:
    if shutil.which("make") is None:
        pytest.fail("make is not installed")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    clone = tmp_path_factory.mktemp("clone")
    _copy_tracked_files(clone)
    (clone / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    # The newcomer's shell after activating the venv: sceau and sigstore on PATH.
    env = client_env(tmp_path_factory.mktemp("make-home"), extra_path=clone / ".venv" / "bin")
    proc = subprocess.Popen(
        ["make", "-o", STAMP, "serve", f"PORT={port}"], cwd=clone, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    output: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            output.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 45
        while not any("Uvicorn running on" in line for line in list(output)):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"make serve did not come up (exit {proc.poll()}):\n{''.join(output)}")
            time.sleep(0.1)
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        yield MakeServe(clone, url, env, output)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # make and the sceau it started
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        reader.join(timeout=15)


def _printed_commands(text: str) -> list[str]:
    """The shell commands of the printed instructions, continuation lines joined."""
    commands, pending = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if pending:
            line = pending + " " + line.lstrip()
            pending = ""
        if line.endswith("\\"):
            pending = line[:-1].rstrip()
            continue
        if line and not line.startswith(("#", " ", "INFO", "WARNING", "ERROR", "make")):
            commands.append(line)
    return commands


def _select(commands: list[str], *prefixes: str) -> list[str]:
    return [c for c in commands if c.startswith(prefixes)]


def _run_as_printed(serve: MakeServe, commands: list[str], work: Path):
    script = "set -euxo pipefail\n" + "\n".join(commands) + "\n"
    return subprocess.run(
        ["bash", "-c", script], cwd=work, env=serve.env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def _base_commands(serve: MakeServe) -> list[str]:
    commands = _printed_commands(serve.text())
    token = _select(commands, "export SIGSTORE_ID_TOKEN=")
    assert len(token) == 1 and "sceau dev-token" in token[0], commands
    assert "echo hello > hello.txt" in commands, commands
    trust_config = _select(commands, "sigstore --trust-config ")
    assert [c.split()[3] for c in trust_config] == ["sign", "verify"], commands
    return [*token, "echo hello > hello.txt", *trust_config]


def test_make_serve_prints_working_trust_config_commands(
    make_serve: MakeServe, tmp_path: Path
) -> None:
    assert f"sceau is serving {make_serve.url}" in make_serve.text()
    assert "warning" not in make_serve.text()
    assert (make_serve.clone / ".sceau" / "sceau.toml").is_file()
    result = _run_as_printed(make_serve, _base_commands(make_serve), tmp_path)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "OK: hello.txt" in result.stderr
    assert (tmp_path / "hello.python.sigstore.json").is_file()


def test_make_serve_prints_working_sceau_commands(make_serve: MakeServe, tmp_path: Path) -> None:
    commands = _printed_commands(make_serve.text())
    sceau = _select(commands, "sceau sign ", "sceau verify ")
    assert [c.split()[1] for c in sceau] == ["sign", "verify"], commands
    token = _select(commands, "export SIGSTORE_ID_TOKEN=")
    result = _run_as_printed(make_serve, [*token, "echo hello > hello.txt", *sceau], tmp_path)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"


def test_make_serve_printed_block_works_pasted_whole(make_serve: MakeServe, tmp_path: Path) -> None:
    """Every printed command except sigstore-js's (not installed globally), in order."""
    commands = _printed_commands(make_serve.text())
    block = _select(commands, "export ", "echo ", "sceau sign ", "sceau verify ", "sigstore --")
    tuf = _select(block, "sigstore --instance ")
    assert [c.split()[3] for c in tuf] == ["trust-instance", "sign"], commands
    result = _run_as_printed(make_serve, block, tmp_path)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    for name in ("sceau", "python", "tuf"):  # each printed sign line writes its own bundle
        assert (tmp_path / f"hello.{name}.sigstore.json").is_file()
