"""One call for ``sceau init`` (and later rotations): write the trust files and publish them.

Instance layout (docs/architecture.md, "Command line and instance directory"): ``<dir>/trust/``
holds the three trust files, ``<dir>/tuf/`` the TUF repository, ``<dir>/keys/tuf-*.pem`` its
role keys.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sceau.keys import Algorithm
from sceau.trust.client_config import SIGNING_CONFIG_FILE, TRUSTED_ROOT_FILE, write_trust_files
from sceau.trust.tuf_keys import TufKeys, key_filename
from sceau.trust.tuf_repo import Expiry, TufRepository


def publish_trust(
    instance_dir: str | os.PathLike[str],
    trusted_root: dict[str, Any],
    signing_config: dict[str, Any],
    *,
    tuf_algorithm: Algorithm | str = Algorithm.ECDSA_P256,
    expiry: Expiry | None = None,
    keys: TufKeys | None = None,
) -> TufRepository:
    """Write ``<dir>/trust/*`` and publish ``trusted_root.json`` and the signing config.

    On first use this generates the four TUF role keys (``tuf_algorithm``) and creates the
    repository; afterwards it loads the keys and publishes a new targets version only if a
    file changed.
    """
    d = Path(instance_dir)
    files = write_trust_files(d / "trust", trusted_root, signing_config)
    targets = {name: files[name] for name in (TRUSTED_ROOT_FILE, SIGNING_CONFIG_FILE)}
    keys_dir = d / "keys"
    if keys is not None:  # given by the caller (some held in a token)
        keys.save(keys_dir)  # writes the file keys only, and only once
    elif (keys_dir / key_filename("timestamp")).exists():  # the root key may be offline
        keys = TufKeys.load(keys_dir)
    else:
        keys = TufKeys.generate(tuf_algorithm)
        keys.save(keys_dir)
    repo = TufRepository(d / "tuf", keys, expiry)
    if repo.exists():
        repo.update_targets(targets)
    else:
        repo.create(targets)
    return repo
