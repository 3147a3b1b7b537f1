"""sceau rotate: every rotatable key, with bundles from before and after still verifying."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sceau.cli.main import main
from sceau.config import InstanceConfig
from sceau.errors import InputError
from sceau.instance.app import build_app
from sceau.instance.init import init_instance
from sceau.instance.rotate import ROTATABLE, load_retired, rotate
from tests.serving import free_port, serve_app

SIGSTORE = str(Path(sys.executable).with_name("sigstore"))
IDENTITY = "rotation@example.com"


def _sigstore(cfg: InstanceConfig, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "c"),
        "XDG_DATA_HOME": str(home / "d"),
    }
    return subprocess.run(
        [SIGSTORE, "--trust-config", str(cfg.trust_dir / "trust_config.json"), *args],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


def _sign_all(cfg: InstanceConfig, url: str, work: Path, tag: str) -> list[Path]:
    token = main_token(cfg)
    bundles = []
    for version in ("1", "2"):
        artifact = work / f"{tag}-v{version}.txt"
        artifact.write_text(f"{tag} {version}\n")
        r = _sigstore(
            cfg, work, "sign", "--rekor-version", version, "--identity-token", token, str(artifact)
        )
        assert r.returncode == 0, r.stderr
        bundles.append(artifact)
    return bundles


def main_token(cfg: InstanceConfig) -> str:
    from sceau.keys import load_signer
    from sceau.services.oidc import DevIssuer

    dev = DevIssuer.for_instance(load_signer(cfg.keys_dir / "dev-oidc.pem"), cfg.url)
    return dev.mint_email(IDENTITY)


def _verify(cfg: InstanceConfig, work: Path, artifact: Path) -> subprocess.CompletedProcess:
    return _sigstore(
        cfg,
        work,
        "verify",
        "identity",
        str(artifact),
        "--cert-identity",
        IDENTITY,
        "--cert-oidc-issuer",
        f"{cfg.url}/oidc",
    )


@pytest.mark.interop
@pytest.mark.slow
def test_rotating_every_key_keeps_old_bundles_valid_and_signs_new_ones(tmp_path):
    port = free_port()
    cfg = init_instance(tmp_path / "inst", url=f"http://127.0.0.1:{port}")
    work = tmp_path / "work"
    work.mkdir()
    with serve_app(build_app(cfg), port=port) as url:
        before = _sign_all(cfg, url, work, "before")
        sizes = httpx.get(f"{url}/healthz").json()["logs"]
    old_root = json.loads((cfg.trust_dir / "trusted_root.json").read_text())

    for name in ROTATABLE:
        assert "rotated" in rotate(cfg, name)
    assert sorted(r.name for r in load_retired(cfg)) == sorted(ROTATABLE)
    new_root = json.loads((cfg.trust_dir / "trusted_root.json").read_text())
    assert len(new_root["tlogs"]) == 2 * len(old_root["tlogs"])
    assert len(new_root["ctlogs"]) == 2 and len(new_root["timestampAuthorities"]) == 2
    assert len(new_root["certificateAuthorities"]) == 2
    assert all("end" in t["publicKey"]["validFor"] for t in new_root["tlogs"][:1])

    with serve_app(build_app(cfg), port=port) as url:  # restarts on the new keys
        health = httpx.get(f"{url}/healthz").json()["logs"]
        assert all(health[k] >= sizes[k] for k in sizes), "logs continue, not restart"
        after = _sign_all(cfg, url, work, "after")
    for artifact in before + after:
        r = _verify(cfg, work, artifact)
        assert r.returncode == 0, f"{artifact.name}: {r.stderr}"
    # The new bundles really are signed by the new keys: the old trust root refuses them.
    (cfg.trust_dir / "trusted_root.json").write_text(json.dumps(old_root))
    stale = {
        **json.loads((cfg.trust_dir / "trust_config.json").read_text()),
        "trustedRoot": old_root,
    }
    (cfg.trust_dir / "trust_config.json").write_text(json.dumps(stale))
    assert _verify(cfg, work, after[0]).returncode != 0


def test_rotate_refuses_unknown_names_and_the_cli_says_why(tmp_path, capsys):
    cfg = init_instance(tmp_path / "i", url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(InputError, match="cannot rotate"):
        rotate(cfg, "ca-root")
    assert main(["rotate", "dev-oidc", "--dir", str(cfg.dir)]) == 1
    assert "cannot rotate" in capsys.readouterr().err


class _Crash(Exception):
    """Stands for the process dying at a rotation step: nothing after it runs."""


@pytest.mark.server
@pytest.mark.parametrize(
    ("name", "step", "committed"),
    [
        ("rekor-v1", "staged", False),
        ("rekor-v1", "resigned", True),
        ("rekor-v1", "key", True),
        ("rekor-v1", "recorded", True),
        ("rekor-v1", "published", True),
        ("ca-intermediate", "staged", False),
        ("ca-intermediate", "key", True),
        ("ca-intermediate", "certs", True),
        ("ca-intermediate", "published", True),
    ],
)
def test_a_crash_at_any_step_of_a_rotation_leaves_an_instance_that_starts(
    tmp_path, monkeypatch, name: str, step: str, committed: bool
) -> None:
    """Stop ``rotate`` between any two of its durable writes; ``sceau serve`` then starts
    (finishing the rotation if it passed its commit point, undoing it otherwise), the logs
    verify with the keys in place, and the next rotation works."""
    import sceau.instance.rotate as rotation
    from tests.instance import serve_until_healthy

    cfg = init_instance(tmp_path / "inst", url=f"http://127.0.0.1:{free_port()}")
    key_file = cfg.keys_dir / f"{name}.pem"
    before = key_file.read_bytes()

    def crash_at(at: str) -> None:
        if at == step:
            raise _Crash(at)

    monkeypatch.setattr(rotation, "_step", crash_at)
    with pytest.raises(_Crash):
        rotate(cfg, name)
    monkeypatch.undo()

    said = serve_until_healthy(cfg.dir, cfg.url, tmp_path / "serve.log")
    assert ("completed" if committed else "undid") + " the interrupted rotation" in said, said
    assert not (cfg.keys_dir / "rotation.json").exists()
    assert not list(cfg.dir.rglob("*.next"))
    assert (key_file.read_bytes() != before) is committed
    assert any(r.name == name for r in load_retired(cfg)) is committed
    assert main(["check", "--dir", str(cfg.dir)]) == 0
    assert rotate(cfg, name).startswith(f"rotated {name}")
