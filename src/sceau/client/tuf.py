"""Trust from an instance's TUF repository (``--instance URL``), cached on disk.

python-tuf's ``Updater`` does the security work (root rotation, rollback and freeze
protection, hashes of targets); this module decides *when* to ask it:

- the first time a URL is used, it needs an initial ``root.json``: ``--tuf-root FILE``, or
  the public-good root shipped with sceau for the public-good repositories;
- afterwards the trusted metadata lives under ``platformdirs.user_cache_dir("sceau")/tuf/
  <quoted URL>/`` and is refreshed at most every :data:`REFRESH_INTERVAL` seconds, so
  back-to-back commands do not touch the network;
- ``offline`` uses what the last refresh verified, whatever its age.

The targets are ``trusted_root.json`` and ``signing_config.v0.2.json`` (the names
sigstore-python and sigstore-go look for).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sceau.client.errors import TrustRootError

REFRESH_INTERVAL = 300.0  # seconds
SOCKET_TIMEOUT = 10
TRUSTED_ROOT = "trusted_root.json"
SIGNING_CONFIG = "signing_config.v0.2.json"
PRODUCTION_URL = "https://tuf-repo-cdn.sigstore.dev"
STAGING_URL = "https://tuf-repo-cdn.sigstage.dev"
_PACKAGED = {PRODUCTION_URL: "production", STAGING_URL: "staging"}
_STAMP = "last-refresh"


class TUFError(TrustRootError):
    """The TUF repository could not be reached, did not verify, or lacks a target."""


@dataclass(frozen=True)
class InstanceTrust:
    """What a TUF repository says about an instance: its trusted root and signing config."""

    url: str
    trusted_root_json: bytes
    signing_config_json: bytes | None
    refreshed: bool  # True if this call went to the network

    @cached_property
    def trusted_root(self) -> Any:
        from sceau.client.trust import TrustedRoot

        return TrustedRoot.from_json(self.trusted_root_json)

    @cached_property
    def signing_config(self) -> Any:
        from sceau.client.signing_config import SigningConfig

        if self.signing_config_json is None:
            raise TUFError(f"the TUF repository at {self.url} has no {SIGNING_CONFIG}")
        return SigningConfig.from_json(self.signing_config_json)


def cache_dir(url: str, base: str | os.PathLike[str] | None = None) -> Path:
    """Where the metadata and targets of the repository at ``url`` are kept."""
    if base is None:
        import platformdirs

        base = platformdirs.user_cache_dir("sceau")
    return Path(base) / "tuf" / quote(url.rstrip("/"), safe="")


def instance_trust(
    url: str,
    *,
    bootstrap_root: str | os.PathLike[str] | bytes | None = None,
    offline: bool = False,
    cache: str | os.PathLike[str] | None = None,
    max_age: float = REFRESH_INTERVAL,
) -> InstanceTrust:
    """Trust for the instance whose TUF repository is at ``url`` (see module docstring)."""
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise TUFError(f"--instance must be the http(s) URL of a TUF repository, got {url!r}")
    d = cache_dir(url, cache)
    targets = d / "targets"
    stamp = d / _STAMP
    if offline:
        cached = _cached(url, targets)
        if cached is None:
            raise TUFError(f"no cached trust for {url}: run once without --offline")
        return cached
    if bootstrap_root is None and _fresh(stamp, max_age):
        cached = _cached(url, targets)
        if cached is not None:
            return cached
    _refresh(url, d, bootstrap_root)
    stamp.write_text(f"{time.time():.0f}\n")
    cached = _cached(url, targets, refreshed=True)
    assert cached is not None
    return cached


def _fresh(stamp: Path, max_age: float) -> bool:
    try:
        return time.time() - stamp.stat().st_mtime < max_age
    except OSError:
        return False


def _cached(url: str, targets: Path, refreshed: bool = False) -> InstanceTrust | None:
    try:
        root = (targets / TRUSTED_ROOT).read_bytes()
    except OSError:
        return None
    try:
        config: bytes | None = (targets / SIGNING_CONFIG).read_bytes()
    except OSError:
        config = None
    return InstanceTrust(url, root, config, refreshed)


def _bootstrap(
    url: str, metadata: Path, given: str | os.PathLike[str] | bytes | None
) -> bytes | None:
    if isinstance(given, bytes):
        return given
    if given is not None:
        try:
            return Path(given).read_bytes()
        except OSError as e:
            raise TUFError(f"cannot read TUF root {given}: {e.strerror}") from None
    if (metadata / "root.json").exists():
        return None  # python-tuf starts from the root it trusted last time
    packaged = _PACKAGED.get(url)
    if packaged is not None:
        from importlib.resources import files

        return files("sceau.data").joinpath(f"public-good/{packaged}/root.json").read_bytes()
    raise TUFError(f"first use of {url}: give its initial TUF root with --tuf-root FILE")


def _refresh(url: str, d: Path, given: str | os.PathLike[str] | bytes | None) -> None:
    from tuf.api import exceptions as tuf_errors
    from tuf.ngclient import Updater, UpdaterConfig, Urllib3Fetcher

    metadata, targets = d / "metadata", d / "targets"
    bootstrap = _bootstrap(url, metadata, given)
    try:
        metadata.mkdir(parents=True, exist_ok=True)
        targets.mkdir(parents=True, exist_ok=True)
        updater = Updater(
            metadata_dir=str(metadata),
            metadata_base_url=url + "/",
            target_dir=str(targets),
            target_base_url=url + "/targets/",
            fetcher=Urllib3Fetcher(socket_timeout=SOCKET_TIMEOUT, app_user_agent="sceau"),
            config=UpdaterConfig(app_user_agent="sceau"),
            bootstrap=bootstrap,
        )
        updater.refresh()
        for name in (TRUSTED_ROOT, SIGNING_CONFIG):
            info = updater.get_targetinfo(name)
            if info is None:
                if name == TRUSTED_ROOT:
                    raise TUFError(f"the TUF repository at {url} has no {TRUSTED_ROOT}")
                (targets / name).unlink(missing_ok=True)  # do not keep a withdrawn config
                continue
            if updater.find_cached_target(info) is None:
                updater.download_target(info)
    except TUFError:
        raise
    except tuf_errors.DownloadError as e:
        raise TUFError(f"cannot fetch TUF metadata from {url}: {_line(e)}") from None
    except tuf_errors.RepositoryError as e:
        raise TUFError(f"TUF metadata from {url} does not verify: {_line(e)}") from None
    except OSError as e:
        raise TUFError(f"TUF cache {d}: {e.strerror or e}") from None
    except (ValueError, TypeError) as e:  # malformed bootstrap root, bad metadata JSON
        raise TUFError(f"TUF metadata for {url} is malformed: {_line(e)}") from None


def _line(e: BaseException) -> str:
    cause = e.__cause__ or e.__context__
    if not str(e).strip() and cause is not None:
        return _line(cause)
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:300]
