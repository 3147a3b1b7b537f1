"""One real ``sceau serve`` per session, and the real clients pointed at it.

The instance is created with ``sceau init`` in a temporary directory on a free port and served
by a subprocess, as an operator would run it. Every client subprocess gets HOME and XDG_*
pointed at a session temporary directory (sigstore-python's TUF cache lives there), no
``SIGSTORE_*`` or ambient CI credentials, and a wide terminal so error lines are not wrapped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.instance import ServedInstance, client_env, served_instance

HERE = Path(__file__).resolve().parent
JS_DIR = HERE / "js"
BIN = Path(sys.executable).parent
EMAIL = "interop@example.com"
WORKFLOW = "octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main"
WORKFLOW_SAN = f"https://github.com/{WORKFLOW}"
SLSA_V1 = "https://slsa.dev/provenance/v1"
# A minimal SLSA v1 predicate that sigstore-python's pydantic model accepts.
PREDICATE = {
    "buildDefinition": {
        "buildType": "https://example.com/build/v1",
        "externalParameters": {"ref": "refs/heads/main"},
    },
    "runDetails": {"builder": {"id": "https://example.com/builder"}},
}


Instance = ServedInstance


@pytest.fixture(scope="session")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    with served_instance(tmp_path_factory.mktemp("instance")) as (directory, url):
        yield Instance(directory, url)


@dataclass(frozen=True)
class Clients:
    """Runs the real clients against the session instance, in a private HOME."""

    instance: Instance
    env: dict[str, str]
    work: Path

    def run(self, argv: list[str], cwd: Path | None = None, timeout: float = 90):
        result = subprocess.run(
            argv, capture_output=True, text=True, env=self.env, cwd=cwd or self.work,
            timeout=timeout,
        )  # fmt: skip
        return result

    def sigstore(self, *args: str | Path, cwd: Path | None = None):
        """``sigstore ARGS`` (sigstore-python's CLI from the venv)."""
        exe = BIN / "sigstore"
        if not exe.is_file():
            pytest.fail(f"sigstore-python's CLI is not installed at {exe} (pip install -e .[test])")
        return self.run([str(exe), *map(str, args)], cwd=cwd)

    def sigstore_tc(self, *args: str | Path, cwd: Path | None = None):
        """``sigstore --trust-config <instance>/trust/trust_config.json ARGS``."""
        return self.sigstore("--trust-config", self.instance.trust_config, *args, cwd=cwd)

    def dev_token(self, *who: str) -> str:
        """A token from ``sceau dev-token --dir D WHO`` (``--email X``, ``--github-workflow W``)."""
        argv = [sys.executable, "-m", "sceau", "dev-token", "--dir", str(self.instance.dir), *who]
        result = self.run(argv)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def node(self, script: str, request: dict):
        """``node tests/interop/js/SCRIPT REQUEST_JSON``."""
        return self.run(["node", str(JS_DIR / script), json.dumps(request)])


@pytest.fixture(scope="session")
def clients(instance: Instance, tmp_path_factory: pytest.TempPathFactory) -> Clients:
    home = tmp_path_factory.mktemp("client-home")
    work = tmp_path_factory.mktemp("client-work")
    return Clients(instance, client_env(home), work)


@pytest.fixture(scope="session")
def email_token(clients: Clients) -> str:
    return clients.dev_token("--email", EMAIL)


@pytest.fixture(scope="session")
def github_token(clients: Clients) -> str:
    return clients.dev_token("--github-workflow", WORKFLOW)


def fail_unless_ok(result: subprocess.CompletedProcess[str], what: str) -> None:
    """Fail with the client's own output when it did not exit 0."""
    if result.returncode != 0:
        pytest.fail(
            f"{what} exited {result.returncode}\n--- stdout\n{result.stdout[-3000:]}"
            f"\n--- stderr\n{result.stderr[-5000:]}"
        )


def one_line(text: str) -> str:
    """Client error text with rich's line breaks and padding folded to single spaces."""
    return " ".join(text.split())


@dataclass(frozen=True)
class Signed:
    """A file signed by a client, its bundle, and what kind of entry it should carry."""

    name: str
    artifact: Path
    bundle: Path
    kind: str
    version: str
    dsse: bool
    identity: str
    issuer: str

    def json(self) -> dict:
        return json.loads(self.bundle.read_text())


# name -> (command, rekor version, tlog kind, kind version, DSSE?)
PYTHON_CASES: dict[str, tuple[str, str, str, str, bool]] = {
    "sign-rekor1": ("sign", "1", "hashedrekord", "0.0.1", False),
    "sign-rekor2": ("sign", "2", "hashedrekord", "0.0.2", False),
    "attest-rekor1": ("attest", "1", "dsse", "0.0.1", True),
    # sigstore-python >= 4.3 logs an attestation in Rekor v2 as a hashedrekord over the PAE.
    "attest-rekor2": ("attest", "2", "hashedrekord", "0.0.2", True),
}


@pytest.fixture(scope="session")
def python_bundles(
    clients: Clients, email_token: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Signed]:
    """Every PYTHON_CASES case signed once by sigstore-python with ``--trust-config``."""
    out = tmp_path_factory.mktemp("python-bundles")
    predicate = out / "predicate.json"
    predicate.write_text(json.dumps(PREDICATE))
    signed = {}
    for name, (command, rekor, kind, version, dsse) in PYTHON_CASES.items():
        artifact = out / f"{name}.txt"
        artifact.write_text(f"signed by sigstore-python: {name}\n")
        bundle = out / f"{name}.sigstore.json"
        extra = ["--predicate", predicate, "--predicate-type", SLSA_V1] if dsse else []
        result = clients.sigstore_tc(
            command, "--rekor-version", rekor, *extra, "--identity-token", email_token,
            "--bundle", bundle, artifact,
        )  # fmt: skip
        fail_unless_ok(result, f"sigstore {command} --rekor-version {rekor}")
        signed[name] = Signed(
            name, artifact, bundle, kind, version, dsse, EMAIL, clients.instance.email_issuer
        )
    return signed


@pytest.fixture(scope="session")
def js_modules() -> Path:
    """``tests/interop/js/node_modules``, installed from the lock file when missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("the sigstore-js interop tests need Node.js and npm on PATH (see .ci/run)")
    modules = JS_DIR / "node_modules"
    if not (modules / "sigstore" / "package.json").is_file():
        argv = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
        result = subprocess.run(argv, cwd=JS_DIR, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            pytest.fail(
                f"npm could not install tests/interop/js ({' '.join(argv)}):\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
            )
    return modules
