"""sceau init / serve: the instance directory, the composed app, health and metrics."""

from __future__ import annotations

import json
import stat

import httpx
import pytest

from sceau.cli.main import main
from sceau.config import InstanceConfig
from sceau.errors import Conflict, InputError
from sceau.instance.app import build_app, parse_only
from sceau.instance.init import init_instance
from sceau.instance.material import KEY_FILES
from tests.serving import free_port, serve_app


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    port = free_port()
    d = tmp_path_factory.mktemp("inst")
    cfg = init_instance(d, url=f"http://127.0.0.1:{port}")
    return cfg, port


def test_init_writes_private_keys_0600_and_complete_trust_files(instance):
    cfg, port = instance
    assert stat.S_IMODE(cfg.keys_dir.stat().st_mode) == 0o700
    for name in KEY_FILES:
        assert stat.S_IMODE((cfg.keys_dir / f"{name}.pem").stat().st_mode) == 0o600
    root = json.loads((cfg.trust_dir / "trusted_root.json").read_text())
    assert root["mediaType"] == "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
    assert len(root["tlogs"]) == 2 and len(root["ctlogs"]) == 1
    assert len(root["timestampAuthorities"]) == 1 and len(root["certificateAuthorities"]) == 1
    assert all(t["baseUrl"].endswith(f"127.0.0.1:{port}") for t in root["tlogs"])
    signing = json.loads((cfg.trust_dir / "signing_config.v0.2.json").read_text())
    assert [s["majorApiVersion"] for s in signing["rekorTlogUrls"]] == [2, 1]
    assert (cfg.tuf_dir / "1.root.json").is_file()


def test_init_refuses_to_overwrite_an_instance(instance):
    cfg, _ = instance
    with pytest.raises(Conflict, match="already exists"):
        init_instance(cfg.dir)


def test_init_refuses_a_url_with_a_path(tmp_path):
    with pytest.raises(InputError, match="no path"):
        init_instance(tmp_path, url="http://127.0.0.1:8080/sigstore")


def test_serve_runs_every_service_with_health_and_metrics(instance):
    cfg, port = instance
    app = build_app(cfg)
    with serve_app(app, port=port) as url:
        health = httpx.get(f"{url}/healthz").json()
        assert health["status"] == "ok"
        assert health["logs"] == {"rekor-v1": 1, "rekor-v2": 1, "ct": 0}  # genesis entries
        assert health["services"] == ["ca", "ct", "explorer", "oidc", "rekor", "tsa", "tuf"]
        assert httpx.get(f"{url}/api/v2/configuration").status_code == 200
        assert httpx.get(f"{url}/api/v1/timestamp/certchain").status_code == 200
        assert httpx.get(f"{url}/tuf/timestamp.json").status_code == 200
        assert httpx.get(f"{url}/oidc/.well-known/openid-configuration").status_code == 200
        assert httpx.get(f"{url}/ct/v1/get-sth").json()["tree_size"] == 0
        # The CT tree is also served as C2SP tiles; nothing is logged yet, so no tile exists.
        checkpoint = httpx.get(f"{url}/ct/checkpoint").text
        empty_root = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="  # SHA-256 of nothing
        assert checkpoint.startswith(f"127.0.0.1:{port}/ct\n0\n{empty_root}\n\n\u2014 ")
        assert httpx.get(f"{url}/ct/tile/0/000.p/1").status_code == 404
        metrics = httpx.get(f"{url}/metrics").text
        assert 'sceau_http_requests_total{method="GET",route="/healthz",status="200"}' in metrics
        missing = httpx.get(f"{url}/no/such/path")
        assert missing.status_code == 404


def test_only_serves_the_chosen_services(instance):
    cfg, port = instance
    app = build_app(cfg, only=parse_only("tsa,tuf"), dev_oidc=False)
    with serve_app(app, port=port) as url:
        assert httpx.get(f"{url}/healthz").json()["services"] == ["tsa", "tuf"]
        assert httpx.get(f"{url}/api/v1/timestamp/certchain").status_code == 200
        assert httpx.get(f"{url}/api/v1/log").status_code == 404
        assert httpx.get(f"{url}/oidc/jwks").status_code == 404


def test_unknown_service_is_a_clear_error():
    with pytest.raises(InputError, match="unknown service"):
        parse_only("ca,bogus")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("batch_idle", -1, "batch_idle must be at least 0"),
        ("batch_interval", "soon", "batch_interval must be a number"),
        ("batch_size", 0, "batch_size must be at least 1"),
        ("max_pending", True, "max_pending must be at least 1"),
    ],
)
def test_bad_log_settings_are_named(instance, key, value, message):
    cfg, _ = instance
    bad = InstanceConfig(cfg.dir, {**cfg.raw, "log": {**cfg.raw.get("log", {}), key: value}})
    with pytest.raises(InputError, match=rf"\[log\] {message}"):
        build_app(bad, only={"rekor"})


def test_serve_refuses_an_instance_whose_log_database_vanished(instance, tmp_path):
    cfg, _ = instance
    moved = InstanceConfig(cfg.dir, {**cfg.raw, "storage": {"path": str(tmp_path / "gone.db")}})
    from sceau.errors import InternalError

    with pytest.raises(InternalError, match="does not exist"):
        build_app(moved, only={"rekor"})


def test_tuf_publish_republishes_only_when_trust_changes(instance, capsys):
    cfg, _ = instance
    assert main(["tuf", "publish", "--dir", str(cfg.dir)]) == 0
    assert "unchanged" in capsys.readouterr().out
    toml = cfg.dir / "sceau.toml"
    toml.write_text(toml.read_text().replace('operator = "sceau"', 'operator = "example.org"'))
    (cfg.trust_dir / "trusted_root.json").write_text("{}")  # damaged by hand: rebuilt
    assert main(["tuf", "publish", "--dir", str(cfg.dir)]) == 0
    assert "published targets v2" in capsys.readouterr().out
    root = json.loads((cfg.trust_dir / "trusted_root.json").read_text())
    assert {t.get("operator") for t in root["tlogs"]} == {"example.org"}


def test_cli_errors_are_one_line_without_traceback(tmp_path, capsys):
    assert main(["serve", "--dir", str(tmp_path / "nothing")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "sceau init" in err and "Traceback" not in err


def test_check_verifies_every_log_and_reports_damage(tmp_path, capsys):
    import sqlite3

    cfg = init_instance(tmp_path / "i", url=f"http://127.0.0.1:{free_port()}")
    assert main(["check", "--dir", str(cfg.dir)]) == 0
    out = capsys.readouterr().out
    assert "rekor-v1: 1 entries" in out and "ct: 0 entries" in out
    db = sqlite3.connect(cfg.dir / "data" / "sceau.sqlite")
    (log_id,) = db.execute("SELECT id FROM logs WHERE name='rekor-v2'").fetchone()
    for forged in ("CAST(X'0005' || 'forge' AS BLOB)", "'text, not bytes'"):
        db.execute(f"UPDATE tiles SET data = {forged} WHERE log=? AND level=-1", (log_id,))  # noqa: S608
        db.commit()
        assert main(["check", "--dir", str(cfg.dir)]) == 1
        err = capsys.readouterr().err
        assert "rekor-v2" in err and "damaged" in err and "Traceback" not in err
    db.close()
