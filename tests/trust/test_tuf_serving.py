"""The TUF repository over real HTTP, fetched by real clients (python-tuf, sigstore-python)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sigstore.models import ClientTrustConfig
from starlette.applications import Starlette
from tuf.api.metadata import Metadata
from tuf.ngclient import Updater

from sceau.services.tuf import refresh_periodically, routes
from sceau.trust import (
    SIGNING_CONFIG_FILE,
    TRUSTED_ROOT_FILE,
    TufKeys,
    TufRepository,
    build_client_trust_config,
    dumps,
)
from tests.serving import serve_app
from tests.trust._material import Instance

pytestmark = pytest.mark.server


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(scope="module")
def keys() -> TufKeys:
    return TufKeys.generate()


@pytest.fixture
def inst() -> Instance:
    return Instance("http://127.0.0.1:8080")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def repo(tmp_path: Path, keys: TufKeys, inst: Instance, clock: Clock) -> TufRepository:
    r = TufRepository(tmp_path / "instance" / "tuf", keys, clock=clock)
    r.create(
        {
            TRUSTED_ROOT_FILE: dumps(inst.trusted_root()),
            SIGNING_CONFIG_FILE: dumps(inst.signing_config()),
        }
    )
    return r


@pytest.fixture
def server(repo: TufRepository) -> Iterator[str]:
    """Base URL of a real uvicorn server with the repository mounted at /tuf."""
    with serve_app(Starlette(routes=routes(repo.path))) as url:
        yield url


@pytest.fixture
def client_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point sigstore-python's platformdirs (TUF metadata and target caches) into tmp."""
    env = {
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def _updater(repo: TufRepository, url: str, client_dir: Path) -> Updater:
    meta = client_dir / "metadata"
    if not meta.exists():
        meta.mkdir(parents=True)
        bootstrap = (repo.path / "1.root.json").read_bytes()
    else:
        bootstrap = None
    updater = Updater(
        metadata_dir=str(meta),
        metadata_base_url=f"{url}/tuf",
        target_base_url=f"{url}/tuf/targets/",
        target_dir=str(client_dir / "targets"),
        bootstrap=bootstrap,
    )
    updater.refresh()
    return updater


def _fetch(updater: Updater, name: str) -> bytes:
    info = updater.get_targetinfo(name)
    assert info is not None, name
    path = updater.find_cached_target(info) or updater.download_target(info)
    return Path(path).read_bytes()


@pytest.mark.interop
def test_python_tuf_updater_verifies_both_targets(
    repo: TufRepository, server: str, tmp_path: Path
) -> None:
    updater = _updater(repo, server, tmp_path / "client")
    for name in (TRUSTED_ROOT_FILE, SIGNING_CONFIG_FILE):
        assert _fetch(updater, name) == repo.read_target(name)


@pytest.mark.interop
def test_sigstore_python_from_tuf(
    repo: TufRepository, server: str, inst: Instance, client_home: dict[str, str]
) -> None:
    config = ClientTrustConfig.from_tuf(
        f"{server}/tuf", offline=False, bootstrap_root=repo.path / "1.root.json"
    )
    expected = build_client_trust_config(inst.trusted_root(), inst.signing_config())
    assert config._inner.to_dict() == expected
    assert config.signing_config.get_tlogs()[0].url == f"{inst.url}/api/v2"
    # The metadata landed under the XDG dirs we set, not in the real home.
    assert any(Path(client_home["XDG_DATA_HOME"]).rglob("timestamp.json"))


@pytest.mark.interop
def test_sigstore_cli_trust_instance(
    repo: TufRepository, server: str, client_home: dict[str, str]
) -> None:
    env = {**os.environ, **client_home}
    result = subprocess.run(
        [sys.executable, "-m", "sigstore", "--instance", f"{server}/tuf", "trust-instance",
         str(repo.path / "root.json")],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # Trust is now established: later runs need no bootstrap root.
    config = ClientTrustConfig.from_tuf(f"{server}/tuf")
    assert config.trusted_root.get_fulcio_certs()


@pytest.mark.interop
def test_client_sees_updated_trusted_root(
    repo: TufRepository, server: str, client_home: dict[str, str]
) -> None:
    first = ClientTrustConfig.from_tuf(f"{server}/tuf", bootstrap_root=repo.path / "1.root.json")
    rotated = Instance("http://127.0.0.1:8080")  # e.g. a new log shard and CA
    assert repo.update_targets({TRUSTED_ROOT_FILE: dumps(rotated.trusted_root())}) == 2
    second = ClientTrustConfig.from_tuf(f"{server}/tuf")
    assert second._inner.trusted_root.to_dict() == rotated.trusted_root()
    assert second._inner.trusted_root != first._inner.trusted_root
    assert second._inner.signing_config == first._inner.signing_config


@pytest.mark.interop
def test_refresh_bumps_timestamp_and_clients_follow(
    repo: TufRepository, server: str, clock: Clock, tmp_path: Path
) -> None:
    updater = _updater(repo, server, tmp_path / "client")
    clock.now += dt.timedelta(hours=13)
    assert repo.refresh() == ["timestamp"]
    clock.now += dt.timedelta(days=4)
    assert repo.refresh() == ["snapshot", "timestamp"]
    assert repo.versions() == {"root": 1, "targets": 1, "snapshot": 2, "timestamp": 3}
    updater = _updater(repo, server, tmp_path / "client")  # reuses the trusted local metadata
    assert updater._trusted_set.timestamp.version == 3
    assert _fetch(updater, TRUSTED_ROOT_FILE) == repo.read_target(TRUSTED_ROOT_FILE)


@pytest.mark.interop
def test_root_rotation_reaches_existing_clients(
    repo: TufRepository, server: str, tmp_path: Path, client_home: dict[str, str]
) -> None:
    _updater(repo, server, tmp_path / "client")
    ClientTrustConfig.from_tuf(f"{server}/tuf", bootstrap_root=repo.path / "1.root.json")
    repo.rotate_root(TufKeys.generate("ed25519"))
    after = Instance("http://127.0.0.1:8080").trusted_root()
    repo.update_targets({TRUSTED_ROOT_FILE: dumps(after)})
    updater = _updater(repo, server, tmp_path / "client")
    assert updater._trusted_set.root.version == 2
    assert _fetch(updater, TRUSTED_ROOT_FILE) == dumps(after)
    # sigstore-python walks 2.root.json (then 3.root.json → 404) and trusts the new keys.
    config = ClientTrustConfig.from_tuf(f"{server}/tuf")
    assert config._inner.trusted_root.to_dict() == after
    (root_file,) = Path(client_home["XDG_DATA_HOME"]).rglob("root.json")
    assert Metadata.from_bytes(root_file.read_bytes()).signed.version == 2


def test_http_surface(repo: TufRepository, server: str) -> None:
    with httpx.Client(base_url=f"{server}/tuf") as http:
        ts = http.get("/timestamp.json")
        assert ts.status_code == 200
        assert ts.headers["content-type"] == "application/json"
        assert ts.headers["cache-control"] == "public, max-age=60"
        assert ts.content == (repo.path / "timestamp.json").read_bytes()
        one = http.get("/1.root.json")
        assert "immutable" in one.headers["cache-control"]
        assert http.get("/root.json").headers["cache-control"] == "public, max-age=60"
        (target,) = [p for p in (repo.path / "targets").iterdir() if "trusted_root" in p.name]
        got = http.get(f"/targets/{target.name}")
        assert got.status_code == 200 and got.content == target.read_bytes()
        assert "immutable" in got.headers["cache-control"]
        assert http.head("/timestamp.json").status_code == 200
        missing = http.get("/2.root.json")  # how clients end the root walk
        assert missing.status_code == 404
        assert missing.headers["cache-control"] == "no-store"
        assert missing.json()["code"] == 404
        assert http.post("/timestamp.json").status_code == 405


BAD_PATHS = [
    "/.lock",
    "/targets/trusted_root.json",  # targets are only served hash-prefixed
    "/trusted_root.json",
    "/0.root.json",
    "/01.root.json",
    "/root.json.tmp",
    "/..%2f..%2fkeys%2ftuf-root.pem",
    "/targets/..%2f1.root.json",
    "/targets/%2e%2e/1.root.json",
    "/targets/" + "0" * 64 + ".trusted_root.json",
    "/x/y/z",
    "/",
]


def test_unknown_and_traversal_paths_are_404(repo: TufRepository, server: str) -> None:
    (repo.path.parent / "keys").mkdir(exist_ok=True)
    (repo.path.parent / "keys" / "tuf-root.pem").write_text("secret")
    for path in BAD_PATHS:
        response = httpx.get(f"{server}/tuf{path}")
        assert response.status_code == 404, path
        assert b"secret" not in response.content


def test_symlinked_file_is_not_served(repo: TufRepository, server: str, tmp_path: Path) -> None:
    (tmp_path / "outside.json").write_text("secret")
    os.symlink(tmp_path / "outside.json", repo.path / "7.targets.json")
    assert httpx.get(f"{server}/tuf/7.targets.json").status_code == 404


def test_refresh_periodically(repo: TufRepository, clock: Clock) -> None:
    clock.now += dt.timedelta(hours=13)

    async def run() -> None:
        task = asyncio.create_task(refresh_periodically(repo, interval=0.01))
        for _ in range(500):
            await asyncio.sleep(0.01)
            if repo.versions()["timestamp"] == 2:
                break
        await asyncio.sleep(0.05)  # further rounds find nothing to do
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert repo.versions()["timestamp"] == 2
    with pytest.raises(ValueError):
        asyncio.run(refresh_periodically(repo, interval=0))
