"""One real instance per session (``sceau init`` + ``sceau serve`` subprocess on a free port)
and helpers to run the sceau and sigstore-python CLIs against it with a private HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.serving import free_port

BIN = Path(sys.executable).parent
EMAIL = "signer@example.com"
_STRIPPED_ENV = ("SIGSTORE_", "ACTIONS_ID_TOKEN_", "SCEAU_")


@dataclass(frozen=True)
class Instance:
    dir: Path
    url: str
    home: Path  # HOME / XDG dirs of client subprocesses

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
    def issuer(self) -> str:
        return f"{self.url}/oidc"

    def token(self, email: str = EMAIL, lifetime: int = 600) -> str:
        from sceau.cli.dev_token import load_dev_issuer

        return load_dev_issuer(self.dir).mint_email(email, lifetime=lifetime)

    def trust_config_with(self, path: Path, **changes: object) -> Path:
        """A copy of the trust config with signing-config members replaced."""
        doc = json.loads(self.trust_config.read_text())
        doc["signingConfig"].update(changes)
        path.write_text(json.dumps(doc))
        return path

    def env(self, home: Path | None = None, **extra: str) -> dict[str, str]:
        home = home or self.home
        env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIPPED_ENV)}
        env.update(
            HOME=str(home),
            XDG_CACHE_HOME=str(home / ".cache"),
            XDG_DATA_HOME=str(home / ".local" / "share"),
            XDG_CONFIG_HOME=str(home / ".config"),
            COLUMNS="400",
        )
        env.update(extra)
        return env

    def run(
        self, *args: str, home: Path | None = None, cwd: Path | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run ``sceau ARGS`` as a user would."""
        return subprocess.run(
            [str(BIN / "sceau"), *args],
            capture_output=True, text=True, timeout=60, env=self.env(home, **env), cwd=cwd,
        )  # fmt: skip

    def sigstore(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run sigstore-python's CLI."""
        return subprocess.run(
            [str(BIN / "sigstore"), *args],
            capture_output=True, text=True, timeout=60, env=self.env(),
        )  # fmt: skip


def one_error_line(proc: subprocess.CompletedProcess[str], *expect: str) -> str:
    """Exit 1, exactly one ``error:`` line on stderr, no traceback."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], proc.stderr
    for e in expect:
        assert e in errors[0], errors[0]
    return errors[0]


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sceau serve exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"sceau serve did not become healthy:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    base = tmp_path_factory.mktemp("sign-instance")
    url = f"http://127.0.0.1:{free_port()}"
    inst = Instance(base / "sceau", url, base / "home")
    inst.home.mkdir()
    init = subprocess.run(
        [str(BIN / "sceau"), "init", "--dir", str(inst.dir), "--url", url],
        capture_output=True, text=True, timeout=60, env=inst.env(),
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    log = base / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "sceau"), "serve", "--dir", str(inst.dir), "--log-level", "warning"],
            stdout=out, stderr=subprocess.STDOUT, cwd=base, env=inst.env(),
        )  # fmt: skip
    try:
        _wait_healthy(url, proc, log)
        yield inst
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    p = tmp_path / "hello.txt"
    p.write_bytes(b"hello, sceau\n" + os.urandom(8).hex().encode())
    return p


@pytest.fixture(scope="session")
def trust(instance: Instance) -> tuple[object, object]:
    """(SigningConfig, TrustedRoot) of the instance, for library-level tests."""
    from sceau.client.signing_config import SigningConfig
    from sceau.client.trust import TrustedRoot

    data = instance.trust_config.read_bytes()
    return SigningConfig.from_trust_config(data), TrustedRoot.from_trust_config(data)
