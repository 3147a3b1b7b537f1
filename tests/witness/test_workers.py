"""``sceau serve --workers 2`` on SQLite with a witness: each HTTP worker cosigns, following
the witness when another worker moved it on, so answers still carry the line."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.instance import stop, wait_healthy
from tests.rekor.helpers import hashedrekord_v2
from tests.serving import free_port
from tests.witness.conftest import SCEAU, sceau
from tests.witness.helpers import running_witness

pytestmark = [pytest.mark.server, pytest.mark.slow]


def _append(url: str) -> str:
    request, _, _, _ = hashedrekord_v2()
    r = httpx.post(f"{url}/api/v2/log/entries", json=request, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["inclusionProof"]["checkpoint"]["envelope"]


def test_workers_share_a_witness(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    d = tmp_path / "sceau"
    assert sceau("init", "--dir", str(d), "--url", url).returncode == 0
    log_vkey = sceau("witness", "policy", "--instance-dir", str(d)).stdout.split()[1]
    with running_witness(tmp_path / "w1", "witness.example/w1", [log_vkey]) as w:
        config = d / "sceau.toml"
        config.write_text(
            config.read_text()
            + f'\n[witnesses]\nwait = 10\n[[witnesses.witness]]\nurl = "{w.url}"\n'
            + f'vkey = "{w.vkey}"\n'
        )
        log = tmp_path / "serve.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*SCEAU, "serve", "--dir", str(d), "--workers", "2", "--log-level", "warning"],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            wait_healthy(url, proc, log)
            with ThreadPoolExecutor(8) as pool:
                envelopes = list(pool.map(lambda _: _append(url), range(80)))
        finally:
            stop(proc)
    missing = [e for e in envelopes if "\u2014 witness.example/w1 " not in e]
    assert not missing, f"{len(missing)} of {len(envelopes)}: {log.read_text()[-2000:]}"
