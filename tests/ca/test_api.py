"""The Fulcio v2 HTTP API against real clients and hand-made bad requests."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from sigstore._internal.fulcio.client import FulcioClient, FulcioClientError
from sigstore.oidc import IdentityToken

from sceau.keys import generate_signer
from sceau.services.oidc.issuer import DevIssuer
from tests.ca.conftest import CAServer
from tests.ca.helpers import sigstore_sct_check, webpki_verify

pytestmark = pytest.mark.server

PEM = serialization.Encoding.PEM
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


def python_csr(key: ec.EllipticCurvePrivateKey) -> x509.CertificateSigningRequest:
    """What sigstore-python's ``_build_csr`` sends: empty subject, critical CA:false."""
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def post(server: CAServer, body: object, token: str | None = None, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        server.url + "/api/v2/signingCert",
        content=data,
        headers={"Content-Type": "application/json", **headers},
        timeout=10,
        **kw,
    )


def chain_of(resp: httpx.Response) -> list[x509.Certificate]:
    assert resp.status_code == 200, resp.text
    pems = resp.json()["signedCertificateEmbeddedSct"]["chain"]["certificates"]
    return [x509.load_pem_x509_certificate(p.encode()) for p in pems]


def test_sigstore_python_fulcio_client_gets_a_verifiable_chain(ca_server: CAServer) -> None:
    token = IdentityToken(ca_server.dev.mint_email("alice@example.com"))
    key = ec.generate_private_key(ec.SECP256R1())
    resp = FulcioClient(ca_server.url).signing_cert.post(python_csr(key), token)
    assert resp.cert.public_key() == key.public_key()
    assert resp.chain == [ca_server.chain.intermediate, ca_server.chain.root]
    san = resp.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["alice@example.com"]
    sigstore_sct_check(resp.cert, resp.chain, ca_server.ct.public_key)
    webpki_verify(resp.cert, ca_server.chain.root, ca_server.chain.intermediate)


def test_sigstore_python_sees_our_error_message(ca_server: CAServer) -> None:
    token = IdentityToken(
        DevIssuer(generate_signer("ecdsa-p256"), ca_server.url + "/oidc").mint_email("a@b.cd")
    )
    with pytest.raises(FulcioClientError):
        FulcioClient(ca_server.url).signing_cert.post(
            python_csr(ec.generate_private_key(ec.SECP256R1())), token
        )


def _pop_body(token: str, key, content: str, challenge: str) -> dict:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        h = hashes.SHA384() if isinstance(key.curve, ec.SECP384R1) else hashes.SHA256()
        sig = key.sign(challenge.encode(), ec.ECDSA(h))
    elif isinstance(key, rsa.RSAPrivateKey):
        sig = key.sign(challenge.encode(), padding.PKCS1v15(), hashes.SHA256())
    else:
        sig = key.sign(challenge.encode())
    return {
        "credentials": {"oidcIdentityToken": token},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": content},
            "proofOfPossession": base64.b64encode(sig).decode(),
        },
    }


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: ec.generate_private_key(ec.SECP256R1()),
        lambda: ec.generate_private_key(ec.SECP384R1()),
        lambda: rsa.generate_private_key(65537, 2048),
        ed25519.Ed25519PrivateKey.generate,
    ],
    ids=["p256", "p384", "rsa", "ed25519"],
)
def test_sigstore_js_style_proof_of_possession(ca_server: CAServer, make_key) -> None:
    key = make_key()
    token = ca_server.dev.mint_email("bob@example.com")
    pem = key.public_key().public_bytes(PEM, SPKI).decode()
    certs = chain_of(post(ca_server, _pop_body(token, key, pem, "bob@example.com")))
    assert certs[0].public_key() == key.public_key()
    assert len(certs) == 3 and certs[2] == ca_server.chain.root
    sigstore_sct_check(certs[0], certs[1:], ca_server.ct.public_key)


def test_proof_of_possession_signs_sub_for_workflows_and_der_key_content(ca_server) -> None:
    workflow = "octo/app/.github/workflows/release.yml@refs/tags/v1"
    token = ca_server.dev.mint_github_workflow(workflow)
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.public_key().public_bytes(serialization.Encoding.DER, SPKI)
    body = _pop_body(token, key, base64.b64encode(der).decode(), "repo:octo/app:ref:refs/tags/v1")
    body["credentials"] = {}
    certs = chain_of(post(ca_server, body, token=token))  # token from the header this time
    san = certs[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        f"https://github.com/{workflow}"
    ]


def error(resp: httpx.Response, status: int) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) - {"request_id"} == {"code", "message"} and body["code"] == status
    return body["message"]


def test_mismatched_proof_of_possession_is_400(ca_server: CAServer) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = ca_server.dev.mint_email("bob@example.com")
    pem = key.public_key().public_bytes(PEM, SPKI).decode()
    msg = error(post(ca_server, _pop_body(token, key, pem, "mallory@example.com")), 400)
    assert "proof of possession" in msg
    other = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(PEM, SPKI).decode()
    error(post(ca_server, _pop_body(token, key, other, "bob@example.com")), 400)


def test_csr_with_a_bad_self_signature_is_400(ca_server: CAServer) -> None:
    csr_der = bytearray(
        python_csr(ec.generate_private_key(ec.SECP256R1())).public_bytes(serialization.Encoding.DER)
    )
    csr_der[-1] ^= 0x01  # last byte of the ECDSA signature's s
    csr = x509.load_der_x509_csr(bytes(csr_der))
    body = {"certificateSigningRequest": base64.b64encode(csr.public_bytes(PEM)).decode()}
    msg = error(post(ca_server, body, ca_server.dev.mint_email("a@example.com")), 400)
    assert "signature" in msg


