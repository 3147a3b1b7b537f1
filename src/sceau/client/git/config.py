"""Settings for git signing: git config ``sceau.*`` keys, then environment variables.

=============================  ==================================  ========================
git config                     environment                         meaning
=============================  ==================================  ========================
sceau.instanceDir              SCEAU_INSTANCE_DIR                  a local instance (trust/)
sceau.trustConfig              SCEAU_GIT_TRUST_CONFIG              a ClientTrustConfig
sceau.trustedRoot              SCEAU_GIT_TRUSTED_ROOT              trusted_root.json (verify)
sceau.identityToken            SIGSTORE_ID_TOKEN                   a token or its source
sceau.rekorVersion             SCEAU_GIT_REKOR_VERSION             1 or 2: the log to use
sceau.credentialCache          SCEAU_GIT_CREDENTIAL_CACHE          the cache's socket
sceau.certificateIdentity      SCEAU_GIT_CERTIFICATE_IDENTITY      identity verify-commit wants
sceau.certificateOidcIssuer    SCEAU_GIT_CERTIFICATE_OIDC_ISSUER   issuer verify-commit wants
=============================  ==================================  ========================

The environment wins over git config (a CI job overrides a developer's settings). With
neither, the public-good instance is used through its TUF repository. Apart from
``SCEAU_INSTANCE_DIR``, the variables start ``SCEAU_GIT_``: ``sceau serve`` reads
``SCEAU_<SECTION>_<KEY>`` as sceau.toml overrides, and has no ``[git]`` section.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sceau.errors import InputError

ENV = {
    "instanceDir": "SCEAU_INSTANCE_DIR",
    "trustConfig": "SCEAU_GIT_TRUST_CONFIG",
    "trustedRoot": "SCEAU_GIT_TRUSTED_ROOT",
    "identityToken": "SIGSTORE_ID_TOKEN",
    "rekorVersion": "SCEAU_GIT_REKOR_VERSION",
    "credentialCache": "SCEAU_GIT_CREDENTIAL_CACHE",
    "certificateIdentity": "SCEAU_GIT_CERTIFICATE_IDENTITY",
    "certificateOidcIssuer": "SCEAU_GIT_CERTIFICATE_OIDC_ISSUER",
}


def git_config(cwd: Path | None = None) -> dict[str, str]:
    """Every ``sceau.*`` key git sees here (repository, global, system), last one wins."""
    try:
        proc = subprocess.run(
            ["git", "config", "--null", "--get-regexp", r"^sceau\."],
            capture_output=True, cwd=cwd, timeout=10, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return {}
    out: dict[str, str] = {}
    for item in proc.stdout.split(b"\0"):
        if not item:
            continue
        key, _, value = item.partition(b"\n")
        out[key.decode(errors="replace").lower()] = value.decode(errors="replace")
    return out


@dataclass(frozen=True)
class GitSettings:
    values: Mapping[str, str]

    def get(self, name: str) -> str | None:
        return self.values.get(name) or None

    @property
    def rekor_version(self) -> int | None:
        text = self.get("rekorVersion")
        if text is None:
            return None
        if text.strip() not in ("1", "2"):
            raise InputError(f"sceau.rekorVersion must be 1 or 2, not {text!r}")
        return int(text)

    def trust_config_path(self) -> Path | None:
        if (path := self.get("trustConfig")) is not None:
            return Path(path).expanduser()
        if (d := self.get("instanceDir")) is not None:
            return Path(d).expanduser() / "trust" / "trust_config.json"
        return None


def load_settings(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> GitSettings:
    env = os.environ if env is None else env
    config = git_config(cwd)
    values: dict[str, str] = {}
    for name, var in ENV.items():
        value = env.get(var, "").strip() or config.get(f"sceau.{name.lower()}", "").strip()
        if value:
            values[name] = value
    return GitSettings(values)
