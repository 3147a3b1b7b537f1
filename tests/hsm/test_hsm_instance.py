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
from sceau.instance.rotate import ROTATABLE
from tests.hsm.conftest import Token, reload_module
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

        def sign_and_verify(tag: str) -> None:
            for version in ("1", "2"):
                artifact = tmp_path / f"{tag}{version}.txt"
                artifact.write_text(f"signed in a token ({tag}), Rekor v{version}\n")
                bundle = tmp_path / f"{tag}{version}.sigstore.json"
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
                    assert done.returncode == 0, (tag, version, argv[0], done.stderr)
                material = json.loads(bundle.read_text())["verificationMaterial"]
                assert material["tlogEntries"][0]["kindVersion"]["kind"] == "hashedrekord"

        sign_and_verify("before")
        # every rotatable key, on the running server: the new keys are made in the token
        for name in ROTATABLE:
            done = subprocess.run(
                [str(BIN / "sceau"), "rotate", name, "--dir", str(directory)],
                capture_output=True, text=True, env=env, timeout=120,
            )  # fmt: skip
            assert done.returncode == 0, (name, done.stderr)
            assert "switched without a restart" in done.stdout
            assert not (directory / "keys" / f"{name}.pem").exists()
            assert f";object=sceau-{name}-" in (directory / "sceau.toml").read_text()
            (retired,) = (directory / "keys" / "retired").glob(f"{name}-*.pub.pem")
            assert b"PRIVATE" not in retired.read_bytes()
        sign_and_verify("after")
        for tag in ("before", "after"):  # both generations verify with the final trust root
            artifact = tmp_path / f"{tag}1.txt"
            done = subprocess.run(
                [str(BIN / "sigstore"), "--trust-config", trust, "verify", "identity",
                 str(artifact), "--bundle", str(tmp_path / f"{tag}1.sigstore.json"),
                 "--cert-identity", EMAIL, "--cert-oidc-issuer", f"{url}/oidc"],
                capture_output=True, text=True, timeout=120, env=env,
            )  # fmt: skip
            assert done.returncode == 0, (tag, done.stderr)
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
    # with the server stopped, a key in the token rotates too: its log is re-signed in place
    rotated = subprocess.run(
        [*sceau, "rotate", "rekor-v1", "--dir", str(tmp_path / "i")],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert rotated.returncode == 0, rotated.stderr
    assert "continues at size 1 under the new key" in rotated.stdout
    assert list((tmp_path / "i" / "keys" / "retired").glob("rekor-v1-*.pub.pem"))
    check = subprocess.run([*sceau, "check", "--dir", str(tmp_path / "i")],
                           capture_output=True, text=True, env=env)  # fmt: skip
    assert check.returncode == 0, check.stderr


class _Crash(Exception):
    pass


@pytest.mark.parametrize(
    ("step", "committed"),
    [("staged", False), ("resigned", True), ("key", True), ("published", True)],
)
def test_a_crash_while_rotating_a_token_key_leaves_an_instance_that_starts(
    token: Token, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str, committed: bool
) -> None:
    """The commit point of a token key's rotation is its log re-signed by the new key, then
    sceau.toml renamed to name it; a crash before it is undone, after it completed."""
    import sceau.instance.rotate as rotation
    from sceau.instance.init import init_instance
    from tests.instance import serve_until_healthy
    from tests.serving import free_port

    uri = new_token(token, f"crash-{step}")
    reload_module()  # this process sees tokens made after it loaded the module
    cfg = init_instance(tmp_path / "i", url=f"http://127.0.0.1:{free_port()}", pkcs11=uri)
    config_before = (cfg.dir / "sceau.toml").read_text()

    def crash_at(at: str) -> None:
        if at == step:
            raise _Crash(at)

    monkeypatch.setattr(rotation, "_step", crash_at)
    with pytest.raises(_Crash):
        rotation.rotate(cfg, "rekor-v1")
    monkeypatch.undo()
    said = serve_until_healthy(cfg.dir, cfg.url, tmp_path / "serve.log")
    assert ("completed" if committed else "undid") + " the interrupted rotation" in said, said
    assert not list(cfg.dir.rglob("*.next")) and not (cfg.keys_dir / "rotation.json").exists()
    assert ((cfg.dir / "sceau.toml").read_text() != config_before) is committed
    check = subprocess.run([str(BIN / "sceau"), "check", "--dir", str(cfg.dir)],
                           capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0, check.stderr
