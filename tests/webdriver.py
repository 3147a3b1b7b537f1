"""A real headless Chromium driven through chromedriver's W3C WebDriver HTTP API.

A few endpoints are all the browser tests need (navigate, find, type, click, read the URL,
the page and an element's text, run a script, take a screenshot), so this talks to
chromedriver with httpx instead of pulling in selenium. Used by tests/idp (logins) and
tests/explorer (the log explorer).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.local_server import NotServing, wait_until_ok
from tests.instance import stop
from tests.serving import free_port

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # W3C web element identifier
CHROMIUM = ("chromium", "chromium-browser")


class Browser:
    """One WebDriver session: a fresh Chromium profile, nothing shared between tests."""

    def __init__(self, base: str, session: str) -> None:
        self._session_url = f"{base}/session/{session}"
        self._http = httpx.Client(base_url=self._session_url, timeout=30)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        resp = self._http.request(method, path, json=body)
        value = resp.json().get("value")
        if resp.status_code != 200:
            raise AssertionError(f"WebDriver {method} {path}: {value}")
        return value

    def open(self, url: str) -> None:
        self._call("POST", "/url", {"url": url})

    @property
    def url(self) -> str:
        return str(self._call("GET", "/url"))

    @property
    def source(self) -> str:
        return str(self._call("GET", "/source"))

    def find(self, css: str) -> str:
        """The element matching ``css`` (waiting for it up to the implicit timeout)."""
        return str(self._call("POST", "/element", {"using": "css selector", "value": css})[ELEMENT])

    def type(self, css: str, text: str) -> None:
        self._call("POST", f"/element/{self.find(css)}/value", {"text": text})

    def click(self, css: str) -> None:
        self._call("POST", f"/element/{self.find(css)}/click", {})

    def text(self, css: str) -> str:
        """The rendered text of the element matching ``css``."""
        return str(self._call("GET", f"/element/{self.find(css)}/text"))

    def execute(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body) in the page and return its value."""
        return self._call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def resize(self, width: int, height: int) -> None:
        self._call("POST", "/window/rect", {"width": width, "height": height})

    def screenshot(self) -> bytes:
        """The viewport as PNG bytes."""
        import base64

        return base64.b64decode(self._call("GET", "/screenshot"))

    def alert_open(self) -> bool:
        """Whether a JavaScript dialog (alert/confirm/prompt) is showing."""
        resp = self._http.get("/alert/text")
        return resp.status_code == 200

    def wait_for(self, text: str, timeout: float = 40) -> None:
        """Poll until the page shows ``text`` (no fixed sleeps)."""
        deadline = time.monotonic() + timeout
        while text not in self.source:
            if time.monotonic() > deadline:
                page = self.source[:2000]
                raise AssertionError(f"page {self.url} never showed {text!r}:\n{page}")
            time.sleep(0.1)

    def close(self) -> None:
        """End the session, which quits Chromium (an absolute URL: no trailing slash)."""
        try:
            resp = self._http.delete(self._session_url)
        except httpx.HTTPError as e:
            raise AssertionError(f"WebDriver could not end the session: {e}") from None
        finally:
            self._http.close()
        if resp.status_code != 200:
            raise AssertionError(f"WebDriver could not end the session: {resp.text[:300]}")


def _need(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"{names[0]} is not installed (tools/install-test-deps installs it)")


@contextlib.contextmanager
def chromedriver(log: Path) -> Iterator[str]:
    """Run chromedriver on a free port; yield its base URL."""
    exe = _need("chromedriver")
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [exe, f"--port={port}", "--allowed-ips=127.0.0.1"], stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_ok(f"{base}/status", [proc], 30)
        except NotServing as e:
            pytest.fail(f"chromedriver: {e}:\n{log.read_text()[-2000:]}")
        yield base
    finally:
        stop(proc)


@contextlib.contextmanager
def browser(base: str, profile: Path) -> Iterator[Browser]:
    """A new headless Chromium session with its own profile directory."""
    binary = _need(*CHROMIUM)
    caps = {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": binary,
            "args": [
                "--headless=new",
                "--no-sandbox",  # the tests run as root
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                f"--user-data-dir={profile}",
            ],
        },
    }
    resp = httpx.post(
        f"{base}/session", json={"capabilities": {"alwaysMatch": caps}}, timeout=60
    ).json()
    if "sessionId" not in resp.get("value", {}):
        pytest.fail(f"chromedriver could not start Chromium: {resp.get('value')}")
    b = Browser(base, resp["value"]["sessionId"])
    try:
        b._call("POST", "/timeouts", {"implicit": 15000, "pageLoad": 30000})
        yield b
    finally:
        b.close()
