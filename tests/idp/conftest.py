"""The company IdP, the sceau instance that trusts it, and a headless Chromium to log in with.

- ``idp``: node-oidc-provider (tests/idp/js/provider.js) on a free port, one native public
  client ``CLIENT_ID`` (loopback redirect, PKCE, device flow);
- ``instance``: ``sceau init --oidc-issuer <idp> --client-id CLIENT_ID`` served in a
  subprocess;
- ``webdriver``: chromedriver on a free port (each test opens its own Chromium session).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.local_server import NotServing, wait_until_ok
from tests.instance import ServedInstance, client_env, served_instance, stop
from tests.serving import free_port
from tests.webdriver import chromedriver

JS_DIR = Path(__file__).resolve().parent / "js"
CLIENT_ID = "sceau-cli"  # deliberately not "sigstore": the token's aud is this client id


@contextlib.contextmanager
def oidc_provider(work: Path, *extra: str) -> Iterator[str]:
    """node-oidc-provider on a free port (``extra``: provider.js's optional arguments)."""
    node = shutil.which("node")
    if node is None or not (JS_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("node and tests/idp/js/node_modules are needed (tools/install-test-deps)")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    log = work / "provider.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [node, str(JS_DIR / "provider.js"), str(port), CLIENT_ID, *extra],
            stdout=out, stderr=subprocess.STDOUT, cwd=JS_DIR,
        )  # fmt: skip
    try:
        try:
            wait_until_ok(f"{issuer}/.well-known/openid-configuration", [proc], 30)
        except NotServing as e:
            pytest.fail(f"oidc-provider: {e}:\n{log.read_text()[-3000:]}")
        yield issuer
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with oidc_provider(tmp_path_factory.mktemp("idp")) as issuer:
        yield issuer


@pytest.fixture(scope="session")
def instance(idp: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedInstance]:
    base = tmp_path_factory.mktemp("instance")
    init_args = ["--oidc-issuer", idp, "--client-id", CLIENT_ID]
    with served_instance(base, init_args=init_args) as (directory, url):
        yield ServedInstance(directory, url)


@pytest.fixture(scope="session")
def webdriver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chromedriver(tmp_path_factory.mktemp("chromedriver") / "chromedriver.log") as base:
        yield base


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A client environment with a private HOME and nothing ambient."""
    home = tmp_path / "home"
    home.mkdir()
    return client_env(home)
