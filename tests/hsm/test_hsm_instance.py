"""A whole instance with every online key in a SoftHSM2 token: sigstore-python signs with
Rekor v1 and v2 (CA, CT, both logs, TSA and TUF all sign in the token) and verifies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sceau.instance.material import TOKEN_ROLES
from tests.hsm.conftest import Token
from tests.instance import client_env, served_instance

BIN = Path(sys.executable).parent
EMAIL = "hsm@example.com"
pytestmark = [pytest.mark.server, pytest.mark.interop]


def new_token(token: Token, label: str) -> str:
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", "1234",
         "--pin", token.pin],
        check=True, capture_output=True, env={**os.environ, "SOFTHSM2_CONF": str(token.conf)},
    )  # fmt: skip
    return f"pkcs11:token={label}"


def test_sigstore_python_signs_against_an_instance_with_keys_in_the_token(
    token: Token, tmp_path: Path
) -> None:
    uri = new_token(token, "instance")
    pin_file = tmp_path / "pin"
    pin_file.write_text(token.pin + "\n")
    os.chmod(pin_file, 0o600)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **client_env(home, keep=()),
        "SOFTHSM2_CONF": str(token.conf),
        "SCEAU_PKCS11_PIN_FILE": str(pin_file),
    }
    with served_instance(tmp_path, env, init_args=["--pkcs11", uri]) as (directory, url):
        for role in TOKEN_ROLES:  # no file for a key the token holds
            assert not (directory / "keys" / f"{role}.pem").exists(), role
        config = (directory / "sceau.toml").read_text()
        assert f'rekor-v2 = "{uri};object=sceau-rekor-v2"' in config
        assert token.pin not in config
        token_value = subprocess.run(
            [str(BIN / "sceau"), "dev-token", "--dir", str(directory), "--email", EMAIL],
            capture_output=True, text=True, check=True, env=env,
        ).stdout.strip()  # fmt: skip
        trust = str(directory / "trust" / "trust_config.json")
        for version in ("1", "2"):
            artifact = tmp_path / f"a{version}.txt"
            artifact.write_text(f"signed in a token, Rekor v{version}\n")
            bundle = tmp_path / f"a{version}.sigstore.json"
            for argv in (
                ["sign", "--rekor-version", version, "--identity-token", token_value,
                 "--bundle", str(bundle), str(artifact)],
                ["verify", "identity", str(artifact), "--bundle", str(bundle),
                 "--cert-identity", EMAIL, "--cert-oidc-issuer", f"{url}/oidc"],
            ):  # fmt: skip
                done = subprocess.run(
                    [str(BIN / "sigstore"), "--trust-config", trust, *argv],
                    capture_output=True, text=True, timeout=120, env=env,
                )  # fmt: skip
                assert done.returncode == 0, (version, argv[0], done.stdout, done.stderr)
            material = json.loads(bundle.read_text())["verificationMaterial"]
            assert material["tlogEntries"][0]["kindVersion"]["kind"] == "hashedrekord"
    # once stopped, the instance checks: every key, TUF's included, loads from the token
    check = subprocess.run(
        [str(BIN / "sceau"), "check", "--dir", str(directory)],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert "keys: 8 loaded" in check.stdout, check.stdout


def test_a_wrong_pin_stops_the_start_with_one_line(token: Token, tmp_path: Path) -> None:
    uri = new_token(token, "wrongpin")
    env = {**client_env(tmp_path), "SOFTHSM2_CONF": str(token.conf), "SCEAU_PKCS11_PIN": token.pin}
    sceau = [str(BIN / "sceau")]
    made = subprocess.run(
        [*sceau, "init", "--dir", str(tmp_path / "i"), "--pkcs11", uri],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    for bad in ({"SCEAU_PKCS11_PIN": "0000"}, {"SCEAU_PKCS11_PIN": ""}):
        done = subprocess.run(
            [*sceau, "serve", "--dir", str(tmp_path / "i")],
            capture_output=True, text=True, env={**env, **bad}, timeout=60,
        )  # fmt: skip
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("error: ")]
        assert "pkcs11:token=wrongpin;object=sceau-" in line
        assert "PIN" in line and "0000" not in line
    # sceau rotate replaces key files: a key in the token is refused, nothing changes
    rotated = subprocess.run(
        [*sceau, "rotate", "rekor-v1", "--dir", str(tmp_path / "i")],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert rotated.returncode == 1 and "held in a PKCS#11 token" in rotated.stderr
    assert not (tmp_path / "i" / "retired.json").exists()
