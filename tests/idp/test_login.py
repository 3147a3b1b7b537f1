"""A person logs in at a real company IdP and signs; sigstore-python verifies the bundle.

Everything is real: node-oidc-provider (certified OpenID provider) serves its own login and
consent pages, headless Chromium fills them, ``sceau sign`` runs as a subprocess with the
browser flow (authorization code + PKCE, loopback redirect) or the device flow, the
instance's CA checks the provider's token, and ``sigstore verify identity`` checks the
bundle against the instance's trust config.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.idp.conftest import CLIENT_ID, oidc_provider
from tests.instance import ServedInstance, served_instance
from tests.webdriver import Browser, browser

pytestmark = [pytest.mark.interop, pytest.mark.server, pytest.mark.slow]

HANDOFF = Path(__file__).resolve().parent / "browser_handoff.py"
BIN = Path(sys.executable).parent
EMAIL = "alice@corp.example"
# A minimal SLSA v1 predicate (as tests/interop uses).
PREDICATE = {
    "buildDefinition": {"buildType": "https://example.com/build/v1", "externalParameters": {}},
    "runDetails": {"builder": {"id": "https://example.com/builder"}},
}
DEVICE_PROMPT = re.compile(r"visit (\S+) and enter the code (\S+)")


class Signing:
    """``sceau sign`` running in the background, its output in files the test can poll."""

    def __init__(
        self,
        tmp: Path,
        env: dict[str, str],
        inst: ServedInstance,
        *opts: str,
        command: tuple[str, ...] = ("sign",),
        suffix: str = ".sigstore.json",
    ) -> None:
        self.bundle = Path(f"{tmp / 'release.tar.gz'}{suffix}")
        self.artifact = tmp / "release.tar.gz"
        self.artifact.write_bytes(b"a release made by a person who logged in\n")
        self.url_file = tmp / "login-url.txt"
        self.stdout, self.stderr = tmp / "sign.out", tmp / "sign.err"
        env = {**env, "BROWSER": f"{sys.executable} {HANDOFF} {self.url_file} %s"}
        argv = [
            sys.executable, "-m", "sceau", *command, str(self.artifact),
            "--trust-config", str(inst.trust_config), *opts,
        ]  # fmt: skip
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=tmp)

    def poll(self, what: str, found, timeout: float = 30):
        """Wait for ``found()`` to return something while the CLI is still running."""
        deadline = time.monotonic() + timeout
        while (value := found()) is None:
            if self.proc.poll() is not None:
                pytest.fail(f"sceau sign exited {self.proc.returncode} before {what}:\n{self.err}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout:g} s:\n{self.err}")
            time.sleep(0.05)
        return value

    def login_url(self) -> str:
        """The URL the CLI handed to ``$BROWSER`` (it prints it too)."""
        url = self.poll(
            "login URL", lambda: self.url_file.read_text() if self.url_file.exists() else None
        )
        assert url in self.err, "the CLI must also print the URL for opening by hand"
        return url

    def device_prompt(self) -> tuple[str, str]:
        m = self.poll("device code prompt", lambda: DEVICE_PROMPT.search(self.err))
        return m.group(1), m.group(2)

    def finish(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"sceau sign did not finish:\n{self.err}")

    @property
    def err(self) -> str:
        return self.stderr.read_text() if self.stderr.exists() else ""


def _log_in(b: Browser, login: str = EMAIL) -> None:
    """Fill the provider's login form."""
    b.type("input[name=login]", login)
    b.type("input[name=password]", "correct horse battery staple")
    b.click("button[type=submit]")
    b.wait_for('value="consent"')


def _sigstore_verify(inst: ServedInstance, signing: Signing, identity: str, issuer: str, env):
    return subprocess.run(
        [
            str(BIN / "sigstore"), "--trust-config", str(inst.trust_config), "verify", "identity",
            "--bundle", str(signing.bundle), "--cert-identity", identity,
            "--cert-oidc-issuer", issuer, str(signing.artifact),
        ],
        capture_output=True, text=True, env=env, timeout=90,
    )  # fmt: skip


def test_browser_login_signs_and_verifies(
    idp: str, instance: ServedInstance, webdriver: str, env: dict[str, str], tmp_path: Path
) -> None:
    signing = Signing(tmp_path, env, instance, "--oidc-issuer", idp, "--oidc-client-id", CLIENT_ID)
    url = signing.login_url()
    assert "code_challenge_method=S256" in url and "nonce=" in url and "state=" in url
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in url
    with browser(webdriver, tmp_path / "chromium") as b:
        b.open(url)
        _log_in(b)
        b.click("button[type=submit]")  # consent: Continue
        b.wait_for("Login complete.")
    assert signing.finish() == 0, signing.err
    assert f"as {EMAIL}" in signing.stdout.read_text()
    ok = _sigstore_verify(instance, signing, EMAIL, idp, env)
    assert ok.returncode == 0, ok.stderr
    wrong = _sigstore_verify(instance, signing, "mallory@corp.example", idp, env)
    assert wrong.returncode != 0


