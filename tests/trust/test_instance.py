"""publish_trust: the instance directory after ``sceau init`` and after a change."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sigstore.models import ClientTrustConfig

from sceau.trust import Expiry, TufKeys, dumps, publish_trust
from tests.trust._material import Instance


def test_publish_trust_creates_then_updates(tmp_path: Path) -> None:
    inst = Instance("http://127.0.0.1:8080")
    repo = publish_trust(tmp_path, inst.trusted_root(), inst.signing_config())
    assert sorted(p.name for p in (tmp_path / "trust").iterdir()) == [
        "signing_config.v0.2.json",
        "trust_config.json",
        "trusted_root.json",
    ]
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == [
        "tuf-root.pem",
        "tuf-snapshot.pem",
        "tuf-targets.pem",
        "tuf-timestamp.pem",
    ]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in (tmp_path / "keys").iterdir())
    assert (
        repo.read_target("trusted_root.json") == (tmp_path / "trust/trusted_root.json").read_bytes()
    )
    ClientTrustConfig.from_json((tmp_path / "trust/trust_config.json").read_text())
    assert repo.versions()["targets"] == 1

    # Same content again: nothing new is published; the keys on disk are reused.
    again = publish_trust(tmp_path, inst.trusted_root(), inst.signing_config())
    assert again.versions()["targets"] == 1
    assert again.keys.root.public_key() == repo.keys.root.public_key()

    changed = Instance("http://127.0.0.1:8080")
    after = publish_trust(tmp_path, changed.trusted_root(), inst.signing_config())
    assert after.versions() == {"root": 1, "targets": 2, "snapshot": 2, "timestamp": 2}
    assert after.read_target("trusted_root.json") == dumps(changed.trusted_root())


def test_publish_trust_with_ed25519_keys(tmp_path: Path) -> None:
    inst = Instance("http://127.0.0.1:8080")
    repo = publish_trust(
        tmp_path, inst.trusted_root(), inst.signing_config(), tuf_algorithm="ed25519"
    )
    assert TufKeys.load(tmp_path / "keys").root.algorithm.value == "ed25519"
    assert repo.versions()["root"] == 1


@pytest.mark.parametrize(
    "kwargs",
    [{"refresh_fraction": 0}, {"refresh_fraction": 1.5}, {"timestamp": dt.timedelta(0)}],
)
def test_expiry_validation(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Expiry(**kwargs)
