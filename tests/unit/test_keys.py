"""sceau.keys: key files (0600, optional passphrase), signing and verification per algorithm."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from sceau import keys
from sceau.errors import InputError, InternalError, VerificationError

ALGORITHMS = ["ed25519", "ecdsa-p256", "ecdsa-p384"]
MESSAGE = b"checkpoint text\n"


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _same_key(a, b) -> bool:
    return keys.spki_der(a.public_key()) == keys.spki_der(b.public_key())


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_save_load_round_trip(tmp_path, alg):
    signer = keys.generate_signer(alg)
    assert signer.algorithm is keys.Algorithm(alg)
    path = tmp_path / "key.pem"
    keys.save_signer(signer, path)
    assert _mode(path) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = keys.load_signer(path)
    assert _same_key(loaded, signer) and loaded.algorithm is signer.algorithm
    keys.Verifier(signer.public_key()).verify(loaded.sign(MESSAGE), MESSAGE)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_encrypted_round_trip(tmp_path, alg):
    signer = keys.generate_signer(alg)
    path = tmp_path / "key.pem"
    keys.save_signer(signer, path, passphrase=b"correct horse")
    assert _mode(path) == 0o600
    assert b"ENCRYPTED" in path.read_bytes()
    assert _same_key(keys.load_signer(path, passphrase=b"correct horse"), signer)
    with pytest.raises(InputError, match="wrong passphrase"):
        keys.load_signer(path, passphrase=b"wrong")
    with pytest.raises(InputError, match="is encrypted: set SCEAU_KEY_PASSPHRASE"):
        keys.load_signer(path)  # no passphrase for an encrypted key


def test_passphrase_from_the_environment_or_a_file(tmp_path, monkeypatch):
    """Keys at rest encrypted with the operator's passphrase, from the environment or a
    secret file; a file others can read is refused."""
    signer = keys.generate_signer("ecdsa-p256")
    path = tmp_path / "key.pem"
    monkeypatch.setenv("SCEAU_KEY_PASSPHRASE", "from env")
    keys.save_signer(signer, path)
    assert b"ENCRYPTED" in path.read_bytes()
    assert _same_key(keys.load_signer(path), signer)
    monkeypatch.delenv("SCEAU_KEY_PASSPHRASE")
    secret = tmp_path / "passphrase"
    secret.write_text("from env\n")
    os.chmod(secret, 0o600)
    monkeypatch.setenv("SCEAU_KEY_PASSPHRASE_FILE", str(secret))
    assert _same_key(keys.load_signer(path), signer)
    os.chmod(secret, 0o644)
    with pytest.raises(InputError, match="readable by others"):
        keys.load_signer(path)
    monkeypatch.delenv("SCEAU_KEY_PASSPHRASE_FILE")
    with pytest.raises(InputError, match="is encrypted"):
        keys.load_signer(path)


def test_overwrite_keeps_0600(tmp_path):
    path = tmp_path / "key.pem"
    path.write_bytes(b"old")
    os.chmod(path, 0o644)
    keys.save_signer(keys.generate_signer("ed25519"), path)
    assert _mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["key.pem"]  # no temp files left behind


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_refuses_key_readable_by_others(tmp_path, mode):
    path = tmp_path / "key.pem"
    keys.save_signer(keys.generate_signer("ed25519"), path)
    os.chmod(path, mode)
    with pytest.raises(InternalError, match="readable by others"):
        keys.load_signer(path)


def test_load_errors(tmp_path):
    with pytest.raises(InternalError, match="cannot read"):
        keys.load_signer(tmp_path / "missing.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"not a key")
    os.chmod(garbage, 0o600)
    with pytest.raises(InternalError):
        keys.load_signer(garbage)
    rsa_path = tmp_path / "rsa.pem"
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_path.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(rsa_path, 0o600)
    with pytest.raises(InternalError, match="unsupported"):
        keys.load_signer(rsa_path)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_sign_verify(alg):
    signer = keys.generate_signer(alg)
    verifier = keys.Verifier(signer.public_key())
    sig = signer.sign(MESSAGE)
    verifier.verify(sig, MESSAGE)
    with pytest.raises(VerificationError):
        verifier.verify(sig, MESSAGE + b"x")
    bad = bytearray(sig)
    bad[-1] ^= 1
    with pytest.raises(VerificationError):
        verifier.verify(bytes(bad), MESSAGE)
    with pytest.raises(VerificationError):
        verifier.verify(b"", MESSAGE)
    with pytest.raises(VerificationError):
        verifier.verify(sig[:-2], MESSAGE)
    # Another key of the same kind does not verify it.
    with pytest.raises(VerificationError):
        keys.Verifier(keys.generate_signer(alg).public_key()).verify(sig, MESSAGE)


def test_signature_schemes_are_the_sigstore_ones():
    """Ed25519 pure; ECDSA DER over SHA-256 (P-256) or SHA-384 (P-384): checked with pyca."""
    ed = keys.generate_signer("ed25519")
    pub = ed.public_key()
    assert isinstance(pub, ed25519.Ed25519PublicKey)
    pub.verify(ed.sign(MESSAGE), MESSAGE)
    for alg, digest in (("ecdsa-p256", hashes.SHA256()), ("ecdsa-p384", hashes.SHA384())):
        s = keys.generate_signer(alg)
        s.public_key().verify(s.sign(MESSAGE), MESSAGE, ec.ECDSA(digest))


def test_verifier_accepts_rsa_and_refuses_other_types():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sig = rsa_key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    keys.Verifier(rsa_key.public_key()).verify(sig, MESSAGE)
    with pytest.raises(VerificationError):
        keys.Verifier(rsa_key.public_key()).verify(sig, MESSAGE + b"x")
    with pytest.raises(InputError):
        keys.Verifier(b"not a key")
    with pytest.raises(InputError):
        keys.Algorithm.of(rsa_key)
    with pytest.raises((ValueError, InputError)):  # today a bare ValueError from the enum
        keys.generate_signer("rsa-2048")


def test_public_key_pem_and_der():
    signer = keys.generate_signer("ecdsa-p256")
    der = keys.spki_der(signer.public_key())
    pem = signer.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for data in (pem, der, b"\n  " + pem):
        assert keys.spki_der(keys.load_public_key_pem(data)) == der
    for junk in (b"", b"garbage", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"):
        with pytest.raises(InputError):
            keys.load_public_key_pem(junk)


def test_repr_never_shows_key_material():
    signer = keys.generate_signer("ed25519")
    raw = signer.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    assert repr(signer) == "FileSigner(ed25519)" and raw.hex() not in repr(signer)
    assert isinstance(signer, keys.Signer)
