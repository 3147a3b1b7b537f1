"""Entry types: every refusal names its field; valid entries of each kind carry the
expected index terms."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from sceau.errors import InputError, PayloadTooLarge
from sceau.services.rekor.types import Limits, from_v1_request, from_v2_request
from tests.rekor import helpers as h

LIMITS = Limits()


def _refused(fn, request, match: str, exc=InputError) -> None:
    with pytest.raises(exc, match=match):
        fn(request, LIMITS)


# -- hashedrekord 0.0.1 ---------------------------------------------------------------------


def test_hashedrekord_v1_terms() -> None:
    req, digest, cert, _ = h.hashedrekord_v1(uri=h.URI)
    entry = from_v1_request(req, LIMITS)
    body = json.loads(entry.body)
    assert body["spec"]["signature"]["publicKey"]["content"] == h.b64(h.pem(cert))
    assert f"hash:sha256:{digest.hex()}" in entry.keys
    assert "email:alice@example.com" in entry.keys
    assert "subject:alice@example.com" in entry.keys
    assert f"subject:{h.URI}" in entry.keys
    assert f"key:{hashlib.sha256(h.pem(cert)).hexdigest()}" in entry.keys


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda r: r.__setitem__("kind", "rekord"), "kind: unsupported kind 'rekord'"),
        (lambda r: r.__setitem__("apiVersion", "0.0.2"), "apiVersion: unsupported version"),
        (lambda r: r.__setitem__("apiVersion", 1), "apiVersion: must be a string"),
        (lambda r: r.pop("spec"), "spec: missing"),
        (
            lambda r: r["spec"]["signature"].__setitem__("content", "not base64!"),
            "spec.signature.content: not valid base64",
        ),
        (
            lambda r: r["spec"]["signature"]["publicKey"].__setitem__("content", "AAA"),
            "spec.signature.publicKey.content: not valid base64",
        ),
        (
            lambda r: r["spec"]["signature"]["publicKey"].__setitem__("content", h.b64(b"junk")),
            "spec.signature.publicKey.content: must hold exactly one PEM",
        ),
        (
            lambda r: r["spec"]["data"]["hash"].__setitem__("value", "ab" * 31),
            "spec.data.hash.value: must be 64 hex characters for sha256, got 62",
        ),
        (
            lambda r: r["spec"]["data"]["hash"].__setitem__("algorithm", "md5"),
            "spec.data.hash.algorithm: unsupported hash 'md5'",
        ),
        (
            lambda r: r["spec"]["data"]["hash"].__setitem__("algorithm", "sha384"),
            "spec.data.hash.value: must be 96 hex",
        ),
        (lambda r: r["spec"]["data"].__setitem__("url", "http://x"), "spec.data: only data.hash"),
        (
            lambda r: r["spec"]["data"]["hash"].__setitem__("value", "00" * 32),
            "spec.signature.content: signature does not verify",
        ),
    ],
)
def test_hashedrekord_v1_refusals(mutate, match: str) -> None:
    req = h.hashedrekord_v1()[0]
    mutate(req)
    _refused(from_v1_request, req, match)


def test_hashedrekord_v1_wrong_key() -> None:
    req = h.hashedrekord_v1()[0]
    other, _ = h.leaf()
    req["spec"]["signature"]["publicKey"]["content"] = h.b64(h.pem(other))
    _refused(from_v1_request, req, "signature does not verify with the given key")


def test_hashedrekord_v1_ed25519_refused() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    req = h.hashedrekord_v1()[0]
    req["spec"]["signature"]["publicKey"]["content"] = h.b64(pub)
    _refused(from_v1_request, req, "Ed25519 keys cannot sign a prehashed digest")


@pytest.mark.parametrize("alg", ["sha384", "sha512"])
def test_hashedrekord_v1_other_hashes_and_rsa(alg: str) -> None:
    key = rsa.generate_private_key(65537, 2048)
    cert, _ = h.leaf(key)
    algorithm = {"sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[alg]
    digest = hashlib.new(alg, b"artifact").digest()
    req = {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "signature": {
                "content": h.b64(h.sign_digest(key, digest, algorithm)),
                "publicKey": {"content": h.b64(h.pem(cert))},
            },
            "data": {"hash": {"algorithm": alg, "value": digest.hex()}},
        },
    }
    entry = from_v1_request(req, LIMITS)
    assert f"hash:{alg}:{digest.hex()}" in entry.keys


def test_hashedrekord_v1_size_limit() -> None:
    req = h.hashedrekord_v1()[0]
    with pytest.raises(PayloadTooLarge, match=r"over the limit of 65536 bytes \(hashedrekord\)"):
        from_v1_request(req, LIMITS, raw_size=70_000)


# -- dsse 0.0.1 / intoto 0.0.2 ----------------------------------------------------------------


def test_dsse_v1_terms_include_statement_subjects() -> None:
    subject = hashlib.sha256(b"a.txt").hexdigest()
    req, env, cert, _ = h.dsse_v1(h.statement(subject))
    entry = from_v1_request(req, LIMITS)
    spec = json.loads(entry.body)["spec"]
    assert spec["signatures"] == [
        {"signature": env["signatures"][0]["sig"], "verifier": h.b64(h.pem(cert))}
    ]
    assert "proposedContent" not in spec
    assert f"hash:sha256:{subject}" in entry.keys
    assert f"hash:sha256:{spec['payloadHash']['value']}" in entry.keys


def test_dsse_v1_refusals() -> None:
    req = h.dsse_v1()[0]
    other, _ = h.leaf()
    bad = copy.deepcopy(req)
    bad["spec"]["proposedContent"]["verifiers"] = [h.b64(h.pem(other))]
    _refused(from_v1_request, bad, r"envelope.signatures\[0\]: no verifier verifies")
    bad = copy.deepcopy(req)
    bad["spec"]["proposedContent"]["envelope"] = "{not json"
    _refused(from_v1_request, bad, "spec.proposedContent.envelope is not valid JSON")
    bad = copy.deepcopy(req)
    bad["spec"]["proposedContent"]["verifiers"] = []
    _refused(from_v1_request, bad, "spec.proposedContent.verifiers: missing")
    big = h.dsse_v1(b"x" * 120_000)[0]
    _refused(
        from_v1_request, big, r"over the limit of 102400 bytes \(attestation\)", PayloadTooLarge
    )


def test_intoto_v2_accepted_and_checked() -> None:
    req, _, cert, _ = h.intoto_v2()
    entry = from_v1_request(req, LIMITS)
    content = json.loads(entry.body)["spec"]["content"]
    assert "payload" not in content["envelope"]
    assert content["envelope"]["signatures"][0]["publicKey"] == h.b64(h.pem(cert))
    other, _ = h.leaf()
    req["spec"]["content"]["envelope"]["signatures"][0]["publicKey"] = h.b64(h.pem(other))
    _refused(from_v1_request, req, "no verifier verifies")


# -- Rekor v2 ---------------------------------------------------------------------------------


def test_hashedrekord_v2_public_key_verifier_and_p384() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    digest = hashlib.sha384(b"artifact").digest()
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    req = {
        "hashedRekordRequestV002": {
            "digest": h.b64(digest),
            "signature": {
                "content": h.b64(h.sign_digest(key, digest, hashes.SHA384())),
                "verifier": {
                    "publicKey": {"rawBytes": h.b64(spki)},
                    "keyDetails": "PKIX_ECDSA_P384_SHA_384",
                },
            },
        }
    }
    entry = from_v2_request(req, LIMITS)
    data = json.loads(entry.body)["spec"]["hashedRekordV002"]["data"]
    assert data == {"algorithm": "SHA2_384", "digest": h.b64(digest)}


def test_hashedrekord_v2_accepts_url_safe_unpadded_base64() -> None:
    req, digest, _, _ = h.hashedrekord_v2()
    inner = req["hashedRekordRequestV002"]
    inner["digest"] = inner["digest"].replace("+", "-").replace("/", "_").rstrip("=")
    entry = from_v2_request(req, LIMITS)
    assert json.loads(entry.body)["spec"]["hashedRekordV002"]["data"]["digest"] == h.b64(digest)


P = "hashedRekordRequestV002"


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda r: r.__setitem__("dsseRequestV002", {}), "exactly one of"),
        (lambda r: r.__setitem__("extra", 1), "extra: unknown field"),
        (lambda r: r[P].__setitem__("digest", "$$$"), f"{P}.digest: not valid base64"),
        (
            lambda r: r[P].__setitem__("digest", h.b64(b"\0" * 20)),
            f"{P}.digest: 20 bytes, but PKIX_ECDSA_P256_SHA_256 needs a 32-byte sha256",
        ),
        (
            lambda r: r[P]["signature"]["verifier"].__setitem__("keyDetails", "PKIX_ED25519"),
            f"{P}.signature.verifier.keyDetails: unsupported algorithm 'PKIX_ED25519'",
        ),
        (
            lambda r: r[P]["signature"]["verifier"].__setitem__(
                "keyDetails", "PKIX_ECDSA_P384_SHA_384"
            ),
            "PKIX_ECDSA_P384_SHA_384 does not match the verifier's key",
        ),
        (
            lambda r: r[P]["signature"]["verifier"].__setitem__("publicKey", {"rawBytes": "AA=="}),
            "exactly one of x509Certificate or publicKey",
        ),
        (
            lambda r: r[P]["signature"]["verifier"]["x509Certificate"].__setitem__(
                "rawBytes", h.b64(b"junk")
            ),
            f"{P}.signature.verifier.x509Certificate.rawBytes: not a valid DER",
        ),
        (
            lambda r: r[P]["signature"].__setitem__("content", h.b64(b"\x30\x00")),
            f"{P}.signature.content: signature does not verify",
        ),
        (lambda r: r[P].pop("signature"), f"{P}.signature: missing"),
    ],
)
def test_hashedrekord_v2_refusals(mutate, match: str) -> None:
    req = h.hashedrekord_v2()[0]
    mutate(req)
    _refused(from_v2_request, req, match)


def test_dsse_v2() -> None:
    req, env, cert, _ = h.dsse_v2()
    entry = from_v2_request(req, LIMITS)
    assert (entry.kind, entry.api_version) == ("dsse", "0.0.2")
    spec = json.loads(entry.body)["spec"]["dsseV002"]
    assert spec["signatures"][0]["content"] == env["signatures"][0]["sig"]
    assert spec["signatures"][0]["verifier"]["x509Certificate"]["rawBytes"] == h.b64(h.der(cert))
    other, _ = h.leaf()
    req["dsseRequestV002"]["verifiers"][0]["x509Certificate"]["rawBytes"] = h.b64(h.der(other))
    _refused(from_v2_request, req, r"envelope.signatures\[0\]: no verifier verifies")


@pytest.mark.parametrize(
    "value",
    [
        {"b": [1, -2, True, None, False], "a": {"z": "x", "A": ""}, "é": "ü"},
        {"s": 'quote " and \\ backslash and \n newline', "n": 2**40},
        {"float": 1.5, "emoji": "\U0001f600", "ctl": "\x01"},
        {"apiVersion": "0.0.1", "spec": {"list": [{"k": "v"}, []], "x": "a~ !#[]"}},
    ],
)
def test_fast_jcs_equals_rfc8785(value) -> None:
    import rfc8785

    from sceau.services.rekor.canonical import jcs

    assert jcs(value) == rfc8785.dumps(value)
