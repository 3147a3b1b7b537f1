"""The TUF repository on disk: layout, signatures, refresh policy, updates, crash leftovers."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Root

from sceau.errors import Conflict, InputError, InternalError, NotFound
from sceau.trust import Expiry, TufKeys, TufRepository, key_filename

T0 = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
TARGETS = {"trusted_root.json": b'{"v": 1}\n', "signing_config.v0.2.json": b'{"s": 1}\n'}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(scope="module")
def keys() -> TufKeys:
    return TufKeys.generate()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def repo(tmp_path: Path, keys: TufKeys, clock: Clock) -> TufRepository:
    r = TufRepository(tmp_path / "tuf", keys, clock=clock)
    r.create(TARGETS)
    return r


def _md(repo: TufRepository, name: str) -> Metadata:
    return Metadata.from_bytes((repo.path / name).read_bytes())


def _listing(repo: TufRepository) -> dict[str, bytes]:
    return {
        str(p.relative_to(repo.path)): p.read_bytes()
        for p in repo.path.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


def test_create_layout_and_signatures(repo: TufRepository) -> None:
    names = sorted(_listing(repo))
    assert [n for n in names if not n.startswith("targets/")] == [
        "1.root.json",
        "1.snapshot.json",
        "1.targets.json",
        "root.json",
        "timestamp.json",
    ]
    root = _md(repo, "1.root.json")
    assert isinstance(root.signed, Root)
    assert root.signed.consistent_snapshot is True
    assert (repo.path / "root.json").read_bytes() == (repo.path / "1.root.json").read_bytes()
    assert len(root.signed.keys) == 4
    assert {k.scheme for k in root.signed.keys.values()} == {"ecdsa-sha2-nistp256"}
    for role, name in [
        ("root", "1.root.json"),
        ("targets", "1.targets.json"),
        ("snapshot", "1.snapshot.json"),
        ("timestamp", "timestamp.json"),
    ]:
        md = _md(repo, name)
        root.signed.verify_delegate(role, md.signed_bytes, md.signatures)
    targets = _md(repo, "1.targets.json").signed.targets
    for name, data in TARGETS.items():
        (path,) = targets[name].get_prefixed_paths()
        assert (repo.path / "targets" / path).read_bytes() == data
        assert repo.read_target(name) == data
    assert repo.versions() == {"root": 1, "targets": 1, "snapshot": 1, "timestamp": 1}
    assert repo.expires()["timestamp"] == T0 + dt.timedelta(days=1)
    assert repo.expires()["root"] == T0 + dt.timedelta(days=365)
    assert repo.target_names() == sorted(TARGETS)


def test_create_refuses_existing_repository(repo: TufRepository) -> None:
    with pytest.raises(Conflict):
        repo.create(TARGETS)


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "", "x" * 300, "a..b", "é.json"])
def test_target_names_are_strict(tmp_path: Path, keys: TufKeys, name: str) -> None:
    r = TufRepository(tmp_path / "tuf", keys)
    with pytest.raises(InputError, match="target name"):
        r.create({name: b"x"})
    assert not r.exists()


@pytest.mark.parametrize(
    ("elapsed", "resigned"),
    [
        (dt.timedelta(hours=11), []),
        (dt.timedelta(hours=13), ["timestamp"]),
        (dt.timedelta(days=4), ["snapshot", "timestamp"]),
        (dt.timedelta(days=183), ["root", "targets", "snapshot", "timestamp"]),
    ],
)
def test_refresh_policy(
    repo: TufRepository, clock: Clock, elapsed: dt.timedelta, resigned: list[str]
) -> None:
    clock.now = T0 + elapsed
    assert repo.refresh() == resigned
    expected = {
        r: (2 if r in resigned else 1) for r in ("root", "targets", "snapshot", "timestamp")
    }
    assert repo.versions() == expected
    for role in resigned:
        assert repo.expires()[role] == clock.now + Expiry().lifetime(role)
    assert repo.refresh() == []  # fresh again
    # Whatever changed is still a consistent, verifiable repository.
    root = _md(repo, f"{expected['root']}.root.json").signed
    ts = _md(repo, "timestamp.json")
    root.verify_delegate("timestamp", ts.signed_bytes, ts.signatures)
    assert ts.signed.snapshot_meta.version == expected["snapshot"]
    snap = _md(repo, f"{expected['snapshot']}.snapshot.json")
    assert snap.signed.meta["targets.json"].version == expected["targets"]
    assert repo.read_target("trusted_root.json") == TARGETS["trusted_root.json"]


def test_update_targets(repo: TufRepository) -> None:
    before = _listing(repo)
    assert repo.update_targets({"trusted_root.json": TARGETS["trusted_root.json"]}) == 1
    assert _listing(repo) == before  # unchanged content: nothing written
    assert repo.update_targets({"trusted_root.json": b'{"v": 2}\n'}) == 2
    assert repo.versions() == {"root": 1, "targets": 2, "snapshot": 2, "timestamp": 2}
    assert repo.read_target("trusted_root.json") == b'{"v": 2}\n'
    assert repo.read_target("signing_config.v0.2.json") == TARGETS["signing_config.v0.2.json"]
    # Old versions stay on disk for clients that are halfway through an update.
    assert (repo.path / "1.targets.json").exists() and (repo.path / "1.snapshot.json").exists()
    assert repo.update_targets({"extra.pem": b"pem"}, remove=["signing_config.v0.2.json"]) == 3
    assert repo.target_names() == ["extra.pem", "trusted_root.json"]
    with pytest.raises(NotFound):
        repo.read_target("signing_config.v0.2.json")
    with pytest.raises(NotFound, match="unknown"):
        repo.update_targets({}, remove=["nope.json"])


def test_wrong_keys_are_refused_before_writing(repo: TufRepository, clock: Clock) -> None:
    before = _listing(repo)
    stranger = TufRepository(repo.path, TufKeys.generate("ed25519"), clock=clock)
    with pytest.raises(InternalError, match="do not match"):
        stranger.update_targets({"trusted_root.json": b"evil"})
    clock.now = T0 + dt.timedelta(days=2)
    with pytest.raises(InternalError, match="do not match"):
        stranger.refresh()
    assert _listing(repo) == before


def test_rotate_root(repo: TufRepository, keys: TufKeys) -> None:
    new = TufKeys.generate("ed25519")
    assert repo.rotate_root(new) == 2
    assert repo.keys is new
    old_root = _md(repo, "1.root.json").signed
    new_root = _md(repo, "2.root.json")
    old_root.verify_delegate("root", new_root.signed_bytes, new_root.signatures)
    new_root.signed.verify_delegate("root", new_root.signed_bytes, new_root.signatures)
    ts = _md(repo, "timestamp.json")
    # Both the old and the new root accept the new timestamp during the transition.
    old_root.verify_delegate("timestamp", ts.signed_bytes, ts.signatures)
    new_root.signed.verify_delegate("timestamp", ts.signed_bytes, ts.signatures)
    assert {k.scheme for k in new_root.signed.keys.values()} == {"ed25519"}
    # From now on the old keys are useless.
    with pytest.raises(InternalError):
        TufRepository(repo.path, keys).update_targets({"trusted_root.json": b"{}"})


def test_keys_round_trip(tmp_path: Path, keys: TufKeys) -> None:
    keys.save(tmp_path)
    for role in ("root", "targets", "snapshot", "timestamp"):
        assert (tmp_path / key_filename(role)).stat().st_mode & 0o777 == 0o600
    loaded = TufKeys.load(tmp_path)
    assert loaded.timestamp.public_key() == keys.timestamp.public_key()
    os.chmod(tmp_path / key_filename("snapshot"), 0o644)
    with pytest.raises(InternalError, match="readable by others"):
        TufKeys.load(tmp_path)


def test_recovers_from_interrupted_root_write(repo: TufRepository, clock: Clock) -> None:
    """A crash after N.root.json but before root.json: N is the published root."""
    clock.now = T0 + dt.timedelta(days=183)
    repo.refresh()
    (repo.path / "root.json").write_bytes((repo.path / "1.root.json").read_bytes())
    assert repo.versions()["root"] == 2
    # Leftovers of a crashed change (unreferenced files) do not disturb the next one.
    (repo.path / "9.targets.json").write_bytes(b"{half")
    assert repo.update_targets({"trusted_root.json": b"{}"}) == 3
    assert json.loads((repo.path / "root.json").read_bytes())["signed"]["version"] == 2


def test_missing_or_damaged_repository(tmp_path: Path, keys: TufKeys, repo: TufRepository) -> None:
    with pytest.raises(NotFound, match="sceau init"):
        TufRepository(tmp_path / "nothing", keys).refresh()
    (repo.path / "timestamp.json").write_bytes(b"not json")
    with pytest.raises(InternalError, match="damaged"):
        repo.versions()


def test_rotation_needs_the_current_keys(repo: TufRepository, clock: Clock) -> None:
    """Without the current root key a rotation would strand every client: refused."""
    before = _listing(repo)
    impostor = TufRepository(repo.path, TufKeys.generate(), clock=clock)
    with pytest.raises(InternalError, match="do not match"):
        impostor.rotate_root(TufKeys.generate())
    assert _listing(repo) == before
