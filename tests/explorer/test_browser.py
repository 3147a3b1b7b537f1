"""The explorer in a real headless Chromium: search by e-mail, hash and index, read an
entry, and the page's own verification of the inclusion proof and checkpoint signature
(verified for real entries, failed when a proxy tampers with the proof).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.explorer.conftest import EMAIL, WORKFLOW, Signed
from tests.explorer.tamper import tampering_proxy
from tests.instance import ServedInstance, client_env
from tests.serving import serve_app
from tests.webdriver import Browser, browser

pytestmark = [pytest.mark.server, pytest.mark.slow]

BIN = Path(sys.executable).parent


@pytest.fixture
def b(webdriver: str, tmp_path: Path) -> Iterator[Browser]:
    with browser(webdriver, tmp_path / "profile") as session:
        session.resize(1280, 1000)
        yield session


def verdict(b: Browser, timeout: float = 30) -> str:
    """The page's verification result once it has one (polling, no fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        status = b.text("#verify-status")
        if status.startswith(("verified", "failed", "not checked:")):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"verification never finished: {status!r}")
        time.sleep(0.1)


def entry_uuid(instance: ServedInstance, log: str, index: int) -> str:
    found = httpx.get(f"{instance.url}/api/explorer/v1/search", params={"q": str(index)}).json()
    (hit,) = [r for r in found["results"] if r["log"] == log]
    return str(hit["uuid"])


def test_search_by_email_from_the_search_box(
    b: Browser, instance: ServedInstance, signed: Signed, keep_screenshot
) -> None:
    b.open(instance.url + "/")
    b.type("#q", EMAIL)
    b.click("button[type=submit]")
    b.wait_for("Results for")
    assert b.url == f"{instance.url}/search?q={EMAIL.replace('@', '%40')}"
    rows = b.text("table tbody")
    assert "Rekor v1" in rows and EMAIL in rows and "hashedrekord 0.0.1" in rows
    keep_screenshot("explorer-search.png", b.screenshot())


def test_search_by_artifact_hash(b: Browser, instance: ServedInstance, signed: Signed) -> None:
    b.open(f"{instance.url}/search?q={signed.workflow.sha256}")
    b.wait_for("Results for")
    rows = b.text("table tbody")
    assert "Rekor v2" in rows and "hashedrekord 0.0.2" in rows
    assert signed.workflow.identity in rows


def test_search_by_index_spans_the_logs(
    b: Browser, instance: ServedInstance, signed: Signed
) -> None:
    b.open(f"{instance.url}/search?q={signed.python.index}")
    b.wait_for("Results for")
    rows = b.text("table tbody")
    assert "Rekor v1" in rows
    assert "CT log" in rows  # every signature logged a precertificate too


def test_entry_shows_the_workflow_identity_and_verifies_ed25519(
    b: Browser, instance: ServedInstance, signed: Signed, keep_screenshot
) -> None:
    """The Rekor v2 entry: its checkpoint is signed with Ed25519."""
    b.open(f"{instance.url}/search?q={signed.workflow.sha256}")
    b.click("table tbody a")
    b.wait_for("Signing certificate")
    assert "/entry/" in b.url
    cert = b.text("#cert-h + dl")
    assert signed.workflow.identity in cert
    assert f"{instance.url}/oidc/github" in cert
    extensions = b.text("section[aria-labelledby=cert-h] table")
    assert "GitHub Workflow Repository" in extensions and "octo-org/octo-repo" in extensions
    assert "Build Signer URI" in extensions and WORKFLOW in extensions
    assert "GitHub Workflow Ref" in extensions and "refs/heads/main" in extensions
    assert verdict(b) == "verified"
    steps = b.text("#verify-steps")
    assert "Ed25519" in steps
    keep_screenshot("explorer-entry.png", b.screenshot())


def test_python_entry_verifies_ecdsa_and_links_its_ct_entry(
    b: Browser, instance: ServedInstance, signed: Signed
) -> None:
    """The Rekor v1 entry (ECDSA checkpoint), then the CT entry of its certificate."""
    uuid = entry_uuid(instance, "rekor-v1", signed.python.index)
    b.open(f"{instance.url}/entry/{uuid}")
    assert EMAIL in b.text("#cert-h + dl")
    assert verdict(b) == "verified"
    assert "ECDSA P-256" in b.text("#verify-steps")
    b.click("section[aria-labelledby=l-h] a")
    b.wait_for("CT log entry")
    assert "precert_entry" in b.text("main dl")
    assert EMAIL in b.text("#cert-h + dl")
    assert verdict(b) == "verified"


def test_tampered_proof_shows_failed(b: Browser, instance: ServedInstance, signed: Signed) -> None:
    uuid = entry_uuid(instance, "rekor-v1", signed.python.index)
    with serve_app(tampering_proxy(instance.url)) as proxy:
        b.open(f"{proxy}/entry/{uuid}")
        status = verdict(b)
    assert status.startswith("failed"), status
    assert "root" in status


def test_instance_page(
    b: Browser, instance: ServedInstance, signed: Signed, keep_screenshot
) -> None:
    b.open(f"{instance.url}/instance")
    b.wait_for("Entries per hour")
    logs = b.text("#logs-h + div table")
    assert "Rekor v1" in logs and "Rekor v2" in logs and "CT log" in logs
    assert b.execute("return document.querySelectorAll('svg.chart rect').length;") >= 3
    assert "timestamp" in b.text("#tuf-h + div table")
    assert f"sigstore --instance {instance.url}/tuf" in b.text("#cmd-h + pre")
    b.resize(1280, 2000)  # the whole page, charts included
    keep_screenshot("explorer-instance.png", b.screenshot())


def test_readable_on_a_phone(
    b: Browser, instance: ServedInstance, signed: Signed, keep_screenshot
) -> None:
    uuid = entry_uuid(instance, "rekor-v2", signed.workflow.index)
    b.resize(390, 844)
    b.open(f"{instance.url}/entry/{uuid}")
    assert verdict(b) == "verified"
    overflow = b.execute(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than a phone screen"
    keep_screenshot("explorer-entry-phone.png", b.screenshot())


def test_search_box_is_reachable_by_keyboard(b: Browser, instance: ServedInstance) -> None:
    b.open(instance.url + "/")
    tag = b.execute(
        "document.querySelector('.skip').focus(); return document.activeElement.className;"
    )
    assert tag == "skip"
    assert b.execute("return document.querySelector('label[for=q]') !== null;")


def test_downloaded_bundle_verifies_with_sigstore_python(
    instance: ServedInstance, signed: Signed, tmp_path: Path
) -> None:
    """The entry page's bundle download is a real bundle: sigstore-python verifies it."""
    uuid = entry_uuid(instance, "rekor-v1", signed.python.index)
    resp = httpx.get(f"{instance.url}/entry/{uuid}/bundle")
    assert resp.status_code == 200
    assert "attachment" in resp.headers["content-disposition"]
    bundle = tmp_path / "downloaded.sigstore.json"
    bundle.write_text(resp.text)
    doc = json.loads(resp.text)
    assert doc["verificationMaterial"]["tlogEntries"][0]["logIndex"] == str(signed.python.index)
    home = tmp_path / "home"
    home.mkdir()
    result = subprocess.run(
        [str(BIN / "sigstore"), "--trust-config", str(instance.trust_config), "verify",
         "identity", "--bundle", str(bundle), "--cert-identity", EMAIL,
         "--cert-oidc-issuer", instance.email_issuer, str(signed.python.artifact)],
        capture_output=True, text=True, env=client_env(home), timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stderr
