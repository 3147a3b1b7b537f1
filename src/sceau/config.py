"""An instance's configuration: ``sceau.toml`` plus ``SCEAU_*`` environment overrides.

Every key is documented in ``docs/configuration.md``. Paths in the file are relative to
the instance directory. Environment overrides use ``SCEAU_<SECTION>_<KEY>`` in upper case
(e.g. ``SCEAU_STORAGE_DSN``), so secrets such as a database password need not sit in the
file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sceau.errors import InputError

CONFIG_NAME = "sceau.toml"
DEFAULT_URL = "http://127.0.0.1:8080"


def read_toml(path: Path, missing: str) -> dict[str, Any]:
    """A TOML file as a dict; a missing or malformed file is an :class:`InputError` that
    says which file and, when missing, what to run (``missing``)."""
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path} not found: {missing}") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path} is not valid TOML: {e}") from None


@dataclass(frozen=True)
class InstanceConfig:
    """The parsed ``sceau.toml`` of one instance directory."""

    dir: Path
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> InstanceConfig:
        d = Path(directory).resolve()
        raw = read_toml(d / CONFIG_NAME, f"run `sceau init --dir {directory}` first")
        _apply_env(raw)
        return cls(d, raw)

    def get(self, section: str, key: str, default: Any = None) -> Any:
        return self.raw.get(section, {}).get(key, default)

    def path(self, section: str, key: str, default: str) -> Path:
        return self.dir / str(self.get(section, key, default))

    @property
    def url(self) -> str:
        return str(self.get("instance", "url", DEFAULT_URL)).rstrip("/")

    @property
    def host(self) -> str:
        """host[:port] of the instance URL: the checkpoint origin / key name of its logs."""
        return urlsplit(self.url).netloc

    @property
    def keys_dir(self) -> Path:
        return self.dir / "keys"

    @property
    def trust_dir(self) -> Path:
        return self.dir / "trust"

    @property
    def tuf_dir(self) -> Path:
        return self.dir / "tuf"


def _apply_env(raw: dict[str, Any]) -> None:
    """``SCEAU_SECTION_KEY=value`` overrides ``[section] key`` (values parsed as TOML)."""
    for name, value in os.environ.items():
        if not name.startswith("SCEAU_") or name.count("_") < 2:
            continue
        section, _, key = name[len("SCEAU_") :].lower().partition("_")
        try:
            parsed = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value
        raw.setdefault(section, {})[key] = parsed


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1``: addresses only this machine reaches.

    Development shortcuts (the dev OIDC issuer) are on by default only for an instance
    whose URL and bind address are both loopback; a client's address is never the test,
    since a reverse proxy on the same host makes every client look local."""
    if not host:
        return False
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_numbers(
    section: dict[str, Any], name: str, spec: tuple[tuple[str, type, float], ...]
) -> dict[str, Any]:
    """The keys of ``spec`` (key, int or float, minimum) present in ``section`` (``[name]``
    of sceau.toml), converted; a value that is not a number or is below its minimum is the
    operator's mistake and is named as such."""
    values: dict[str, Any] = {}
    for key, kind, minimum in spec:
        if key not in section:
            continue
        raw = section[key]
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise InputError(f"[{name}] {key} must be a number, got {raw!r}")
        if raw < minimum:
            raise InputError(f"[{name}] {key} must be at least {minimum:g}, got {raw!r}")
        values[key] = kind(raw)
    return values