def test_csr_with_a_weak_key_is_400(ca_server: CAServer) -> None:
    key = rsa.generate_private_key(65537, 1024)  # noqa: S505 - the point
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(key, hashes.SHA256())
    )
    body = {"certificateSigningRequest": base64.b64encode(csr.public_bytes(PEM)).decode()}
    assert "RSA" in error(post(ca_server, body, ca_server.dev.mint_email("a@example.com")), 400)


def test_tokens_bad_missing_or_foreign_are_401(ca_server: CAServer) -> None:
    csr = python_csr(ec.generate_private_key(ec.SECP256R1()))
    body = {"certificateSigningRequest": base64.b64encode(csr.public_bytes(PEM)).decode()}
    error(post(ca_server, body, "not.a.jwt"), 401)
    error(post(ca_server, body), 401)
    forged = DevIssuer(generate_signer("ecdsa-p256"), ca_server.url + "/oidc")
    error(post(ca_server, body, forged.mint_email("a@example.com")), 401)
    stranger = DevIssuer(generate_signer("ecdsa-p256"), "https://elsewhere.example")
    error(post(ca_server, body, stranger.mint_email("a@example.com")), 401)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b"\xff\xfe",
        json.dumps({"certificateSigningRequest": "***not base64***"}).encode(),
        json.dumps(
            {
                "certificateSigningRequest": base64.b64encode(
                    b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                    b"-----END CERTIFICATE REQUEST-----\n"
                ).decode()
            }
        ).encode(),
        json.dumps(
            {"certificateSigningRequest": base64.b64encode(b"\x30\x03\x02\x01\x00").decode()}
        ).encode(),
        json.dumps({"certificateSigningRequest": 42}).encode(),
        json.dumps({}).encode(),
        json.dumps({"publicKeyRequest": "x"}).encode(),
        json.dumps(
            {"publicKeyRequest": {"publicKey": {"content": "garbage"}, "proofOfPossession": "AAAA"}}
        ).encode(),
        json.dumps(
            {"publicKeyRequest": {"publicKey": {"content": ""}, "proofOfPossession": "AAAA"}}
        ).encode(),
        json.dumps(
            {"publicKeyRequest": {"publicKey": {"content": "x"}, "proofOfPossession": "%%"}}
        ).encode(),
        json.dumps({"credentials": "tok"}).encode(),
    ],
    ids=[
        "json",
        "array",
        "utf8",
        "csr-b64",
        "csr-pem",
        "csr-der",
        "csr-type",
        "empty",
        "pkr-type",
        "pkr-key",
        "pkr-empty",
        "pkr-pop",
        "credentials-type",
    ],
)
def test_malformed_requests_are_400(ca_server: CAServer, body: bytes) -> None:
    error(post(ca_server, body, ca_server.dev.mint_email("a@example.com")), 400)


def test_oversize_body_is_413(ca_server: CAServer) -> None:
    body = json.dumps({"certificateSigningRequest": "A" * 100_000}).encode()
    error(post(ca_server, body, ca_server.dev.mint_email("a@example.com")), 413)


def test_trust_bundle_and_configuration(ca_server: CAServer) -> None:
    bundle = httpx.get(ca_server.url + "/api/v2/trustBundle").json()
    assert bundle == {
        "chains": [
            {
                "certificates": [
                    c.public_bytes(PEM).decode()
                    for c in (ca_server.chain.intermediate, ca_server.chain.root)
                ]
            }
        ]
    }
    config = httpx.get(ca_server.url + "/api/v2/configuration").json()
    urls = {i.get("issuerUrl") for i in config["issuers"]}
    assert {ca_server.dev.issuer_url, ca_server.dev.github_issuer_url} <= urls
    by_url = {i.get("issuerUrl"): i for i in config["issuers"]}
    assert by_url[ca_server.dev.issuer_url]["challengeClaim"] == "email"
    assert by_url[ca_server.dev.github_issuer_url]["challengeClaim"] == "sub"


def test_wrong_methods_are_not_500(ca_server: CAServer) -> None:
    assert httpx.get(ca_server.url + "/api/v2/signingCert").status_code == 405


@pytest.mark.parametrize(
    "email",
    ["x<a@example.com>", "a@b@example.com", "a..b@example.com", "a@-x.example", "a" * 65 + "@x.io"],
)
def test_emails_no_certificate_can_hold_are_400(ca_server: CAServer, email: str) -> None:
    """Addresses Fulcio's loose pattern lets through but X.509 cannot encode: a 400 that
    names the claim, not a 500 from the certificate builder."""
    csr = python_csr(ec.generate_private_key(ec.SECP256R1()))
    body = {"certificateSigningRequest": base64.b64encode(csr.public_bytes(PEM)).decode()}
    token = ca_server.dev.mint({"email": email, "email_verified": True})
    msg = error(post(ca_server, body, token), 400)
    assert "email claim" in msg and "not a valid email address" in msg


def test_overlong_identities_are_400(ca_server: CAServer) -> None:
    csr = python_csr(ec.generate_private_key(ec.SECP256R1()))
    body = {"certificateSigningRequest": base64.b64encode(csr.public_bytes(PEM)).decode()}
    long_email = "a@" + ".".join(["b" * 60] * 5) + ".io"
    token = ca_server.dev.mint({"email": long_email, "email_verified": True})
    assert "not a valid email" in error(post(ca_server, body, token), 400)
    token = ca_server.dev.mint(
        {"sub": "s" * 5000, "email": "a@example.com", "email_verified": True}
    )
    assert "longer than" in error(post(ca_server, body, token), 400)
