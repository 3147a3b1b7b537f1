"""A real instance the monitor follows, which tests can stop, roll back and restart, and
the real sigstore-python signing into it as a watched and an unwatched identity."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.instance import client_env, stop, wait_healthy
from tests.serving import free_port

BIN = Path(sys.executable).parent
SCEAU = [sys.executable, "-m", "sceau"]
WATCHED = "alice@example.com"
UNWATCHED = "bob@example.com"


class Instance:
    """``sceau init`` once, then ``sceau serve`` as a subprocess that can be restarted on
    the same port over the same (or a restored) data directory."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.dir = base / "sceau"
        self.url = f"http://127.0.0.1:{free_port()}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = client_env(base / "home")
        run = subprocess.run(
            [*SCEAU, "init", "--dir", str(self.dir), "--url", self.url],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr

    @property
    def trusted_root(self) -> Path:
        return self.dir / "trust" / "trusted_root.json"

    @property
    def trust_config(self) -> Path:
        return self.dir / "trust" / "trust_config.json"

    def start(self) -> None:
        log = self.base / "serve.log"
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*SCEAU, "serve", "--dir", str(self.dir), "--log-level", "warning"],
                stdout=out, stderr=subprocess.STDOUT, cwd=self.base,
            )  # fmt: skip
        wait_healthy(self.url, self.proc, log)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def snapshot(self, name: str) -> None:
        """Copy the data directory (the server must be stopped)."""
        assert self.proc is None
        shutil.copytree(self.dir / "data", self.base / name)

    def restore(self, name: str) -> None:
        assert self.proc is None
        shutil.rmtree(self.dir / "data")
        shutil.copytree(self.base / name, self.dir / "data")

    def token(self, email: str) -> str:
        run = subprocess.run(
            [*SCEAU, "dev-token", "--dir", str(self.dir), "--email", email],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    def sign(self, email: str, rekor: int, artifact: Path) -> dict:
        """Sign with sigstore-python; the bundle as JSON."""
        bundle = artifact.with_name(artifact.name + ".sigstore.json")
        run = subprocess.run(
            [str(BIN / "sigstore"), "--trust-config", str(self.trust_config), "sign",
             "--rekor-version", str(rekor), "--identity-token", self.token(email),
             "--bundle", str(bundle), str(artifact)],
            capture_output=True, text=True, timeout=120, env=self.env,
        )  # fmt: skip
        if run.returncode != 0:
            pytest.fail(f"sigstore sign failed:\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}")
        return json.loads(bundle.read_text())


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def matches(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines()]


def monitor(trusted_root: Path, watch: Path, state: Path, *extra: str, timeout: float = 120) -> Run:
    """``sceau monitor … --once`` as a subprocess."""
    run = subprocess.run(
        [*SCEAU, "monitor", "--trusted-root", str(trusted_root), "--watch", str(watch),
         "--state", str(state), "--once", *extra],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    return Run(run.returncode, run.stdout, run.stderr)


def write_watch(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def sha256_file(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    inst = Instance(tmp_path_factory.mktemp("monitored"))
    try:
        inst.start()
        yield inst
    finally:
        inst.stop()
