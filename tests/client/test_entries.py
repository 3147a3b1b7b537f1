"""Log entry ↔ bundle consistency for entry shapes the vectors do not cover: dsse 0.0.2
(as sigstore-js writes it) and managed-key hashedrekord 0.0.2."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import replace

import pytest
from cryptography import x509

from sceau.client.bundle import Bundle, DsseEnvelope
from sceau.client.entries import Material, check_dsse, check_hashedrekord
from sceau.client.errors import LogEntryError
from sceau.keys import generate_signer
from tests.client.cases import BV


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


@pytest.fixture(scope="module")
def dsse_bundle() -> Bundle:
    return Bundle.from_json((BV / "rekor2-dsse-happy-path" / "bundle.sigstore.json").read_bytes())


def _material(b: Bundle) -> Material:
    assert b.certificate is not None
    cert = x509.load_der_x509_certificate(b.certificate)
    return Material(cert, cert.public_key(), b.certificate)


def _dsse_v002_body(env: DsseEnvelope, m: Material, payload_hash: bytes | None = None) -> bytes:
    return json.dumps({
        "apiVersion": "0.0.2",
        "kind": "dsse",
        "spec": {"dsseV002": {
            "payloadHash": {"algorithm": "SHA2_256",
                            "digest": _b64(payload_hash or hashlib.sha256(env.payload).digest())},
            "signatures": [{"content": _b64(env.signatures[0][0]),
                            "verifier": {"keyDetails": m.details,
                                         "x509Certificate": {"rawBytes": _b64(m.der)}}}],
        }},
    }).encode()  # fmt: skip


def test_dsse_v002(dsse_bundle: Bundle) -> None:
    env = dsse_bundle.content
    assert isinstance(env, DsseEnvelope)
    m = _material(dsse_bundle)
    entry = replace(
        dsse_bundle.tlog_entry,
        kind="dsse",
        version="0.0.2",
        canonicalized_body=_dsse_v002_body(env, m),
    )
    check_dsse(entry, m, env)
    bad = replace(entry, canonicalized_body=_dsse_v002_body(env, m, b"\0" * 32))
    with pytest.raises(LogEntryError, match="payload hash"):
        check_dsse(bad, m, env)
    other = replace(env, signatures=((b"\x30\x00", None),))
    with pytest.raises(LogEntryError, match="signatures"):
        check_dsse(entry, m, other)


def test_kind_must_match_body(dsse_bundle: Bundle) -> None:
    env = dsse_bundle.content
    assert isinstance(env, DsseEnvelope)
    m = _material(dsse_bundle)
    entry = replace(
        dsse_bundle.tlog_entry,
        kind="dsse",
        version="0.0.1",
        canonicalized_body=_dsse_v002_body(env, m),
    )
    with pytest.raises(LogEntryError, match=r"bundle says dsse/0\.0\.1"):
        check_dsse(entry, m, env)


def test_hashedrekord_v002_managed_key(dsse_bundle: Bundle) -> None:
    key = generate_signer("ecdsa-p256").public_key()
    m = Material(None, key)
    digest, sig = hashlib.sha256(b"artifact").digest(), b"\x30\x06sig"
    body = {
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": {"hashedRekordV002": {
            "data": {"algorithm": "SHA2_256", "digest": _b64(digest)},
            "signature": {"content": _b64(sig),
                          "verifier": {"keyDetails": "PKIX_ECDSA_P256_SHA_256",
                                       "publicKey": {"rawBytes": _b64(m.der)}}},
        }},
    }  # fmt: skip
    entry = replace(
        dsse_bundle.tlog_entry,
        kind="hashedrekord",
        version="0.0.2",
        canonicalized_body=json.dumps(body).encode(),
    )
    check_hashedrekord(entry, m, sig, digest)
    with pytest.raises(LogEntryError, match="inconsistent"):
        check_hashedrekord(entry, m, sig, hashlib.sha256(b"other").digest())
    assert m.pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")
