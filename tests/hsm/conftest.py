"""A SoftHSM2 token for the tests, in a directory of their own (never the system's).

One per session: a PKCS#11 module reads its configuration once per process, so tests in
one process share the token (each uses its own key labels), and subprocesses are given
the same ``SOFTHSM2_CONF``."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN = "5678"


@dataclass(frozen=True)
class Token:
    label: str
    conf: Path
    pin: str = PIN

    @property
    def uri(self) -> str:
        return f"pkcs11:token={self.label}"


@pytest.fixture(scope="session")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Token]:
    util = shutil.which("softhsm2-util")
    assert util and MODULE.exists(), "SoftHSM2 is not installed: tools/install-test-deps does it"
    tmp_path = tmp_path_factory.mktemp("softhsm")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    saved = {k: os.environ.get(k) for k in ("SOFTHSM2_CONF", "SCEAU_PKCS11_PIN")}
    os.environ["SOFTHSM2_CONF"] = str(conf)
    os.environ["SCEAU_PKCS11_PIN"] = PIN
    subprocess.run(
        [util, "--init-token", "--free", "--label", "sceau", "--so-pin", "1234", "--pin", PIN],
        check=True, capture_output=True,
    )  # fmt: skip
    reload_module()
    try:
        yield Token("sceau", conf)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def reload_module() -> None:
    """SoftHSM2 reads ``SOFTHSM2_CONF`` when it is initialised, and python-pkcs11 keeps one
    initialised module per process: another test may have loaded it with its own tokens."""
    import pkcs11

    pkcs11.lib(str(MODULE)).reinitialize()
