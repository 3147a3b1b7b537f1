"""A throwaway SoftHSM2 token for the ``--keys pkcs11`` benchmarks.

The token lives in the benchmark's temporary directory (never the system's token store);
the environment it sets (``SOFTHSM2_CONF``, ``SCEAU_PKCS11_PIN``) is inherited by the
server processes the benchmark starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

LABEL = "sceau-bench"
PIN = "5678"


def make_token(directory: Path) -> str:
    """Create the token under ``directory``; return its URI (``pkcs11:token=…``)."""
    util = shutil.which("softhsm2-util")
    if util is None:
        raise SystemExit("softhsm2-util not found: apt-get install -y softhsm2")
    tokens = directory / "softhsm-tokens"
    tokens.mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    os.environ["SCEAU_PKCS11_PIN"] = PIN
    subprocess.run(
        [util, "--init-token", "--free", "--label", LABEL, "--so-pin", "1234", "--pin", PIN],
        check=True, capture_output=True,
    )  # fmt: skip
    return f"pkcs11:token={LABEL}"


def token_key(token_uri: str, label: str, algorithm: str):  # type: ignore[no-untyped-def]
    """The key labelled ``label`` in the token, made on first use."""
    from sceau.errors import InputError
    from sceau.keys.pkcs11 import Pkcs11Signer, generate_in_token

    uri = f"{token_uri};object={label}"
    try:
        return Pkcs11Signer(uri, role=label)
    except InputError:
        return generate_in_token(uri, algorithm, role=label)