def test_device_flow_signs_and_verifies(
    idp: str, instance: ServedInstance, webdriver: str, env: dict[str, str], tmp_path: Path
) -> None:
    signing = Signing(
        tmp_path, env, instance,
        "--oidc-issuer", idp, "--oidc-client-id", CLIENT_ID, "--oidc-device-flow",
    )  # fmt: skip
    uri, code = signing.device_prompt()
    with browser(webdriver, tmp_path / "chromium") as b:
        b.open(uri)
        b.type("input[name=user_code]", code)
        b.click("button[type=submit]")
        b.wait_for("op.deviceConfirmForm")
        b.click("button[autofocus]")  # the device confirmation: Continue
        _log_in(b, "bob")
        b.click("button[type=submit]")  # consent: Continue
        b.wait_for("Sign-in Success")
    assert signing.finish() == 0, signing.err
    assert not signing.url_file.exists(), "the device flow must not open a browser here"
    ok = _sigstore_verify(instance, signing, "bob@example.test", idp, env)
    assert ok.returncode == 0, ok.stderr


def test_attest_logs_in_at_the_instance_s_provider(
    idp: str, webdriver: str, env: dict[str, str], tmp_path: Path, tmp_path_factory
) -> None:
    """A production-shaped instance (no dev issuer): its signing config names the company IdP,
    so ``sceau attest --oidc-client-id ID --oidc-device-flow`` needs no --oidc-issuer."""
    base = tmp_path_factory.mktemp("prod-instance")
    init = ["--no-dev-oidc", "--oidc-issuer", idp, "--client-id", CLIENT_ID]
    with served_instance(base, init_args=init) as (directory, url):
        inst = ServedInstance(directory, url)
        predicate = tmp_path / "predicate.json"
        predicate.write_text(json.dumps(PREDICATE))
        command = ("attest", "--predicate", str(predicate), "--type", "slsaprovenance")
        signing = Signing(
            tmp_path, env, inst, "--oidc-client-id", CLIENT_ID, "--oidc-device-flow",
            command=command, suffix=".intoto.sigstore.json",
        )  # fmt: skip
        uri, code = signing.device_prompt()
        assert uri.startswith(idp)
        with browser(webdriver, tmp_path / "chromium") as b:
            b.open(uri)
            b.type("input[name=user_code]", code)
            b.click("button[type=submit]")
            b.wait_for("op.deviceConfirmForm")
            b.click("button[autofocus]")
            _log_in(b, "carol@corp.example")
            b.click("button[type=submit]")
            b.wait_for("Sign-in Success")
        assert signing.finish() == 0, signing.err
        verify = subprocess.run(
            [
                sys.executable, "-m", "sceau", "verify-attestation", "--bundle",
                str(signing.bundle), "--certificate-identity", "carol@corp.example",
                "--certificate-oidc-issuer", idp, "--trust-config", str(inst.trust_config),
                str(signing.artifact),
            ],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
        assert verify.returncode == 0, verify.stderr


def test_denied_consent_is_one_line_error(
    idp: str, instance: ServedInstance, webdriver: str, env: dict[str, str], tmp_path: Path
) -> None:
    signing = Signing(tmp_path, env, instance, "--oidc-issuer", idp, "--oidc-client-id", CLIENT_ID)
    with browser(webdriver, tmp_path / "chromium") as b:
        b.open(signing.login_url())
        _log_in(b)
        b.click('a[href$="/abort"]')  # consent: [ Cancel ]
        b.wait_for("Login failed.")
    assert signing.finish() != 0
    lines = [line for line in signing.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "access_denied" in lines[0], signing.err
    assert "Traceback" not in signing.err
    assert not signing.bundle.exists()


def test_callback_with_another_state_is_refused(
    idp: str, instance: ServedInstance, env: dict[str, str], tmp_path: Path
) -> None:
    """A forged redirect to the loopback server (say, from a web page the user has open) must
    not complete the login: its state is not this login's."""
    signing = Signing(tmp_path, env, instance, "--oidc-issuer", idp, "--oidc-client-id", CLIENT_ID)
    query = parse_qs(urlsplit(signing.login_url()).query)
    redirect = query["redirect_uri"][0]
    assert redirect.startswith("http://127.0.0.1:") and redirect.endswith("/callback")
    resp = httpx.get(redirect, params={"code": "forged", "state": "not-the-state"}, timeout=10)
    assert resp.status_code == 200
    assert signing.finish(timeout=60) != 0
    lines = [line for line in signing.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "state does not match" in lines[0], signing.err
    assert not signing.bundle.exists()


def test_unknown_client_is_one_line_error(
    idp: str, instance: ServedInstance, env: dict[str, str], tmp_path: Path
) -> None:
    signing = Signing(
        tmp_path, env, instance,
        "--oidc-issuer", idp, "--oidc-client-id", "not-registered", "--oidc-device-flow",
    )  # fmt: skip
    assert signing.finish(timeout=60) != 0
    lines = [line for line in signing.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "invalid_client" in lines[0], signing.err
    assert not signing.bundle.exists()


def test_expired_device_code_is_one_line_error(
    instance: ServedInstance, env: dict[str, str], tmp_path: Path
) -> None:
    """Nobody enters the code: when it expires (here after 2 s) the CLI stops polling."""
    with oidc_provider(tmp_path, "2") as short_lived:
        signing = Signing(
            tmp_path, env, instance,
            "--oidc-issuer", short_lived, "--oidc-client-id", CLIENT_ID, "--oidc-device-flow",
        )  # fmt: skip
        signing.device_prompt()
        assert signing.finish(timeout=60) != 0
    lines = [line for line in signing.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "device code expired" in lines[0], signing.err
    assert not signing.bundle.exists()
