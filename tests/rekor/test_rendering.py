"""The hot path writes some JSON by hand (leaves, SET payloads, responses): each must be
exactly what the generic encoders produce for the same values."""

from __future__ import annotations

import base64
import gc
import json
import os

import pytest
import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ObjectIdentifier

from sceau import merkle
from sceau.errors import InternalError
from sceau.keys import generate_signer
from sceau.log import SignedCheckpoint
from sceau.services._http import tune_gc_for_serving
from sceau.services.rekor import material as mat
from sceau.services.rekor.logs import V1Identity, V2Identity, set_payload
from sceau.services.rekor.responses import v1_entry, v1_keyed, v2_entry
from sceau.services.rekor.types import Limits, from_v1_request, from_v2_request
from tests.rekor import helpers as h

LIMITS = Limits()


@pytest.mark.parametrize("hash_name", ["sha256", "sha384", "sha512"])
def test_hashedrekord_v1_leaf_is_jcs(hash_name: str) -> None:
    digest = os.urandom(mat.HASHES[hash_name].digest_size)
    cert, key = h.leaf()
    req, *_ = h.hashedrekord_v1(cert=cert, key=key)
    spec = req["spec"]
    spec["data"]["hash"] = {"algorithm": hash_name, "value": digest.hex().upper()}
    spec["signature"]["content"] = h.b64(h.sign_digest(key, digest, mat.HASHES[hash_name]))
    entry = from_v1_request(req, LIMITS)
    expected = {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            # normalised: an upper-cased digest is the same entry as the lower-cased one
            "data": {"hash": {"algorithm": hash_name, "value": digest.hex()}},
            "signature": {
                "content": spec["signature"]["content"],
                "publicKey": {"content": h.b64(h.pem(cert))},
            },
        },
    }
    assert entry.body == rfc8785.dumps(expected)


@pytest.mark.parametrize("verifier", ["x509Certificate", "publicKey"])
def test_hashedrekord_v2_leaf_is_jcs(verifier: str) -> None:
    cert, key = h.leaf()
    req, *_ = h.hashedrekord_v2(cert=cert, key=key)
    inner = req["hashedRekordRequestV002"]
    if verifier == "publicKey":
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        inner["signature"]["verifier"] = {
            "publicKey": {"rawBytes": h.b64(spki)},
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
        }
    entry = from_v2_request(req, LIMITS)
    raw = inner["signature"]["verifier"][verifier]["rawBytes"]
    expected = {
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": {
            "hashedRekordV002": {
                "data": {"algorithm": "SHA2_256", "digest": inner["digest"]},
                "signature": {
                    "content": inner["signature"]["content"],
                    "verifier": {
                        "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                        verifier: {"rawBytes": raw},
                    },
                },
            }
        },
    }
    assert entry.body == rfc8785.dumps(expected)


def test_set_payload_is_jcs_and_refuses_what_would_need_escaping() -> None:
    body = base64.b64encode(os.urandom(300)).decode()
    expected = {"body": body, "integratedTime": 1_700_000_000, "logID": "ab" * 32, "logIndex": 7}
    assert set_payload(body, 1_700_000_000, "ab" * 32, 7) == rfc8785.dumps(expected)
    unsafe = [('a"b', "ab"), ("a\\b", "ab"), ("a\nb", "ab"), ("é", "ab"), ("a", "A!")]
    for bad_body, bad_id in unsafe:
        with pytest.raises(InternalError):
            set_payload(bad_body, 1, bad_id, 1)


def _checkpoint(body: bytes) -> SignedCheckpoint:
    # A note with what JSON must escape: newlines, a quote, a backslash, non-ASCII.
    note = 'host - 1\n1\nroot\n\n\u2014 host "q" \\ sig\n'
    return SignedCheckpoint(1, merkle.leaf_hash(body), 0, note)


def test_v1_entry_text_is_the_json_of_its_fields() -> None:
    ident = V1Identity("rekor.test", 42, generate_signer("ecdsa-p256"))
    body = b'{"kind":"x"}'
    cp = _checkpoint(body)
    entry_id, text = v1_entry(ident, 0, body, 1_700_000_000, [], cp)
    value = json.loads(text)
    set_sig = base64.b64decode(value["verification"]["signedEntryTimestamp"])
    ident.signer.public_key().verify(
        set_sig,
        rfc8785.dumps(
            {
                "body": value["body"],
                "integratedTime": 1_700_000_000,
                "logID": ident.log_id.hex(),
                "logIndex": 0,
            }
        ),
        ec.ECDSA(hashes.SHA256()),
    )
    assert value == {
        "body": base64.b64encode(body).decode(),
        "integratedTime": 1_700_000_000,
        "logID": ident.log_id.hex(),
        "logIndex": 0,
        "verification": {
            "inclusionProof": {
                "checkpoint": cp.note,
                "hashes": [],
                "logIndex": 0,
                "rootHash": cp.root_hash.hex(),
                "treeSize": 1,
            },
            "signedEntryTimestamp": value["verification"]["signedEntryTimestamp"],
        },
    }
    assert entry_id == f"{42:016x}{merkle.leaf_hash(body).hex()}"
    assert json.loads(v1_keyed(entry_id, text)) == {entry_id: value}


def test_v2_entry_text_is_the_json_of_its_fields() -> None:
    ident = V2Identity("rekor.test", generate_signer("ed25519"))
    body = b'{"apiVersion":"0.0.2","kind":"hashedrekord"}'
    cp = _checkpoint(body)
    value = json.loads(v2_entry(ident, 0, body, [], cp))
    assert value == {
        "logIndex": "0",
        "logId": {"keyId": base64.b64encode(ident.log_id).decode()},
        "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
        "integratedTime": "0",
        "inclusionPromise": None,
        "inclusionProof": {
            "logIndex": "0",
            "rootHash": base64.b64encode(cp.root_hash).decode(),
            "treeSize": "1",
            "hashes": [],
            "checkpoint": {"envelope": cp.note},
        },
        "canonicalizedBody": base64.b64encode(body).decode(),
    }


def test_material_identities_in_rekor_order() -> None:
    """E-mails, then URIs, then UTF-8 otherNames (Fulcio usernames), from one SAN pass."""
    username = x509.OtherName(ObjectIdentifier("1.3.6.1.4.1.57264.1.7"), b"\x0c\x05alice")
    san = x509.SubjectAlternativeName(
        [
            x509.UniformResourceIdentifier(h.URI),
            username,
            x509.RFC822Name("a@example.test"),
            x509.OtherName(ObjectIdentifier("1.2.3"), b"\x04\x01x"),  # not a UTF8String
        ]
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = h.certificate_with(key, san)
    material = mat.from_pem(h.pem(cert), "pem")
    assert material.emails() == ["a@example.test"]
    assert material.subjects() == ["a@example.test", h.URI, "alice"]
    no_san = mat.from_pem(h.pem(h.certificate_with(key, None)), "pem")
    assert (no_san.emails(), no_san.subjects()) == ([], [])


def test_tune_gc_for_serving() -> None:
    before = gc.get_threshold()
    try:
        tune_gc_for_serving()
        assert gc.get_threshold() == (50_000, 20, 100)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
