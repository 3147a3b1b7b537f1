"""One real ``sceau serve`` per session, and the real clients pointed at it.

The instance is created with ``sceau init`` in a temporary directory on a free port and served
by a subprocess, as an operator would run it. Every client subprocess gets HOME and XDG_*
pointed at a session temporary directory (sigstore-python's TUF cache lives there), no
``SIGSTORE_*`` or ambient CI credentials, and a wide terminal so error lines are not wrapped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.serving import free_port

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
_STRIPPED_ENV = ("SIGSTORE_", "ACTIONS_ID_TOKEN_", "GITHUB_", "NODE_OPTIONS", "NPM_CONFIG_")


@dataclass(frozen=True)
class Instance:
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
    def tuf_root(self) -> Path:
        return self.dir / "tuf" / "root.json"

    @property
    def email_issuer(self) -> str:
        return f"{self.url}/oidc"

    @property
    def github_issuer(self) -> str:
        return f"{self.url}/oidc/github"


def client_env(home: Path, extra_path: Path | None = None) -> dict[str, str]:
    """The environment of a client subprocess: a private HOME, nothing ambient."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIPPED_ENV)}
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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sceau serve exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"sceau serve did not become healthy in {timeout}s:\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server we started (SIGTERM, then SIGKILL after 10 s)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    base = tmp_path_factory.mktemp("instance")
    url = f"http://127.0.0.1:{free_port()}"
    inst = Instance(base / "sceau", url)
    init = subprocess.run(
        [sys.executable, "-m", "sceau", "init", "--dir", str(inst.dir), "--url", url],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert init.returncode == 0, f"sceau init failed:\n{init.stdout}\n{init.stderr}"
    log = base / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sceau", "serve", "--dir", str(inst.dir),
             "--log-level", "warning"],
            stdout=out, stderr=subprocess.STDOUT, cwd=base,
        )  # fmt: skip
    try:
        wait_healthy(url, proc, log)
        yield inst
    finally:
        stop(proc)


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
