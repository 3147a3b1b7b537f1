"""Keys made in a SoftHSM2 token sign like key files, and every mistake is one clear line."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from sceau.errors import InputError
from sceau.keys import Algorithm, Verifier
from sceau.keys.pkcs11 import Pkcs11Signer, generate_in_token
from sceau.services.ca.authority import sign_certificate
from tests.hsm.conftest import Token


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_token_keys_sign_and_verify(token: Token, algorithm: Algorithm) -> None:
    uri = f"{token.uri};object=k-{algorithm.value}"
    signer = generate_in_token(uri, algorithm)
    assert signer.algorithm is algorithm
    again = Pkcs11Signer(uri)  # found again by label, public key read from the token
    assert again.public_key() == signer.public_key()
    for message in (b"", b"a checkpoint\n", os.urandom(5000)):
        Verifier(again.public_key()).verify(again.sign(message), message)
    public = again.public_key()
    if algorithm is Algorithm.ED25519:
        assert isinstance(public, ed25519.Ed25519PublicKey)
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
    assert "5678" not in repr(again) and "Pkcs11Signer" in repr(again)


def test_a_certificate_signed_in_the_token_verifies(token: Token) -> None:
    signer = generate_in_token(f"{token.uri};object=ca", Algorithm.ECDSA_P384)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "token CA")])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(signer.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
    )
    cert = sign_certificate(builder, signer)
    cert.verify_directly_issued_by(cert)  # self-signed: the token's signature checks out
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA384)


def test_mistakes_are_named(token: Token, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generate_in_token(f"{token.uri};object=present", Algorithm.ECDSA_P256)
    with pytest.raises(InputError, match="no such key in the token"):
        Pkcs11Signer(f"{token.uri};object=absent", role="ct")
    with pytest.raises(InputError, match="already holds a key labelled 'present'"):
        generate_in_token(f"{token.uri};object=present", Algorithm.ECDSA_P256)
    with pytest.raises(InputError, match="no such token"):
        Pkcs11Signer("pkcs11:token=other;object=present")
    with pytest.raises(InputError, match="must not carry pin-value"):
        Pkcs11Signer(f"{token.uri};object=present?pin-value=5678")
    with pytest.raises(InputError, match="object= or id="):
        Pkcs11Signer(token.uri)
    with pytest.raises(InputError, match="does not exist"):
        Pkcs11Signer(f"{token.uri};object=present?module-path=/nonexistent/lib.so")
    pin_file = tmp_path / "pin"
    pin_file.write_text(token.pin + "\n")
    os.chmod(pin_file, 0o644)
    monkeypatch.delenv("SCEAU_PKCS11_PIN")  # (restored after the test)
    monkeypatch.setenv("SCEAU_PKCS11_PIN_FILE", str(pin_file))
    with pytest.raises(InputError, match="readable by others"):
        Pkcs11Signer(f"{token.uri};object=present")
    os.chmod(pin_file, 0o600)
    assert Pkcs11Signer(f"{token.uri};object=present").algorithm is Algorithm.ECDSA_P256


def test_a_forked_child_opens_the_token_again(token: Token) -> None:
    signer = generate_in_token(f"{token.uri};object=forked", Algorithm.ECDSA_P256)
    signer.sign(b"parent")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child signs with the object made before the fork
        try:
            signature = signer.sign(b"child")
            os.write(write, signature)
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    signature = os.read(read, 512)
    os.close(read)
    assert status == 0 and signature
    Verifier(signer.public_key()).verify(signature, b"child")
    Verifier(signer.public_key()).verify(signer.sign(b"parent again"), b"parent again")
