"""Canonical bodies are byte-identical to the ones real Rekor (v1) and rekor-tiles (v2)
logged: rebuild each request from a real bundle's certificate, signature and digest, run
it through our entry types and compare with the bundle's ``canonicalizedBody``."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sigstore.dsse import Envelope as SigstoreEnvelope
from sigstore_models.intoto import Envelope as EnvelopeModel

from sceau.services.rekor.types import Limits, from_v1_request, from_v2_request


def _bundle(vectors: Path, case: str) -> dict:
    return json.loads((vectors / "bundle-verify" / case / "bundle.sigstore.json").read_text())


def _entry(bundle: dict) -> dict:
    return bundle["verificationMaterial"]["tlogEntries"][0]


def _cert(bundle: dict) -> x509.Certificate:
    vm = bundle["verificationMaterial"]
    raw = (
        vm["certificate"]["rawBytes"]
        if "certificate" in vm
        else (vm["x509CertificateChain"]["certificates"][0]["rawBytes"])
    )
    return x509.load_der_x509_certificate(base64.b64decode(raw))


def _der_b64(cert: x509.Certificate) -> str:
    return _b64(cert.public_bytes(serialization.Encoding.DER))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _hashedrekord_v1(digest_hex: str, sig_b64: str, pem: bytes) -> dict:
    return {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "signature": {"content": sig_b64, "publicKey": {"content": _b64(pem)}},
            "data": {"hash": {"algorithm": "sha256", "value": digest_hex}},
        },
    }


@pytest.mark.parametrize(
    "case", ["happy-path-v0.3", "happy-path-v0.1", "happy-path-v0.3-new-mediaType"]
)
def test_hashedrekord_v001_certificate(vectors: Path, case: str) -> None:
    bundle = _bundle(vectors, case)
    artifact = (vectors / "bundle-verify" / "a.txt").read_bytes()
    pem = _cert(bundle).public_bytes(serialization.Encoding.PEM)
    request = _hashedrekord_v1(
        hashlib.sha256(artifact).hexdigest(), bundle["messageSignature"]["signature"], pem
    )
    entry = from_v1_request(request, Limits())
    assert entry.body == base64.b64decode(_entry(bundle)["canonicalizedBody"])
    assert (entry.kind, entry.api_version) == ("hashedrekord", "0.0.1")


def test_hashedrekord_v001_public_key(vectors: Path) -> None:
    case = vectors / "bundle-verify" / "managed-key-happy-path"
    bundle = _bundle(vectors, "managed-key-happy-path")
    artifact = (vectors / "bundle-verify" / "a.txt").read_bytes()
    # A PEM with different line wrapping must still be re-encoded to Rekor's form.
    key = serialization.load_pem_public_key((case / "key.pub").read_bytes())
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    odd_pem = (
        b"-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der) + b"\n-----END PUBLIC KEY-----"
    )
    request = _hashedrekord_v1(
        hashlib.sha256(artifact).hexdigest(), bundle["messageSignature"]["signature"], odd_pem
    )
    entry = from_v1_request(request, Limits())
    assert entry.body == base64.b64decode(_entry(bundle)["canonicalizedBody"])


def test_dsse_v001(vectors: Path) -> None:
    bundle = _bundle(vectors, "happy-path-intoto-in-dsse-v3")
    pem = _cert(bundle).public_bytes(serialization.Encoding.PEM)
    # The envelope string exactly as sigstore-python submits it.
    envelope = SigstoreEnvelope(EnvelopeModel.from_dict(bundle["dsseEnvelope"])).to_json()
    request = {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "proposedContent": {"envelope": envelope, "verifiers": [_b64(pem)]},
            "signatures": None,
            "envelopeHash": None,
            "payloadHash": None,
        },
    }
    entry = from_v1_request(request, Limits())
    assert entry.body == base64.b64decode(_entry(bundle)["canonicalizedBody"])


def test_intoto_v002_matches_modern_rekor(vectors: Path) -> None:
    """The vector was logged by an older Rekor that kept the payload in the leaf; current
    Rekor (and sceau) drop it. Everything else must match byte for byte."""
    bundle = _bundle(vectors, "intoto-with-custom-trust-root")
    logged = json.loads(base64.b64decode(_entry(bundle)["canonicalizedBody"]))
    env = logged["spec"]["content"]["envelope"]
    request = {
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": {
            "content": {
                "envelope": {
                    "payloadType": env["payloadType"],
                    "payload": env["payload"],
                    "signatures": env["signatures"],
                },
                "hash": logged["spec"]["content"]["hash"],
            }
        },
    }
    entry = from_v1_request(request, Limits())
    del logged["spec"]["content"]["envelope"]["payload"]
    import rfc8785

    assert entry.body == rfc8785.dumps(logged)


@pytest.mark.parametrize(
    "case",
    ["rekor2-happy-path", "rekor2-timestamp-with-embedded-cert", "bundle-with-sct-with-extensions"],
)
def test_hashedrekord_v002(vectors: Path, case: str) -> None:
    bundle = _bundle(vectors, case)
    cert = _cert(bundle)
    request = {
        "hashedRekordRequestV002": {
            "digest": bundle["messageSignature"]["messageDigest"]["digest"],
            "signature": {
                "content": bundle["messageSignature"]["signature"],
                "verifier": {
                    "x509Certificate": {"rawBytes": _der_b64(cert)},
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                },
            },
        }
    }
    entry = from_v2_request(request, Limits())
    assert entry.body == base64.b64decode(_entry(bundle)["canonicalizedBody"])
    assert (entry.kind, entry.api_version) == ("hashedrekord", "0.0.2")


def test_hashedrekord_v002_over_dsse_pae(vectors: Path) -> None:
    """sigstore-python ≥ 4.3 logs DSSE on Rekor v2 as a hashedrekord over the PAE."""
    bundle = _bundle(vectors, "rekor2-dsse-happy-path")
    env = SigstoreEnvelope(EnvelopeModel.from_dict(bundle["dsseEnvelope"]))
    cert = _cert(bundle)
    request = {
        "hashedRekordRequestV002": {
            "digest": _b64(hashlib.sha256(env.pae()).digest()),
            "signature": {
                "content": _b64(env.signature),
                "verifier": {
                    "x509Certificate": {"rawBytes": _der_b64(cert)},
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                },
            },
        }
    }
    entry = from_v2_request(request, Limits())
    assert entry.body == base64.b64decode(_entry(bundle)["canonicalizedBody"])
