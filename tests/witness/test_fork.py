"""A sceau log that forks — its database restored from an older copy, then different entries
appended under the same key — gets no cosignature from the witness that saw the first
history, and its bundles then fail ``verify --witness-policy``."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from sceau.note import Checkpoint, parse_note
from tests.instance import stop, wait_healthy
from tests.rekor.helpers import hashedrekord_v2
from tests.serving import free_port
from tests.witness.conftest import SCEAU, sceau
from tests.witness.helpers import running_witness

pytestmark = [pytest.mark.server, pytest.mark.slow]


def _serve(directory: Path, url: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*SCEAU, "serve", "--dir", str(directory), "--log-level", "warning"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    wait_healthy(url, proc, log)
    return proc


def _append(url: str) -> str:
    request, _, _, _ = hashedrekord_v2()
    r = httpx.post(f"{url}/api/v2/log/entries", json=request, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["inclusionProof"]["checkpoint"]["envelope"]


def test_a_forked_sceau_log_is_refused_by_its_witness(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    d = tmp_path / "sceau"
    assert sceau("init", "--dir", str(d), "--url", url).returncode == 0
    log_vkey = sceau("witness", "policy", "--instance-dir", str(d)).stdout.split()[1]
    snapshot = tmp_path / "data-at-genesis"
    shutil.copytree(d / "data", snapshot)
    with running_witness(tmp_path / "w1", "witness.example/w1", [log_vkey]) as w:
        config = d / "sceau.toml"
        config.write_text(
            config.read_text()
            + f'\n[witnesses]\nwait = 5\n[[witnesses.witness]]\nurl = "{w.url}"\n'
            + f'vkey = "{w.vkey}"\n'
        )
        serve_log = tmp_path / "serve.log"
        proc = _serve(d, url, serve_log)
        try:
            for _ in range(5):
                envelope = _append(url)
            assert "\u2014 witness.example/w1 " in envelope
        finally:
            stop(proc)
        honest = Checkpoint.parse(parse_note(envelope).body)
        # The fork: the database as it was at genesis, then other entries.
        shutil.rmtree(d / "data")
        shutil.copytree(snapshot, d / "data")
        proc = _serve(d, url, serve_log)
        try:
            envelopes = [_append(url) for _ in range(10)]
            published = httpx.get(f"{url}/api/v2/checkpoint", timeout=10).text
        finally:
            stop(proc)
        forked = Checkpoint.parse(parse_note(envelopes[-1]).body)
        assert forked.size > honest.size  # it grew past what the witness saw
        for text in [*envelopes, published]:
            assert "witness.example/w1" not in text  # never cosigned
        # The witness still holds the honest checkpoint.
        h = hashlib.sha256(honest.origin.encode()).hexdigest()
        held = Checkpoint.parse(parse_note(httpx.get(f"{w.url}/{h}/checkpoint").text).body)
        assert (held.size, held.root_hash) == (honest.size, honest.root_hash)
        assert "refused checkpoint" in serve_log.read_text()
