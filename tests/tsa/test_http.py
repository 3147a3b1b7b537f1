"""The TSA over real HTTP: sigstore-python's and sigstore-js's requests, and refusals."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from rfc3161_client import TimestampRequestBuilder
from rfc3161_client.base import HashAlgorithm
from sigstore._internal.timestamp import TimestampAuthorityClient

from sceau.services.tsa import TSAChain
from tests.tsa.helpers import der_request, verify_reply

pytestmark = pytest.mark.server

SIG = b"\x30\x44 signature bytes that python and js timestamp"
QUERY = {"Content-Type": "application/timestamp-query"}


def _post(url: str, body: bytes, content_type: str | None) -> httpx.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    return httpx.post(f"{url}/api/v1/timestamp", content=body, headers=headers, timeout=10)


@pytest.mark.parametrize("algorithm", [HashAlgorithm.SHA256, HashAlgorithm.SHA512])
def test_der_request(tsa_url: str, tsa_chain: TSAChain, algorithm: HashAlgorithm) -> None:
    request = (
        TimestampRequestBuilder().hash_algorithm(algorithm).data(SIG).nonce(nonce=True).build()
    )
    r = _post(tsa_url, request.as_bytes(), "application/timestamp-query")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/timestamp-reply"
    response = verify_reply(r.content, SIG, tsa_chain.chain, request)
    assert response.tst_info.nonce == request.nonce
    assert response.tst_info.message_imprint.message == request.message_imprint.message


def test_der_sha384(tsa_url: str, tsa_chain: TSAChain) -> None:
    r = _post(tsa_url, der_request(SIG, "sha384", nonce=7), "application/timestamp-query")
    assert r.status_code == 200, r.text
    response = verify_reply(r.content, SIG, tsa_chain.chain)
    assert response.tst_info.nonce == 7
    assert response.tst_info.message_imprint.message == hashlib.sha384(SIG).digest()


def test_json_request_as_sigstore_js_sends_it(tsa_url: str, tsa_chain: TSAChain) -> None:
    body = {
        "artifactHash": base64.b64encode(hashlib.sha256(SIG).digest()).decode(),
        "hashAlgorithm": "sha256",
    }
    r = httpx.post(f"{tsa_url}/api/v1/timestamp", json=body, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/timestamp-reply"
    response = verify_reply(r.content, SIG, tsa_chain.chain)
    assert response.tst_info.nonce is None
    assert len(response.signed_data.certificates) == 0


@pytest.mark.parametrize("certificates", [True, False])
def test_json_certificates_flag(tsa_url: str, tsa_chain: TSAChain, certificates: bool) -> None:
    body = {
        "artifactHash": base64.b64encode(hashlib.sha384(SIG).digest()).decode(),
        "hashAlgorithm": "sha384",
        "certificates": certificates,
        "nonce": 12345,
    }
    r = httpx.post(
        f"{tsa_url}/api/v1/timestamp",
        json=body,
        timeout=10,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 200, r.text
    response = verify_reply(r.content, SIG, tsa_chain.chain)
    assert response.tst_info.nonce == 12345
    leaf = {tsa_chain.leaf.public_bytes(serialization.Encoding.DER)}
    assert response.signed_data.certificates == (leaf if certificates else set())


@pytest.mark.interop
def test_sigstore_python_client(tsa_url: str, tsa_chain: TSAChain) -> None:
    client = TimestampAuthorityClient(f"{tsa_url}/api/v1/timestamp")
    response = client.request_timestamp(SIG)
    assert response.tst_info.message_imprint.message == hashlib.sha256(SIG).digest()
    verify_reply(response.as_bytes(), SIG, tsa_chain.chain)


def test_certchain(tsa_url: str, tsa_chain: TSAChain) -> None:
    r = httpx.get(f"{tsa_url}/api/v1/timestamp/certchain", timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pem-certificate-chain"
    assert x509.load_pem_x509_certificates(r.content) == [tsa_chain.leaf, tsa_chain.root]


GOOD_DER = der_request(SIG, "sha256")
B64 = base64.b64encode(hashlib.sha256(SIG).digest()).decode()
ERRORS = [
    ("application/timestamp-query", b"\x30\x82\x01", 400, "malformed TimeStampReq"),
    ("application/timestamp-query", GOOD_DER[:-4], 400, "malformed TimeStampReq"),
    ("application/timestamp-query", b"", 400, "empty TimeStampReq"),
    ("application/timestamp-query", der_request(SIG, "sha1"), 400, "weak hash algorithm sha1"),
    (
        "application/timestamp-query",
        der_request(SIG, "sha256", digest=bytes(20)),
        400,
        "expected 32 bytes, got 20",
    ),
    (
        "application/timestamp-query",
        der_request(SIG, policy="1.2.3.4"),
        400,
        "unaccepted policy 1.2.3.4",
    ),
    ("text/plain", GOOD_DER, 415, "unsupported Content-Type text/plain"),
    (None, GOOD_DER, 415, "unsupported Content-Type (none)"),
    ("application/timestamp-query", GOOD_DER + bytes(10 * 1024), 413, "10240 bytes"),
    ("application/json", b'{"artifactHash": "' + b"A" * 1100 + b'"}', 413, "1024 bytes"),
    ("application/json", b"{not json", 400, "not valid JSON"),
    ("application/json", b"[1, 2]", 400, "must be a JSON object"),
    (
        "application/json",
        b'{"artifactHash": "!!!", "hashAlgorithm": "sha256"}',
        400,
        "not valid base64",
    ),
    (
        "application/json",
        f'{{"artifactHash": "{B64}", "hashAlgorithm": "sha1"}}'.encode(),
        400,
        "weak hash algorithm",
    ),
    ("application/json", b'{"hashAlgorithm": "sha256"}', 400, "artifactHash is required"),
]


@pytest.mark.parametrize(("content_type", "body", "status", "message"), ERRORS)
def test_errors(
    tsa_url: str, content_type: str | None, body: bytes, status: int, message: str
) -> None:
    r = _post(tsa_url, body, content_type)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    error = r.json()
    assert error["code"] == status
    assert message in error["message"]


def test_streamed_oversize_body_refused(tsa_url: str) -> None:
    """No Content-Length: the limit still holds while the body is streamed."""

    def chunks():
        for _ in range(20):
            yield bytes(1024)

    r = httpx.post(f"{tsa_url}/api/v1/timestamp", content=chunks(), headers=QUERY, timeout=10)
    assert r.status_code == 413
    assert "10240" in r.json()["message"]
