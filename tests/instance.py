"""A real instance for tests: ``sceau init`` + ``sceau serve`` as a subprocess on a free port,
and the environment client subprocesses run in (a private HOME, nothing ambient)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.local_server import NotServing, wait_until_ok
from tests.serving import free_port

# Variables that would make a client pick up an identity or config from the test runner.
AMBIENT = ("SIGSTORE_", "ACTIONS_ID_TOKEN_", "GITHUB_", "SCEAU_", "NODE_OPTIONS", "NPM_CONFIG_")


@dataclass(frozen=True)
class ServedInstance:
    """A running instance: where its files are and where it listens."""

    dir: Path
    url: str

    @property
    def trust_config(self) -> Path:
        return self.dir / "trust" / "trust_config.json"

    @property
    def trusted_root(self) -> Path:
        return self.dir / "trust" / "trusted_root.json"

    @property
    def signing_config(self) -> Path:
        return self.dir / "trust" / "signing_config.v0.2.json"

    @property
    def tuf_url(self) -> str:
        return f"{self.url}/tuf"

    @property
    def tuf_root(self) -> Path:
        return self.dir / "tuf" / "root.json"

    @property
    def email_issuer(self) -> str:
        return f"{self.url}/oidc"

    @property
    def github_issuer(self) -> str:
        return f"{self.url}/oidc/github"


def client_env(
    home: Path, extra_path: Path | None = None, keep: Iterable[str] = ()
) -> dict[str, str]:
    """The environment of a client subprocess: a private HOME and XDG dirs, nothing ambient
    (variables named in ``keep`` survive)."""
    keep = tuple(keep)
    env = {k: v for k, v in os.environ.items() if k in keep or not k.startswith(AMBIENT)}
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        COLUMNS="400",
        NO_COLOR="1",
        PYTHONUNBUFFERED="1",
    )
    if extra_path is not None:
        env["PATH"] = f"{extra_path}{os.pathsep}{env.get('PATH', '')}"
    return env


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    """Poll ``/healthz`` until it answers 200; fail with the server's output otherwise."""
    try:
        wait_until_ok(f"{url}/healthz", [proc], timeout)
    except NotServing as e:
        pytest.fail(f"sceau serve: {e}:\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server we started (SIGTERM, then SIGKILL after 10 s)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def serve_until_healthy(directory: Path, url: str, log: Path) -> str:
    """``sceau serve`` an existing instance until ``/healthz`` answers, stop it, and
    return what it logged (its start-up: recoveries, warnings)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sceau", "serve", "--dir", str(directory), "--log-level",
             "warning"], stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_healthy(url, proc, log)
    finally:
        stop(proc)
    return log.read_text()


@contextlib.contextmanager
def served_instance(
    base: Path,
    env: dict[str, str] | None = None,
    init_args: Sequence[str] = (),
    serve_args: Sequence[str] = ("--log-level", "warning"),
) -> Iterator[tuple[Path, str]]:
    """``sceau init [init_args]`` an instance in ``base/sceau`` on a free port, serve it in
    a subprocess (``sceau serve [serve_args]``, output in ``base/serve.log``), and yield
    ``(instance dir, URL)`` once it is healthy."""
    url = f"http://127.0.0.1:{free_port()}"
    directory = base / "sceau"
    sceau = [sys.executable, "-m", "sceau"]
    init = subprocess.run(
        [*sceau, "init", "--dir", str(directory), "--url", url, *init_args],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert init.returncode == 0, f"sceau init failed:\n{init.stdout}\n{init.stderr}"
    log = base / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*sceau, "serve", "--dir", str(directory), *serve_args],
            stdout=out, stderr=subprocess.STDOUT, cwd=base, env=env,
        )  # fmt: skip
    try:
        wait_healthy(url, proc, log)
        yield directory, url
    finally:
        stop(proc)
