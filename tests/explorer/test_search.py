"""Search semantics over HTTP: pagination of a long result list, certificate serials
across Rekor and CT, entry IDs, and the switches that turn the explorer off."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from sceau.config import InstanceConfig
from sceau.instance.app import build_app
from tests.explorer.conftest import EMAIL, Signed
from tests.instance import ServedInstance
from tests.serving import serve_app

pytestmark = [pytest.mark.server]


def _log_with_key(url: str, key: ec.EllipticCurvePrivateKey, n: int) -> None:
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(n):
            digest = hashlib.sha256(b"page test %d" % i).digest()
            sig = key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
            body = {
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                    "signature": {
                        "content": base64.b64encode(sig).decode(),
                        "publicKey": {"content": base64.b64encode(pem).decode()},
                    },
                },
            }
            assert client.post("/api/v1/log/entries", json=body).status_code == 201


def test_results_are_paginated(instance: ServedInstance) -> None:
    """25 entries under one key (Rekor's key fingerprint term): 20, then 5."""
    key = ec.generate_private_key(ec.SECP256R1())
    _log_with_key(instance.url, key, 25)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fingerprint = hashlib.sha256(pem).hexdigest()
    first = httpx.get(f"{instance.url}/search", params={"q": fingerprint})
    assert first.status_code == 200
    assert first.text.count("<tr><td>Rekor v1</td>") == 20
    assert f'href="/search?q={fingerprint}&amp;page=2"' in first.text
    assert 'rel="prev"' not in first.text
    second = httpx.get(f"{instance.url}/search", params={"q": fingerprint, "page": "2"})
    assert second.text.count("<tr><td>Rekor v1</td>") == 5
    assert 'rel="next"' not in second.text and 'rel="prev"' in second.text
    api = httpx.get(f"{instance.url}/api/explorer/v1/search", params={"q": fingerprint}).json()
    assert len(api["results"]) == 20 and api["more"] is True
    assert all(r["identity"] == "(public key)" for r in api["results"])


def _certificate(bundle: Path) -> x509.Certificate:
    doc = json.loads(bundle.read_text())
    raw = doc["verificationMaterial"]["certificate"]["rawBytes"]
    return x509.load_der_x509_certificate(base64.b64decode(raw))


def test_search_by_certificate_serial_finds_rekor_and_ct(
    instance: ServedInstance, signed: Signed
) -> None:
    serial = _certificate(signed.python.bundle).serial_number
    found = httpx.get(
        f"{instance.url}/api/explorer/v1/search", params={"q": f"serial:{serial:x}"}
    ).json()
    logs = sorted(r["log"] for r in found["results"])
    assert logs == ["ct", "rekor-v1"]
    assert all(r["identity"] == EMAIL for r in found["results"])


def test_search_by_entry_id_and_uuid(instance: ServedInstance, signed: Signed) -> None:
    doc = json.loads(signed.python.bundle.read_text())
    body = base64.b64decode(doc["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"])
    uuid = hashlib.sha256(b"\x00" + body).hexdigest()
    tree_id = httpx.get(f"{instance.url}/api/v1/log").json()["treeID"]
    entry_id = f"{int(tree_id):016x}{uuid}"
    for q in (uuid, entry_id):
        res = httpx.get(f"{instance.url}/api/explorer/v1/search", params={"q": q}).json()
        assert [(r["log"], r["uuid"]) for r in res["results"]] == [("rekor-v1", uuid)]
    page = httpx.get(f"{instance.url}/entry/{entry_id}")
    assert page.status_code == 200 and EMAIL in page.text


def test_pages_render_without_javascript(instance: ServedInstance, signed: Signed) -> None:
    """The permalinks are complete HTML: the entry, its certificate and the links."""
    res = httpx.get(f"{instance.url}/search", params={"q": signed.workflow.sha256})
    assert signed.workflow.identity in res.text
    href = res.text.split('href="/entry/', 1)[1].split('"', 1)[0]
    page = httpx.get(f"{instance.url}/entry/{href}")
    assert page.status_code == 200
    for text in ("Signing certificate", "Build Signer URI", "hashedrekord 0.0.2", "<noscript>"):
        assert text in page.text
    assert "CT log entry of its certificate" in page.text


def test_stats_count_the_entries_of_the_current_hour(
    instance: ServedInstance, signed: Signed
) -> None:
    """Every entry of the session instance (the genesis leaf too) is younger than two
    hours: the last two hourly counts add up to the log's size."""
    size = httpx.get(f"{instance.url}/api/v1/log").json()["treeSize"]
    stats = httpx.get(f"{instance.url}/api/explorer/v1/stats", params={"hours": "2"}).json()
    for name in ("rekor-v1", "rekor-v2", "ct"):
        assert len(stats["logs"][name]["hourly"]) == 2
    assert sum(stats["logs"]["rekor-v1"]["hourly"]) == size


def _init(tmp_path: Path) -> InstanceConfig:
    directory = tmp_path / "sceau"
    init = subprocess.run(
        [sys.executable, "-m", "sceau", "init", "--dir", str(directory)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    return InstanceConfig.load(directory)


def test_only_and_sceau_toml_turn_the_explorer_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _init(tmp_path)
    with serve_app(build_app(cfg, only={"rekor", "ct"})) as url:
        assert httpx.get(url + "/").status_code == 404
        assert httpx.get(url + "/api/explorer/v1/recent").status_code == 404
        assert "/api/explorer/v1/search" not in httpx.get(url + "/api/openapi.json").json()["paths"]
    with serve_app(build_app(cfg, only={"rekor", "ct", "explorer"})) as url:
        assert httpx.get(url + "/").status_code == 200
    monkeypatch.setenv("SCEAU_EXPLORER_ENABLED", "false")  # = [explorer] enabled = false
    with serve_app(build_app(InstanceConfig.load(cfg.dir))) as url:
        assert httpx.get(url + "/").status_code == 404
        assert "explorer" not in httpx.get(url + "/healthz").json()["services"]
