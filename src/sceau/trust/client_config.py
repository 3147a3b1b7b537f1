"""Build ``trust_config.json`` (a ClientTrustConfig) and write the instance's trust files.

A ClientTrustConfig bundles a trusted root and a signing config; ``sigstore --trust-config
FILE`` reads it as is (docs/protocols.md §5.3), no TUF needed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sigstore_models.trustroot.v1 import ClientTrustConfig

from sceau.durable import write_atomic
from sceau.trust._wire import dumps, strict_round_trip

CLIENT_TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"

TRUSTED_ROOT_FILE = "trusted_root.json"
SIGNING_CONFIG_FILE = "signing_config.v0.2.json"
TRUST_CONFIG_FILE = "trust_config.json"


def build_client_trust_config(
    trusted_root: dict[str, Any], signing_config: dict[str, Any]
) -> dict[str, Any]:
    """Return a ClientTrustConfig document wrapping the two others."""
    doc = {
        "mediaType": CLIENT_TRUST_CONFIG_MEDIA_TYPE,
        "trustedRoot": trusted_root,
        "signingConfig": signing_config,
    }
    return strict_round_trip(ClientTrustConfig, doc, "client trust config")


def write_trust_files(
    trust_dir: str | os.PathLike[str],
    trusted_root: dict[str, Any],
    signing_config: dict[str, Any],
) -> dict[str, bytes]:
    """Write the three trust files into ``trust_dir`` atomically; return name → bytes.

    The returned ``trusted_root.json`` and ``signing_config.v0.2.json`` bytes are the TUF
    targets, so the repository publishes exactly what is on disk.
    """
    files = {
        TRUSTED_ROOT_FILE: dumps(trusted_root),
        SIGNING_CONFIG_FILE: dumps(signing_config),
        TRUST_CONFIG_FILE: dumps(build_client_trust_config(trusted_root, signing_config)),
    }
    for name, data in files.items():
        write_atomic(Path(trust_dir) / name, data, 0o644)
    return files
