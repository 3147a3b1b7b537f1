"""Registry credentials (Docker's config file) and the ``WWW-Authenticate`` challenge."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

_PARAM = re.compile(r'(\w+)="([^"]*)"')


def docker_credentials(registry: str) -> tuple[str, str] | None:
    """``(user, password)`` for ``registry`` from ``$DOCKER_CONFIG/config.json`` or
    ``~/.docker/config.json`` (``auths``: ``auth`` = base64 user:password, or the two
    fields); None if there are none. Credential helpers are not run."""
    base = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    try:
        config = json.loads((Path(base) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    auths = config.get("auths") if isinstance(config, dict) else None
    if not isinstance(auths, dict):
        return None
    for key in (registry, f"https://{registry}", f"http://{registry}", f"https://{registry}/v1/"):
        entry = auths.get(key)
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("auth"), str):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
            return user, password
        if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
            return entry["username"], entry["password"]
    return None


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="…",service="…"`` → ``("bearer", {"realm": …, "service": …})``."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_PARAM.findall(rest))


def basic(credentials: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
