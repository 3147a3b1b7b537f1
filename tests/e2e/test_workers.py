"""sceau serve --workers on PostgreSQL: an instance migrated from SQLite, two API processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bench.local_server import NotServing, free_port, wait_until_ok
from sceau.cli.main import main
from sceau.instance import init_instance
from tests.pg import fresh_schema

SIGSTORE = str(Path(sys.executable).with_name("sigstore"))


@pytest.mark.server
@pytest.mark.slow
def test_two_workers_on_postgres_serve_real_clients(tmp_path, pg_dsn):
    port = free_port()
    cfg = init_instance(tmp_path / "inst", url=f"http://127.0.0.1:{port}")
    schema = fresh_schema("serve")
    assert main(["migrate", "--dir", str(cfg.dir), "--to", pg_dsn, "--schema", schema]) == 0
    toml = cfg.dir / "sceau.toml"
    toml.write_text(
        toml.read_text().replace(
            'driver = "sqlite"', f'driver = "postgres"\ndsn = "{pg_dsn}"\nschema = "{schema}"'
        )
    )
    (cfg.dir / "data" / "sceau.sqlite").rename(cfg.dir / "data" / "old.sqlite")  # not used
    home = tmp_path / "home"
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "c"),
        "XDG_DATA_HOME": str(home / "d"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "sceau", "serve", "--dir", str(cfg.dir), "--workers", "2",
         "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        url = cfg.url
        try:
            wait_until_ok(f"{url}/healthz", [server])
        except NotServing as e:
            pytest.fail(f"{e}: {server.stderr.read().decode()[-2000:]}")
        token = subprocess.run(
            [sys.executable, "-m", "sceau", "dev-token", "--dir", str(cfg.dir), "--email",
             "w@example.com"], capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        trust = str(cfg.trust_dir / "trust_config.json")
        for i, version in enumerate(["1", "2", "1", "2"]):
            f = tmp_path / f"f{i}.txt"
            f.write_text(f"file {i}\n")
            r = subprocess.run(
                [
                    SIGSTORE,
                    "--trust-config",
                    trust,
                    "sign",
                    "--rekor-version",
                    version,
                    "--identity-token",
                    token,
                    str(f),
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
            )
            assert r.returncode == 0, r.stderr
            r = subprocess.run(
                [
                    SIGSTORE,
                    "--trust-config",
                    trust,
                    "verify",
                    "identity",
                    str(f),
                    "--cert-identity",
                    "w@example.com",
                    "--cert-oidc-issuer",
                    f"{url}/oidc",
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
            )
            assert r.returncode == 0, r.stderr
        logs = httpx.get(f"{url}/healthz").json()["logs"]
        assert logs["rekor-v1"] == 3 and logs["rekor-v2"] == 3 and logs["ct"] >= 1
        # Certificates issued by either worker: every CT entry has its chain, whichever
        # worker answers (the chains live in PostgreSQL, not in one process's file).
        for _ in range(4):
            entries = httpx.get(
                f"{url}/ct/v1/get-entries", params={"start": 0, "end": logs["ct"] - 1}
            ).json()["entries"]
            assert len(entries) == logs["ct"]
            assert all(e["extra_data"] for e in entries)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_workers_need_postgres(tmp_path, capsys):
    cfg = init_instance(tmp_path / "i", url=f"http://127.0.0.1:{free_port()}")
    assert main(["serve", "--dir", str(cfg.dir), "--workers", "2"]) == 1
    assert "needs [storage] driver = postgres" in capsys.readouterr().err
