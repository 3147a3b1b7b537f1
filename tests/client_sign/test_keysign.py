"""Managed-key signing: a PEM key file (CLI and library) and a key in a PKCS#11 token.

sigstore-python's CLI cannot sign or verify with managed keys, so these bundles are
cross-checked with sceau's verifier only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from sceau.client.hashing import Digest
from sceau.client.keysign import (
    FileKey,
    Pkcs11Key,
    SigningKeyError,
    parse_pkcs11_uri,
    sign_artifact_with_key,
    sign_dsse_with_key,
)
from sceau.client.policy import PublicKey
from sceau.client.sign import in_toto_statement
from sceau.client.verify import Verifier
from sceau.keys import generate_signer, save_signer
from tests.client_sign.conftest import Instance, one_error_line

pytestmark = pytest.mark.server


@pytest.fixture
def key_files(tmp_path: Path) -> tuple[Path, Path]:
    signer = generate_signer("ecdsa-p256")
    key = tmp_path / "key.pem"
    save_signer(signer, key)
    pub = tmp_path / "key.pub"
    pub.write_bytes(
        signer.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key, pub


def test_cli_sign_with_key_then_verify(
    instance: Instance, artifact: Path, key_files: tuple[Path, Path], tmp_path: Path
) -> None:
    key, pub = key_files
    r = instance.run(
        "sign", "--trust-config", str(instance.trust_config), "--rekor-version", "1",
        "--key", str(key), str(artifact),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    bundle_path = Path(str(artifact) + ".sigstore.json")
    bundle = json.loads(bundle_path.read_text())
    assert set(bundle["verificationMaterial"]) >= {"publicKey", "tlogEntries"}
    assert "certificate" not in bundle["verificationMaterial"]
    verify = ["verify", str(artifact), "--bundle", str(bundle_path),
              "--trusted-root", str(instance.trusted_root)]  # fmt: skip
    ok = instance.run(*verify, "--key", str(pub))
    assert ok.returncode == 0, ok.stderr
    other = tmp_path / "other.pub"
    other.write_bytes(
        generate_signer("ecdsa-p256")
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    one_error_line(instance.run(*verify, "--key", str(other)))


@pytest.mark.parametrize("version", [1, 2])
def test_library_key_signing(instance: Instance, trust, key_files, version: int) -> None:
    sc, tr = trust
    key = FileKey.load(key_files[0])
    policy = PublicKey(key.public_key())
    data = b"managed-key artifact"
    bundle = sign_artifact_with_key(data, key, sc, tr, rekor_version=version)
    Verifier(tr).verify_artifact(bundle, data, policy)
    digest = Digest.of_bytes(data)
    statement = in_toto_statement([("a", digest)], "https://example.com/p", {})
    att = sign_dsse_with_key(statement, key, sc, tr, rekor_version=version)
    kind = att.tlog_entry.kind
    assert kind == ("dsse" if version == 1 else "hashedrekord")
    Verifier(tr).verify_artifact(att, digest, policy)


def test_unusable_keys(tmp_path: Path, monkeypatch) -> None:
    for alg in ("ed25519", "ecdsa-p384"):
        p = tmp_path / f"{alg}.pem"
        save_signer(generate_signer(alg), p)
        with pytest.raises(SigningKeyError, match="P-256"):
            FileKey.load(p)
    enc = tmp_path / "enc.pem"
    save_signer(generate_signer("ecdsa-p256"), enc, passphrase=b"pw")
    monkeypatch.delenv("SCEAU_KEY_PASSPHRASE", raising=False)
    with pytest.raises(SigningKeyError, match="encrypted"):
        FileKey.load(enc)
    monkeypatch.setenv("SCEAU_KEY_PASSPHRASE", "pw")
    FileKey.load(enc)
    (tmp_path / "junk.pem").write_text("junk")
    with pytest.raises(SigningKeyError, match="not a PEM"):
        FileKey.load(tmp_path / "junk.pem")
    with pytest.raises(SigningKeyError, match="cannot read"):
        FileKey.load(tmp_path / "missing.pem")


def test_pkcs11_uri() -> None:
    attrs = parse_pkcs11_uri(
        "pkcs11:token=my%20token;object=k;id=%01%02?pin-value=12%3B4&module-path=/lib/x.so"
    )
    assert attrs == {
        "token": "my token", "object": "k", "id": b"\x01\x02",
        "pin-value": "12;4", "module-path": "/lib/x.so",
    }  # fmt: skip
    for bad in ("file:x", "pkcs11:token", "pkcs11:a=1;a=2"):
        with pytest.raises(SigningKeyError):
            parse_pkcs11_uri(bad)


# -- PKCS#11 with SoftHSM2 (Debian package softhsm2; python-pkcs11 from PyPI) ---------------

SOFTHSM = Path("/usr/lib/softhsm/libsofthsm2.so")
needs_softhsm = pytest.mark.skipif(
    not SOFTHSM.exists() or shutil.which("softhsm2-util") is None,
    reason="SoftHSM2 is not installed (apt-get install softhsm2)",
)


@pytest.fixture
def softhsm_key(tmp_path: Path, monkeypatch) -> str:
    pkcs11 = pytest.importorskip("pkcs11", reason="python-pkcs11 is not installed")
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_named_curve_parameters

    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", "sceau-test",
         "--pin", "1234", "--so-pin", "5678"],
        check=True, capture_output=True,
    )  # fmt: skip
    lib = pkcs11.lib(str(SOFTHSM))
    lib.reinitialize()  # SoftHSM2 reads SOFTHSM2_CONF at initialisation, once per process
    token = lib.get_token(token_label="sceau-test")
    with token.open(rw=True, user_pin="1234") as session:
        params = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True,
        )  # fmt: skip
        params.generate_keypair(store=True, label="signing-key", id=b"\x07")
    return f"pkcs11:token=sceau-test;object=signing-key?module-path={SOFTHSM}"


@needs_softhsm
def test_pkcs11_key_signs(instance: Instance, trust, softhsm_key: str, tmp_path: Path) -> None:
    sc, tr = trust
    key = Pkcs11Key(softhsm_key + "&pin-value=1234")
    try:
        data = b"signed inside the token"
        for version in (1, 2):
            bundle = sign_artifact_with_key(data, key, sc, tr, rekor_version=version)
            Verifier(tr).verify_artifact(bundle, data, PublicKey(key.public_key()))
        pub = tmp_path / "hsm.pub"
        pub.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    finally:
        key.close()
    # The CLI, with the PIN from a file and the module from the environment.
    pin = tmp_path / "pin"
    pin.write_text("1234\n")
    art = tmp_path / "a.txt"
    art.write_text("hsm\n")
    import os

    ref = f"pkcs11:token=sceau-test;object=signing-key?pin-source={pin}"
    env = {"SOFTHSM2_CONF": os.environ["SOFTHSM2_CONF"], "SCEAU_PKCS11_MODULE": str(SOFTHSM)}
    r = instance.run("sign", "--instance-dir", str(instance.dir), "--key-ref", ref, str(art), **env)
    assert r.returncode == 0, r.stderr
    v = instance.run(
        "verify", str(art), "--trusted-root", str(instance.trusted_root), "--key", str(pub)
    )
    assert v.returncode == 0, v.stderr
    bad = instance.run(
        "sign", "--instance-dir", str(instance.dir), "--key-ref",
        "pkcs11:token=sceau-test;object=signing-key?pin-value=0000", str(art), "--overwrite",
        **env,
    )  # fmt: skip
    msg = one_error_line(bad, "PKCS#11")
    assert "0000" not in msg  # the PIN is never echoed
