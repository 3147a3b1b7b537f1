"""Key custody: private directories whatever the umask, no world-writable instance,
keys encrypted at rest, and a TUF root key that the server never needs — a new root is
an offline ceremony with threshold signatures (``sceau tuf sign-root``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tuf.ngclient import Updater

from bench.local_server import free_port
from sceau.cli.main import main
from sceau.instance.init import init_instance
from tests.instance import stop, wait_healthy

SCEAU = [sys.executable, "-m", "sceau"]


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_init_makes_private_directories_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        cfg = init_instance(tmp_path / "inst", url="http://127.0.0.1:1")
    finally:
        os.umask(old)
    assert mode(cfg.dir) == 0o700
    for sub in ("keys", "data", "tuf"):
        assert mode(cfg.dir / sub) == 0o700, sub
    assert all(mode(k) == 0o600 for k in (cfg.dir / "keys").iterdir())


@pytest.mark.parametrize("where", [".", "keys", "tuf"])
def test_serve_refuses_a_world_writable_instance(tmp_path: Path, where: str, capsys) -> None:
    cfg = init_instance(tmp_path / "inst", url=f"http://127.0.0.1:{free_port()}")
    os.chmod(cfg.dir / where, 0o777)  # noqa: S103 - the point
    assert main(["serve", "--dir", str(cfg.dir)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "writable by every user" in err and "chmod o-w" in err


def _serve(directory: Path, url: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [*SCEAU, "serve", "--dir", str(directory), "--log-level", "warning"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip


def test_keys_encrypted_at_rest_with_a_passphrase(tmp_path: Path, monkeypatch) -> None:
    """With SCEAU_KEY_PASSPHRASE set, init encrypts every key and serve needs it back."""
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("SCEAU_KEY_PASSPHRASE", "s3cret passphrase")
    cfg = init_instance(tmp_path / "inst", url=url)
    monkeypatch.delenv("SCEAU_KEY_PASSPHRASE")
    for key in (cfg.dir / "keys").iterdir():
        assert key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----"), key
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCEAU_")}
    refused = subprocess.run(
        [*SCEAU, "serve", "--dir", str(cfg.dir)], capture_output=True, text=True, env=env,
        timeout=60,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "is encrypted: set SCEAU_KEY_PASSPHRASE" in refused.stderr, refused.stderr
    secret = tmp_path / "passphrase"
    secret.write_text("s3cret passphrase\n")
    os.chmod(secret, 0o600)
    server = _serve(cfg.dir, url, {**env, "SCEAU_KEY_PASSPHRASE_FILE": str(secret)},
                    tmp_path / "serve.log")  # fmt: skip
    try:
        wait_healthy(url, server, tmp_path / "serve.log")
    finally:
        stop(server)


@pytest.fixture
def offline_root(tmp_path: Path) -> Iterator[tuple[Path, str, Path]]:
    """An instance served with its TUF root key moved out of keys/ (to ``offline/``)."""
    url = f"http://127.0.0.1:{free_port()}"
    cfg = init_instance(tmp_path / "inst", url=url)
    offline = tmp_path / "offline"
    offline.mkdir(mode=0o700)
    shutil.move(cfg.dir / "keys" / "tuf-root.pem", offline / "root.pem")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCEAU_")}
    server = _serve(cfg.dir, url, env, tmp_path / "serve.log")
    try:
        wait_healthy(url, server, tmp_path / "serve.log")
        yield cfg.dir, url, offline
    finally:
        stop(server)


def _client_root_version(url: str, bootstrap: bytes, where: Path) -> int:
    """What a fresh python-tuf client, trusting ``bootstrap`` (a root.json), ends up
    trusting after a refresh against the instance; it also fetches trusted_root.json."""
    shutil.rmtree(where, ignore_errors=True)
    (where / "meta").mkdir(parents=True)
    (where / "meta" / "root.json").write_bytes(bootstrap)
    updater = Updater(
        str(where / "meta"), f"{url}/tuf/", str(where), f"{url}/tuf/targets/", bootstrap=bootstrap
    )
    updater.refresh()
    info = updater.get_targetinfo("trusted_root.json")
    assert info is not None
    updater.download_target(info, str(where / "trusted_root.json"))
    return int(json.loads((where / "meta" / "root.json").read_bytes())["signed"]["version"])


def _sceau(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCEAU_")}
    return subprocess.run([*SCEAU, *args], capture_output=True, text=True, env=env, timeout=60)


def test_offline_root_ceremony_with_a_threshold(
    offline_root: tuple[Path, str, Path], tmp_path: Path
) -> None:
    directory, url, offline = offline_root
    bootstrap = (directory / "tuf" / "1.root.json").read_bytes()
    assert _client_root_version(url, bootstrap, tmp_path / "c1") == 1
    assert _sceau("tuf", "refresh", "--dir", str(directory)).returncode == 0  # no root key

    keyids = {}
    for holder in ("alice", "bob"):
        r = _sceau("tuf", "keygen", str(offline / f"{holder}.pem"))
        assert r.returncode == 0, r.stderr
        keyids[holder] = r.stdout.split()[0]
    old_keyid = json.loads(bootstrap)["signed"]["roles"]["root"]["keyids"][0]

    # v2: alice and bob replace the old key, two of them needed from now on.
    r = _sceau(
        "tuf", "sign-root", "--dir", str(directory),
        "--key", str(offline / "root.pem"), "--key", str(offline / "alice.pem"),
        "--key", str(offline / "bob.pem"),
        "--add-key", str(offline / "alice.pem"), "--add-key", str(offline / "bob.pem"),
        "--remove-key", old_keyid, "--threshold", "2",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "published root v2" in r.stdout and "threshold 2" in r.stdout
    assert _client_root_version(url, bootstrap, tmp_path / "c2") == 2

    # One holder alone cannot make v3; nothing is written.
    r = _sceau("tuf", "sign-root", "--dir", str(directory), "--key", str(offline / "alice.pem"))
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "not enough root keys" in r.stderr
    assert not (directory / "tuf" / "3.root.json").exists()
    # The retired key cannot either.
    r = _sceau("tuf", "sign-root", "--dir", str(directory), "--key", str(offline / "root.pem"))
    assert r.returncode == 1 and "is not a root key" in r.stderr

    # Both together renew it; clients follow 1 → 2 → 3.
    r = _sceau(
        "tuf", "sign-root", "--dir", str(directory),
        "--key", str(offline / "alice.pem"), "--key", str(offline / "bob.pem"),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert _client_root_version(url, bootstrap, tmp_path / "c3") == 3
