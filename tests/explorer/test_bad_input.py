"""Bad input in every search box and URL of the explorer: a readable message, escaped
output, the right 4xx, never a 500 — for the HTML pages and the JSON API alike."""

from __future__ import annotations

import httpx
import pytest

from tests.explorer.conftest import Signed
from tests.instance import ServedInstance
from tests.webdriver import Browser, browser

pytestmark = [pytest.mark.server]

SCRIPT = "<script>alert(1)</script>"

# (path and query, status, words the message must contain)
PAGES = [
    ("/search?q=" + "z" * 64, 400, "not a query"),
    ("/search?q=abc123", 400, "64 hex digits"),
    ("/search?q=sha256:abcd", 400, "64 hex digits"),
    ("/search?q=99999999999999999999999", 400, "larger than any log"),
    ("/search?q=9223372036854775808", 400, "larger than any log"),
    ("/search?q=", 400, "type an e-mail address"),
    ("/search?q=" + "a" * 600, 400, "longer than 512"),
    ("/search?q=a%00b", 400, "control characters"),
    ("/search?q=x@example.com&page=0", 400, "page must be between"),
    ("/search?q=x@example.com&page=99999", 400, "page must be"),
    ("/search?q=x@example.com&page=-1", 400, "page must be"),
    ("/entry/" + "0" * 64, 404, "no entry with this UUID"),
    ("/entry/not-a-uuid", 400, "is not an entry UUID"),
    ("/entry/" + "g" * 64, 400, "is not an entry UUID"),
    ("/entry/" + "0" * 64 + "?log=nope", 400, "log must be one of"),
    ("/entry/" + "0" * 64 + "/bundle", 404, "no entry with this UUID"),
]


@pytest.mark.parametrize(("path", "status", "words"), PAGES, ids=[p[0][:40] for p in PAGES])
def test_page_answers_a_readable_message(
    instance: ServedInstance, path: str, status: int, words: str
) -> None:
    resp = httpx.get(instance.url + path)
    assert resp.status_code == status, resp.text[:500]
    if path.endswith("/bundle"):
        assert words in resp.json()["message"]
        return
    assert resp.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in resp.text
    assert words in resp.text


def test_a_valid_index_beyond_the_log_is_no_result(instance: ServedInstance) -> None:
    resp = httpx.get(instance.url + "/search", params={"q": str(2**63 - 1)})
    assert resp.status_code == 200
    assert "No entry matches" in resp.text


@pytest.mark.parametrize(
    "path",
    [
        "/search?q=" + SCRIPT,
        "/search?q=%22%3E%3Cscript%3Ealert(1)%3C/script%3E",
        "/search?q=" + SCRIPT + "@example.com",
        "/search?q=https://x/" + SCRIPT,
        "/entry/" + SCRIPT,
        "/entry/%3Cimg%20src=x%20onerror=alert(1)%3E",
    ],
)
def test_script_injection_comes_back_as_text(instance: ServedInstance, path: str) -> None:
    resp = httpx.get(instance.url + path)
    assert resp.status_code in (200, 400, 404), resp.status_code
    assert "<script>alert" not in resp.text
    assert "<img src=x" not in resp.text
    assert "onerror=alert" not in resp.text or "&lt;img" in resp.text
    if resp.headers["content-type"].startswith("text/html"):  # no route: a plain 404
        assert "default-src 'self'" in resp.headers["content-security-policy"]


def test_an_identity_with_markup_is_searched_and_escaped(instance: ServedInstance) -> None:
    resp = httpx.get(instance.url + "/search", params={"q": f"https://example.com/{SCRIPT}"})
    assert resp.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in resp.text
    assert SCRIPT not in resp.text


API = [
    ("/api/explorer/v1/search?q=zz", 400),
    ("/api/explorer/v1/search?q=" + "9" * 30, 400),
    ("/api/explorer/v1/search?q=a@b.c&page=100", 400),
    ("/api/explorer/v1/entries/" + "0" * 64, 404),
    ("/api/explorer/v1/entries/xyz", 400),
    ("/api/explorer/v1/recent?limit=0", 400),
    ("/api/explorer/v1/recent?limit=99999999999", 400),
    ("/api/explorer/v1/stats?hours=100000", 400),
    ("/api/explorer/v1/stats?hours=abc", 400),
    ("/_explorer/secret.pem", 404),
]


@pytest.mark.parametrize(("path", "status"), API, ids=[p[0] for p in API])
def test_api_answers_json_errors(instance: ServedInstance, path: str, status: int) -> None:
    resp = httpx.get(instance.url + path)
    assert resp.status_code == status, resp.text[:300]
    assert resp.json()["message"]


@pytest.mark.parametrize(
    "path", ["/_explorer/..%2F..%2Fsceau.toml", "/_explorer/%2E%2E/keys/ct.pem", "/_explorer/"]
)
def test_static_files_are_a_fixed_list(instance: ServedInstance, path: str) -> None:
    resp = httpx.get(instance.url + path)
    assert resp.status_code == 404
    assert "[instance]" not in resp.text and "PRIVATE KEY" not in resp.text


def test_no_secret_in_any_page(instance: ServedInstance, signed: Signed) -> None:
    """Every page and API answer, scanned for private key material."""
    pages = ["/", "/instance", "/search?q=1", "/api/explorer/v1/trusted-root",
             "/api/explorer/v1/recent", "/api/explorer/v1/stats"]  # fmt: skip
    recent = httpx.get(instance.url + "/api/explorer/v1/recent").json()
    pages += [f"/entry/{r['uuid']}" for r in recent]
    for path in pages:
        resp = httpx.get(instance.url + path)
        assert resp.status_code == 200, path
        assert "PRIVATE KEY" not in resp.text, path


def test_script_typed_in_the_search_box_does_not_run(
    webdriver: str, tmp_path, instance: ServedInstance
) -> None:
    with browser(webdriver, tmp_path / "profile") as b:
        assert isinstance(b, Browser)
        b.open(instance.url + "/")
        b.type("#q", SCRIPT)
        b.click("button[type=submit]")
        b.wait_for("Cannot show this")
        assert "not a query the explorer understands" in b.text("main")
        assert b.execute("return document.getElementById('q').value;") == SCRIPT
        assert not b.alert_open()
        assert b.execute("return document.querySelectorAll('main script').length;") == 0
