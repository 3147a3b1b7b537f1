"""Interop: SSLMate's certspotter (Debian package) monitors our CT log.

certspotter reads a log list (Google's v3 schema, ``loglist/schema.go``), fetches
``get-sth``, checks the STH signature with the listed key, downloads every entry with
``get-entries``, rebuilds the Merkle tree from the ``leaf_input`` values and only advances
its verified position when the root equals the STH's. So a verified position equal to our
tree size means: signature, entries and tree all check out.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sceau.services.ca.profile import LeafTemplate, final_certificate, precertificate
from sceau.services.ct import rfc6962
from sceau.services.ct.rfc6962 import SCT
from tests.ca.helpers import principals, spki
from tests.ct.conftest import CTServer

pytestmark = [pytest.mark.server, pytest.mark.interop, pytest.mark.slow]
DER = serialization.Encoding.DER


def _fill(server: CTServer, n: int) -> None:
    chain_der = [c.public_bytes(DER) for c in server.chain.chain]
    shapes = list(principals().values())
    for i in range(n):
        key = ec.generate_private_key(ec.SECP256R1())
        template = LeafTemplate.new(shapes[i % len(shapes)], key.public_key())
        precert = precertificate(template, server.chain)
        body = {
            "chain": [base64.b64encode(c).decode() for c in [precert.public_bytes(DER), *chain_der]]
        }
        sct = SCT.from_json(httpx.post(server.url + "/ct/v1/add-pre-chain", json=body).json())
        if i % 3 == 0:  # some final certificates too (x509_entry)
            cert = final_certificate(template, server.chain, [sct], precert)
            body["chain"][0] = base64.b64encode(cert.public_bytes(DER)).decode()
            assert httpx.post(server.url + "/ct/v1/add-chain", json=body).status_code == 200


def _log_list(server: CTServer) -> dict:
    key = spki(server.key.public_key())
    return {
        "version": "3.0",
        "log_list_timestamp": "2026-01-01T00:00:00Z",
        "operators": [
            {
                "name": "sceau tests",
                "email": ["nobody@example.com"],
                "logs": [
                    {
                        "description": "sceau test CT log",
                        "log_id": base64.b64encode(rfc6962.key_hash(key)).decode(),
                        "key": base64.b64encode(key).decode(),
                        "url": server.url + "/",
                        "mmd": 86400,
                        "state": {"usable": {"timestamp": "2026-01-01T00:00:00Z"}},
                    }
                ],
            }
        ],
    }


def _verified_size(state_dir: Path) -> int | None:
    """The tree size certspotter verified, from its per-log state.json (0.15+ layout)."""
    for path in state_dir.glob("logs/*/state.json"):
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        sth = state.get("verified_sth") or {}
        if "tree_size" in sth:
            return int(sth["tree_size"])
    return None


def test_certspotter_verifies_sths_and_entries(ct_server: CTServer, tmp_path: Path) -> None:
    binary = shutil.which("certspotter")
    if binary is None:
        reason = "certspotter binary not found (apt-get install -y certspotter; .ci/run does it)"
        print(reason)
        pytest.skip(reason)
    _fill(ct_server, 12)
    size = httpx.get(ct_server.url + "/ct/v1/get-sth").json()["tree_size"]
    assert size >= 12

    (tmp_path / "logs.json").write_text(json.dumps(_log_list(ct_server)))
    (tmp_path / "watchlist").write_text(".\n")
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [
            binary,
            "-logs",
            str(tmp_path / "logs.json"),
            "-state_dir",
            str(state),
            "-watchlist",
            str(tmp_path / "watchlist"),
            "-start_at_end=false",
            "-no_save",
            "-stdout",
            "-verbose",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            if _verified_size(state) == size:
                break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            output = proc.communicate(timeout=10)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            proc.kill()
            output = proc.communicate()[0].decode(errors="replace")
    assert _verified_size(state) == size, output
    lowered = output.lower()
    for bad in ("invalid signature", "does not match", "malformed", "error parsing"):
        assert bad not in lowered, output
