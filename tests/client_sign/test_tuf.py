"""Trust from the instance's TUF repository: first use with --tuf-root, cache, --offline."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sceau.client.tuf import TUFError, cache_dir, instance_trust
from tests.client_sign.conftest import EMAIL, Instance, one_error_line

pytestmark = pytest.mark.server


def test_sign_and_verify_through_tuf(instance: Instance, tmp_path: Path, artifact: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    tuf = ["--instance", instance.tuf_url]
    # First use needs the initial root.
    first = instance.run("sign", *tuf, str(artifact), home=home, SIGSTORE_ID_TOKEN=instance.token())
    one_error_line(first, "--tuf-root")
    r = instance.run(
        "sign", *tuf, "--tuf-root", str(instance.tuf_root), str(artifact),
        home=home, SIGSTORE_ID_TOKEN=instance.token(),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    cached = cache_dir(instance.tuf_url, home / ".cache" / "sceau")
    assert (cached / "targets" / "trusted_root.json").read_bytes() == (
        instance.trusted_root.read_bytes()
    )
    # Then the cache is enough, online or --offline.
    r2 = instance.run(
        "sign", *tuf, "--offline", str(artifact), "--bundle", str(tmp_path / "b2.json"),
        home=home, SIGSTORE_ID_TOKEN=instance.token(),
    )  # fmt: skip
    assert r2.returncode == 0, r2.stderr
    for bundle in (Path(str(artifact) + ".sigstore.json"), tmp_path / "b2.json"):
        v = instance.run(
            "verify", str(artifact), "--bundle", str(bundle),
            "--trusted-root", str(cached / "targets" / "trusted_root.json"),
            "--certificate-identity", EMAIL, "--certificate-oidc-issuer", instance.issuer,
        )  # fmt: skip
        assert v.returncode == 0, v.stderr
        # sceau verify takes its trust from the same TUF repository (cached, or --offline).
        for extra in ([], ["--offline"]):
            v = instance.run(
                "verify", str(artifact), "--bundle", str(bundle), *tuf, *extra,
                "--certificate-identity", EMAIL, "--certificate-oidc-issuer", instance.issuer,
                home=home,
            )  # fmt: skip
            assert v.returncode == 0, v.stderr
    fresh = tmp_path / "fresh-home"
    fresh.mkdir()
    v = instance.run(
        "verify", str(artifact), "--bundle", str(tmp_path / "b2.json"), *tuf,
        "--tuf-root", str(instance.tuf_root),
        "--certificate-identity", EMAIL, "--certificate-oidc-issuer", instance.issuer,
        home=fresh,
    )  # fmt: skip
    assert v.returncode == 0, v.stderr


def test_offline_without_cache_is_an_error(instance: Instance, tmp_path: Path) -> None:
    r = instance.run(
        "sign", "--instance", instance.tuf_url, "--offline", str(instance.tuf_root),
        home=tmp_path, SIGSTORE_ID_TOKEN=instance.token(),
    )  # fmt: skip
    one_error_line(r, "no cached trust", "--offline")


def test_refresh_at_most_every_interval(instance: Instance, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = instance_trust(instance.tuf_url, bootstrap_root=instance.tuf_root, cache=cache)
    assert first.refreshed
    assert first.signing_config.select().ca.url == instance.url
    assert first.trusted_root.tlogs
    again = instance_trust(instance.tuf_url, cache=cache)
    assert not again.refreshed  # fresh: no network
    stamp = cache_dir(instance.tuf_url, cache) / "last-refresh"
    old = time.time() - 301
    os.utime(stamp, (old, old))
    assert instance_trust(instance.tuf_url, cache=cache).refreshed  # stale: refreshed
    assert not instance_trust(instance.tuf_url, cache=cache, offline=True).refreshed


def test_tuf_failures(instance: Instance, tmp_path: Path) -> None:
    with pytest.raises(TUFError, match="first use"):
        instance_trust(instance.tuf_url, cache=tmp_path)
    with pytest.raises(TUFError, match="http"):
        instance_trust("file:///etc", cache=tmp_path)
    with pytest.raises(TUFError, match="cannot fetch"):
        instance_trust(
            f"{instance.url}/no-such-tuf", bootstrap_root=instance.tuf_root, cache=tmp_path
        )
    # A root that is not the instance's: the repository's metadata does not verify.
    from importlib.resources import files

    foreign = files("sceau.data").joinpath("public-good/production/root.json").read_bytes()
    with pytest.raises(TUFError, match="does not verify"):
        instance_trust(instance.tuf_url, bootstrap_root=foreign, cache=tmp_path / "x")


def test_public_good_bootstraps_from_the_shipped_root(tmp_path: Path) -> None:
    """No --tuf-root needed for the public-good repositories: the shipped root is used
    (this sandbox has no route to them, so the fetch itself fails, in one line)."""
    from sceau.client.tuf import PRODUCTION_URL, STAGING_URL

    for url in (PRODUCTION_URL, STAGING_URL):
        try:
            trust = instance_trust(url, cache=tmp_path)
        except TUFError as e:
            assert "first use" not in e.message and "\n" not in e.message
        else:  # a machine with a route to the public-good instance
            assert trust.trusted_root.tlogs
        assert (cache_dir(url, tmp_path) / "metadata" / "root.json").exists()
