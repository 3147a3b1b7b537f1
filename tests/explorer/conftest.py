"""A served instance with real entries in it, and a headless Chromium to look at them.

- ``instance``: ``sceau init`` + ``sceau serve`` in a subprocess on a free port;
- ``signed``: one artifact signed by sigstore-python (e-mail identity, Rekor v1) and one
  by ``sceau sign`` with a GitHub-shaped dev token (Rekor v2);
- ``webdriver``: chromedriver on a free port (each test opens its own Chromium session).

Screenshots are always taken; with ``SCEAU_EXPLORER_SCREENSHOTS=DIR`` they are also kept
in DIR (``docs/img`` for the documentation).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.instance import ServedInstance, client_env, served_instance
from tests.webdriver import chromedriver

BIN = Path(sys.executable).parent
EMAIL = "explorer@example.com"
WORKFLOW = "octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main"
WORKFLOW_SAN = f"https://github.com/{WORKFLOW}"


@dataclass(frozen=True)
class Signature:
    """An artifact, its bundle, and where the entry went."""

    artifact: Path
    bundle: Path
    sha256: str
    identity: str
    log: str  # rekor-v1 / rekor-v2
    index: int


@dataclass(frozen=True)
class Signed:
    python: Signature  # sigstore-python, e-mail identity, Rekor v1
    workflow: Signature  # sceau sign, GitHub workflow identity, Rekor v2


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    if result.returncode != 0:
        pytest.fail(f"{argv[:4]} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _entry_index(bundle: Path) -> int:
    import json

    doc = json.loads(bundle.read_text())
    return int(doc["verificationMaterial"]["tlogEntries"][0]["logIndex"])


@pytest.fixture(scope="session")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedInstance]:
    with served_instance(tmp_path_factory.mktemp("instance")) as (directory, url):
        yield ServedInstance(directory, url)


@pytest.fixture(scope="session")
def signed(instance: ServedInstance, tmp_path_factory: pytest.TempPathFactory) -> Signed:
    work = tmp_path_factory.mktemp("signing")
    home = work / "home"
    home.mkdir()
    env = client_env(home)
    sceau = [sys.executable, "-m", "sceau"]
    token = [*sceau, "dev-token", "--dir", str(instance.dir)]

    email_token = _run([*token, "--email", EMAIL], env, work).strip()
    a = work / "python.txt"
    a.write_text("signed by sigstore-python for the explorer\n")
    _run(
        [str(BIN / "sigstore"), "--trust-config", str(instance.trust_config), "sign",
         "--rekor-version", "1", "--identity-token", email_token,
         "--bundle", str(work / "python.sigstore.json"), str(a)],
        env, work,
    )  # fmt: skip
    python = Signature(
        a, work / "python.sigstore.json", hashlib.sha256(a.read_bytes()).hexdigest(),
        EMAIL, "rekor-v1", _entry_index(work / "python.sigstore.json"),
    )  # fmt: skip

    gh_token = _run([*token, "--github-workflow", WORKFLOW], env, work).strip()
    b = work / "workflow.txt"
    b.write_text("signed by sceau sign from a GitHub-shaped workflow token\n")
    _run(
        [*sceau, "sign", "--instance-dir", str(instance.dir), "--rekor-version", "2",
         "--identity-token", gh_token, "--bundle", str(work / "workflow.sigstore.json"), str(b)],
        env, work,
    )  # fmt: skip
    workflow = Signature(
        b, work / "workflow.sigstore.json", hashlib.sha256(b.read_bytes()).hexdigest(),
        WORKFLOW_SAN, "rekor-v2", _entry_index(work / "workflow.sigstore.json"),
    )  # fmt: skip
    return Signed(python, workflow)


@pytest.fixture(scope="session")
def webdriver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chromedriver(tmp_path_factory.mktemp("chromedriver") / "chromedriver.log") as base:
        yield base


@pytest.fixture
def keep_screenshot(tmp_path: Path):
    """``keep(name, png)``: check it is a PNG, write it under tmp_path and, when
    SCEAU_EXPLORER_SCREENSHOTS names a directory, there too."""

    def keep(name: str, png: bytes) -> Path:
        assert png.startswith(b"\x89PNG\r\n\x1a\n"), "the screenshot is not a PNG"
        path = tmp_path / name
        path.write_bytes(png)
        target = os.environ.get("SCEAU_EXPLORER_SCREENSHOTS")
        if target:
            Path(target).mkdir(parents=True, exist_ok=True)
            (Path(target) / name).write_bytes(png)
        return path

    return keep
