"""One real instance per session (``sceau init`` + ``sceau serve`` subprocess on a free port)
and helpers to run the sceau and sigstore-python CLIs against it with a private HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.instance import ServedInstance, client_env, served_instance

BIN = Path(sys.executable).parent
EMAIL = "signer@example.com"


@dataclass(frozen=True)
class Instance(ServedInstance):
    home: Path  # HOME / XDG dirs of client subprocesses

    @property
    def issuer(self) -> str:
        return self.email_issuer

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
        return {**client_env(home or self.home), **extra}

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


@pytest.fixture(scope="session")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    base = tmp_path_factory.mktemp("sign-instance")
    (base / "home").mkdir()
    env = client_env(base / "home")
    with served_instance(base, env) as (directory, url):
        yield Instance(directory, url, base / "home")


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
