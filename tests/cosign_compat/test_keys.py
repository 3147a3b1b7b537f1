"""cosign key pairs: the public vectors decrypt (and sign what ``sceau verify --key``
accepts), tampered or wrongly unlocked ones are refused, and ``sceau generate-key-pair``
writes files in the same format."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from sceau.client.cosign.keys import (
    PEM_TYPE,
    CosignKeyError,
    decrypt_private_key,
    encrypt_private_key,
    password,
    public_key_pem,
)
from tests.cosign_compat.conftest import COSIGN, one_error_line, sceau

# (file, password): sigstore-rs tests/data/keys (README row in tests/vectors/README.md).
VECTOR_KEYS = [
    ("cosign_generated_encrypted_empty_private.key", ""),  # written by cosign itself
    ("ecdsa_encrypted_private.key", "123"),  # the older "ENCRYPTED COSIGN" PEM type
]
ARTIFACT = COSIGN / "offline-rekor.txt"


def _doc(pem: bytes) -> dict[str, object]:
    lines = pem.decode().strip().splitlines()
    return dict(json.loads(base64.b64decode("".join(lines[1:-1]))))


def _sign_detached(key_file: Path, secret: str, tmp_path: Path) -> tuple[Path, Path]:
    """Sign ARTIFACT as ``cosign sign-blob --key`` would: base64 ECDSA over SHA-256."""
    key = decrypt_private_key(key_file.read_bytes(), secret.encode())
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    digest = hashlib.sha256(ARTIFACT.read_bytes()).digest()
    sig = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    (tmp_path / "sig").write_text(base64.b64encode(sig).decode())
    (tmp_path / "key.pub").write_bytes(public_key_pem(key.public_key()))
    return tmp_path / "sig", tmp_path / "key.pub"


@pytest.mark.parametrize(("name", "secret"), VECTOR_KEYS)
def test_vector_key_signs_and_verifies_with_its_public_key(
    tmp_path: Path, name: str, secret: str
) -> None:
    sig, pub = _sign_detached(COSIGN / name, secret, tmp_path)
    p = sceau("verify", str(ARTIFACT), "--key", str(pub), "--signature", str(sig),
              "--insecure-ignore-tlog", home=tmp_path)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("OK: ") and "no transparency log entry" in p.stderr


@pytest.mark.parametrize(("name", "secret"), VECTOR_KEYS)
def test_vector_key_with_wrong_password_is_refused(name: str, secret: str) -> None:
    with pytest.raises(CosignKeyError, match="wrong password, or the file was altered"):
        decrypt_private_key((COSIGN / name).read_bytes(), (secret + "x").encode())


@pytest.mark.parametrize(("name", "secret"), VECTOR_KEYS)
def test_tampered_vector_key_is_refused(name: str, secret: str) -> None:
    doc = _doc((COSIGN / name).read_bytes())
    sealed = bytearray(base64.b64decode(str(doc["ciphertext"])))
    sealed[20] ^= 1
    doc["ciphertext"] = base64.b64encode(bytes(sealed)).decode()
    body = base64.b64encode(json.dumps(doc).encode()).decode()
    pem = f"-----BEGIN {PEM_TYPE}-----\n{body}\n-----END {PEM_TYPE}-----\n".encode()
    with pytest.raises(CosignKeyError, match="cannot decrypt"):
        decrypt_private_key(pem, secret.encode())


def test_expensive_scrypt_parameters_are_refused() -> None:
    """The cost is the file's to choose: only cosign's own parameters are accepted."""
    doc = _doc((COSIGN / "ecdsa_encrypted_private.key").read_bytes())
    doc["kdf"]["params"]["N"] = 2**24  # type: ignore[index]
    body = base64.b64encode(json.dumps(doc).encode()).decode()
    pem = f"-----BEGIN {PEM_TYPE}-----\n{body}\n-----END {PEM_TYPE}-----\n".encode()
    with pytest.raises(CosignKeyError, match="unexpected scrypt parameters"):
        decrypt_private_key(pem, b"123")


def test_signature_by_another_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    sig, _ = _sign_detached(COSIGN / "ecdsa_encrypted_private.key", "123", tmp_path / "a")
    other = decrypt_private_key(
        (COSIGN / "cosign_generated_encrypted_empty_private.key").read_bytes(), b""
    )
    (tmp_path / "other.pub").write_bytes(public_key_pem(other.public_key()))
    p = sceau("verify", str(ARTIFACT), "--key", str(tmp_path / "other.pub"),
              "--signature", str(sig), "--insecure-ignore-tlog", home=tmp_path)  # fmt: skip
    one_error_line(p, "artifact signature does not verify")


def test_written_format_matches_cosigns() -> None:
    """Same PEM type, JSON members, KDF and cipher as the key cosign generated."""
    theirs = _doc((COSIGN / "cosign_generated_encrypted_empty_private.key").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    pem = encrypt_private_key(key, b"pw").encode()
    assert pem.startswith(f"-----BEGIN {PEM_TYPE}-----\n".encode())
    ours = _doc(pem)
    assert ours.keys() == theirs.keys()
    assert ours["kdf"]["params"] == theirs["kdf"]["params"]  # type: ignore[index]
    assert ours["kdf"]["name"] == theirs["kdf"]["name"] == "scrypt"  # type: ignore[index]
    assert ours["cipher"]["name"] == theirs["cipher"]["name"]  # type: ignore[index]
    assert decrypt_private_key(pem, b"pw").private_numbers() == key.private_numbers()


def test_password_sources() -> None:
    assert password(env={"COSIGN_PASSWORD": "a", "SCEAU_PASSWORD": "b"}) == b"a"
    assert password(env={"SCEAU_PASSWORD": "b"}) == b"b"
    assert password(env={"COSIGN_PASSWORD": ""}) == b""
    answers = iter(["x", "y"])
    with pytest.raises(CosignKeyError, match="do not match"):
        password(env={}, confirm=True, prompt=lambda _: next(answers))


def test_generate_key_pair_cli(tmp_path: Path) -> None:
    p = sceau("generate-key-pair", cwd=tmp_path, home=tmp_path, COSIGN_PASSWORD="s3cret")
    assert p.returncode == 0, p.stderr
    assert "Private key written to cosign.key" in p.stdout
    key, pub = tmp_path / "cosign.key", tmp_path / "cosign.pub"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    private = decrypt_private_key(key.read_bytes(), b"s3cret")
    assert public_key_pem(private.public_key()) == pub.read_bytes()
    again = sceau("generate-key-pair", cwd=tmp_path, home=tmp_path, COSIGN_PASSWORD="s3cret")
    one_error_line(again, "cosign.key already exists")


def test_generate_key_pair_needs_a_password(tmp_path: Path) -> None:
    p = sceau("generate-key-pair", "--output-key-prefix", str(tmp_path / "k"), home=tmp_path)
    one_error_line(p, "COSIGN_PASSWORD or SCEAU_PASSWORD")
    assert not (tmp_path / "k.key").exists()
