"""The responder in-process: tokens verified by rfc3161-client, CMS shape, refusals."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import random
import time

import pytest
from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from rfc3161_client import TimestampRequestBuilder, VerificationError
from rfc3161_client import decode_timestamp_response as decode
from rfc3161_client.base import HashAlgorithm

from sceau.errors import InputError
from sceau.services.tsa import (
    SIGSTORE_POLICY_OID,
    TimestampAuthority,
    TimestampRequest,
    TSAChain,
    make_tsa_chain,
)
from tests.tsa.helpers import der_request, verify_reply

SIG = b"\x30\x45 a signature over some artifact"
FIXED = dt.datetime(2026, 11, 26, 12, 0, 0, 987654, tzinfo=dt.UTC)


def _python_request(algorithm: HashAlgorithm = HashAlgorithm.SHA256, data: bytes = SIG):
    """Exactly how sigstore-python builds it (sigstore/_internal/timestamp.py)."""
    return TimestampRequestBuilder().hash_algorithm(algorithm).data(data).nonce(nonce=True).build()


def _token(reply: bytes) -> tuple[tsp.TSTInfo, cms.SignedData]:
    resp = tsp.TimeStampResp.load(reply)
    assert resp["status"]["status"].native == "granted"
    signed_data = resp["time_stamp_token"]["content"]
    return signed_data["encap_content_info"]["content"].parsed, signed_data


@pytest.mark.parametrize("algorithm", [HashAlgorithm.SHA256, HashAlgorithm.SHA512])
def test_python_request_verifies(
    tsa: TimestampAuthority, tsa_chain: TSAChain, algorithm: HashAlgorithm
) -> None:
    request = _python_request(algorithm)
    response = verify_reply(tsa.respond(request.as_bytes()), SIG, tsa_chain.chain, request)
    assert response.tst_info.nonce == request.nonce
    assert response.tst_info.message_imprint.message == request.message_imprint.message
    assert response.tst_info.message_imprint.hash_algorithm == (
        request.message_imprint.hash_algorithm
    )
    # certReq is true in python's requests: the signer certificate is embedded.
    assert response.signed_data.certificates == {
        tsa_chain.leaf.public_bytes(serialization.Encoding.DER)
    }


def test_sha384_request_verifies(tsa: TimestampAuthority, tsa_chain: TSAChain) -> None:
    reply = tsa.respond(der_request(SIG, "sha384", nonce=42))
    response = verify_reply(reply, SIG, tsa_chain.chain)
    assert response.tst_info.nonce == 42
    assert response.tst_info.message_imprint.message == hashlib.sha384(SIG).digest()
    with pytest.raises(VerificationError):
        verify_reply(reply, SIG + b"!", tsa_chain.chain)


def test_p384_leaf_and_full_chain() -> None:
    chain = make_tsa_chain(leaf_algorithm="ecdsa-p384")
    tsa = TimestampAuthority(chain.leaf_signer, chain.chain, include_chain=True)
    request = _python_request()
    reply = tsa.respond(request.as_bytes())
    verify_reply(reply, SIG, chain.chain, request)
    _, signed_data = _token(reply)
    signer_info = signed_data["signer_infos"][0]
    assert signer_info["digest_algorithm"]["algorithm"].native == "sha384"
    assert signer_info["signature_algorithm"]["algorithm"].native == "sha384_ecdsa"
    assert len(signed_data["certificates"]) == 2


def test_tstinfo_fields() -> None:
    # One clock for both sides: the chain is made at the fixed signing time, so the token
    # verifies on any day the test runs (a chain made "now" would not cover FIXED).
    tsa_chain = make_tsa_chain(not_before=FIXED - dt.timedelta(minutes=5))
    tsa = TimestampAuthority(tsa_chain.leaf_signer, tsa_chain.chain, clock=lambda: FIXED)
    request = _python_request()
    reply = tsa.respond(request.as_bytes())
    response = verify_reply(reply, SIG, tsa_chain.chain, request)
    info = response.tst_info
    assert info.version == 1
    assert info.policy == x509.ObjectIdentifier(SIGSTORE_POLICY_OID)
    assert info.gen_time == FIXED.replace(microsecond=0)
    assert info.accuracy.seconds == 1
    assert info.ordering is False
    assert info.name.value == tsa_chain.leaf.subject
    tst_info, _ = _token(reply)
    serial = tst_info["serial_number"].native
    assert serial > 0 and len(tst_info["serial_number"].contents) <= 20
    # Serial numbers are random: two tokens for the same request differ.
    other, _ = _token(tsa.respond(request.as_bytes()))
    assert other["serial_number"].native != serial
    # The imprint is echoed byte for byte (RFC 3161 §2.4.2).
    req = tsp.TimeStampReq.load(request.as_bytes())
    assert tst_info["message_imprint"].dump() == req["message_imprint"].dump()


def test_cms_shape_as_sigstore_js_reads_it(tsa: TimestampAuthority, tsa_chain: TSAChain) -> None:
    """Re-do sigstore-js's checks (@sigstore/core rfc3161/timestamp.ts) on our token."""
    reply = tsa.respond_json(
        {
            "artifactHash": base64.b64encode(hashlib.sha256(SIG).digest()).decode(),
            "hashAlgorithm": "sha256",
        }
    )
    tst_info, signed_data = _token(reply)
    assert signed_data["version"].native == "v3"
    assert signed_data["encap_content_info"]["content_type"].native == "tst_info"
    assert [a["algorithm"].native for a in signed_data["digest_algorithms"]] == ["sha256"]
    (signer_info,) = signed_data["signer_infos"]
    assert signer_info["version"].native == "v1"
    sid = signer_info["sid"]
    assert sid.name == "issuer_and_serial_number"
    assert sid.chosen["serial_number"].native == tsa_chain.leaf.serial_number
    assert sid.chosen["issuer"].dump() == tsa_chain.leaf.issuer.public_bytes()
    attrs = {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}
    assert set(attrs) == {
        "content_type",
        "signing_time",
        "message_digest",
        "signing_certificate_v2",
    }
    assert attrs["content_type"].native == "tst_info"
    assert attrs["signing_time"].name == "utc_time"
    assert attrs["signing_time"].native == tst_info["gen_time"].native
    assert attrs["message_digest"].native == hashlib.sha256(tst_info.dump()).digest()
    ess = attrs["signing_certificate_v2"]["certs"][0]
    leaf_der = tsa_chain.leaf.public_bytes(serialization.Encoding.DER)
    assert ess["cert_hash"].native == hashlib.sha256(leaf_der).digest()
    assert ess["issuer_serial"]["serial_number"].native == tsa_chain.leaf.serial_number
    # The signature is ECDSA over the DER SET OF the signed attributes ([0] -> 0x31).
    signed = bytearray(signer_info["signed_attrs"].dump())
    assert signed[0] == 0xA0
    signed[0] = 0x31
    assert signer_info["signature_algorithm"]["algorithm"].native == "sha256_ecdsa"
    key = tsa_chain.leaf.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    signature = signer_info["signature"].native
    key.verify(signature, bytes(signed), ec.ECDSA(hashes.SHA256()))
    signed[-1] ^= 1
    with pytest.raises(InvalidSignature):
        key.verify(signature, bytes(signed), ec.ECDSA(hashes.SHA256()))
    # JSON without "certificates": no certificates field at all.
    assert not signed_data["certificates"].native


def test_certificates_set_is_der_sorted(tsa_chain: TSAChain) -> None:
    tsa = TimestampAuthority(tsa_chain.leaf_signer, tsa_chain.chain, include_chain=True)
    request = _python_request()
    reply = tsa.respond(request.as_bytes())
    _, signed_data = _token(reply)
    # Read the raw SET contents and split them into the element encodings as sent.
    raw = signed_data["certificates"].contents
    elements = []
    while raw:
        element = cms.CertificateChoices.load(raw)
        elements.append(raw[: len(element.dump())])
        raw = raw[len(elements[-1]) :]
    ders = {c.public_bytes(serialization.Encoding.DER) for c in tsa_chain.chain}
    assert set(elements) == ders and len(elements) == 2
    assert elements == sorted(elements)
    verify_reply(reply, SIG, tsa_chain.chain, request)
    # The check can fail: the same reply with the two certificates swapped is refused.
    swapped = reply.replace(elements[0] + elements[1], elements[1] + elements[0])
    assert swapped != reply
    with pytest.raises(ValueError, match="InvalidSetOrdering"):
        verify_reply(swapped, SIG, tsa_chain.chain, request)


def test_policies(tsa_chain: TSAChain) -> None:
    tsa = TimestampAuthority(tsa_chain.leaf_signer, tsa_chain.chain, accepted_policies=["1.2.3.4"])
    reply = tsa.respond(der_request(SIG, policy="1.2.3.4"))
    assert decode(reply).tst_info.policy == x509.ObjectIdentifier("1.2.3.4")
    # The default policy stays accepted; anything else is refused.
    reply = tsa.respond(der_request(SIG, policy=SIGSTORE_POLICY_OID))
    assert decode(reply).tst_info.policy == x509.ObjectIdentifier(SIGSTORE_POLICY_OID)
    with pytest.raises(InputError, match=r"unaccepted policy 1\.2\.3\.5"):
        tsa.respond(der_request(SIG, policy="1.2.3.5"))
    with pytest.raises(InputError, match="unaccepted policy"):
        tsa.respond_json(
            {
                "artifactHash": base64.b64encode(bytes(32)).decode(),
                "hashAlgorithm": "sha256",
                "tsaPolicyOID": "1.2.9",
            }
        )


def test_json_options(tsa: TimestampAuthority, tsa_chain: TSAChain) -> None:
    digest = hashlib.sha512(SIG).digest()
    reply = tsa.respond_json(
        {
            "artifactHash": base64.b64encode(digest).decode(),
            "hashAlgorithm": "SHA512",
            "certificates": True,
            "nonce": 2**100,
            "tsaPolicyOID": SIGSTORE_POLICY_OID,
        }
    )
    response = verify_reply(reply, SIG, tsa_chain.chain)
    assert response.tst_info.nonce == 2**100
    assert len(response.signed_data.certificates) == 1


BAD_DER = [
    (b"", "empty"),
    (b"\x30\x03\x02\x01", "malformed"),
    (b"not asn.1 at all", "malformed"),
    (der_request(SIG, "sha256")[:-3], "malformed"),
    (der_request(SIG, "sha256") + b"\x00", "malformed"),
    (der_request(SIG, "sha1"), "weak hash algorithm sha1"),
    (der_request(SIG, "md5"), "weak hash algorithm md5"),
    (der_request(SIG, "sha224"), "unsupported hash algorithm sha224"),
    (der_request(SIG, "sha256", digest=bytes(31)), "expected 32 bytes, got 31"),
    (der_request(SIG, "sha512", digest=bytes(32)), "expected 64 bytes, got 32"),
    (der_request(SIG, nonce=-5), "nonce must be a non-negative"),
    (der_request(SIG, nonce=2**300), "at most 256 bits"),
    (der_request(SIG, version="v2"), "version"),
    (der_request(SIG, policy="1.2.3.5"), "unaccepted policy"),
    (
        der_request(SIG, extensions=[{"extn_id": "1.2.3", "extn_value": b"x"}]),
        "extensions are not supported",
    ),
]


@pytest.mark.parametrize(("body", "message"), BAD_DER)
def test_bad_der_refused(tsa: TimestampAuthority, body: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        tsa.respond(body)


B64 = base64.b64encode(bytes(32)).decode()
BAD_JSON = [
    ({}, "artifactHash is required"),
    ({"artifactHash": B64}, "hashAlgorithm is required"),
    ({"artifactHash": "%%%", "hashAlgorithm": "sha256"}, "not valid base64"),
    ({"artifactHash": B64 + "=", "hashAlgorithm": "sha256"}, "not valid base64"),
    ({"artifactHash": 12, "hashAlgorithm": "sha256"}, "artifactHash is required"),
    ({"artifactHash": B64, "hashAlgorithm": "sha1"}, "weak hash algorithm sha1"),
    ({"artifactHash": B64, "hashAlgorithm": "sha384"}, "expected 48 bytes, got 32"),
    ({"artifactHash": B64, "hashAlgorithm": "whirlpool"}, "unsupported hash algorithm"),
    ({"artifactHash": B64, "hashAlgorithm": "sha256", "certificates": "yes"}, "boolean"),
    ({"artifactHash": B64, "hashAlgorithm": "sha256", "nonce": True}, "nonce must be"),
    ({"artifactHash": B64, "hashAlgorithm": "sha256", "nonce": 1.5}, "nonce must be"),
    ({"artifactHash": B64, "hashAlgorithm": "sha256", "nonce": -1}, "non-negative"),
    ({"artifactHash": B64, "hashAlgorithm": "sha256", "tsaPolicyOID": "x"}, "dotted"),
    ({"artifactHash": B64, "hashAlgorithm": "sha256", "extra": 1}, "unknown field"),
]


@pytest.mark.parametrize(("obj", "message"), BAD_JSON)
def test_bad_json_refused(tsa: TimestampAuthority, obj: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        tsa.respond_json(obj)


def test_throughput(tsa: TimestampAuthority) -> None:
    request = _python_request().as_bytes()
    n = 1000
    start = time.perf_counter()
    for _ in range(n):
        tsa.respond(request)
    rate = n / (time.perf_counter() - start)
    print(f"\nTSA: {rate:.0f} timestamps/s in-process (P-256 leaf, certReq)")
    assert rate > 100


def test_mutated_requests_never_crash(tsa: TimestampAuthority) -> None:
    """Random corruptions of a valid request: a precise refusal or a decodable reply."""
    rnd = random.Random(3161)
    base = _python_request().as_bytes()
    refused = granted = 0
    for _ in range(1500):
        body = bytearray(base)
        for _ in range(rnd.randint(1, 3)):
            pos = rnd.randrange(len(body) + 1)
            op = rnd.random()
            if op < 0.6 and pos < len(body):
                body[pos] = rnd.randrange(256)
            elif op < 0.8 and pos < len(body):
                del body[pos]
            else:
                body.insert(pos, rnd.randrange(256))
        try:
            reply = tsa.respond(bytes(body))
        except InputError:
            refused += 1
            continue
        decode(reply)
        granted += 1
    assert refused > 500 and granted > 50


def test_issue_checks_hand_built_requests(tsa: TimestampAuthority, tsa_chain: TSAChain) -> None:
    digest = hashlib.sha256(SIG).digest()
    reply = tsa.issue(TimestampRequest("sha256", digest, nonce=9, cert_req=True))
    assert verify_reply(reply, SIG, tsa_chain.chain).tst_info.nonce == 9
    with pytest.raises(InputError, match="expected 48 bytes"):
        tsa.issue(TimestampRequest("sha384", digest))
    with pytest.raises(InputError, match="weak hash"):
        tsa.issue(TimestampRequest("sha1", digest[:20]))


def test_signing_time_after_2049(tsa_chain: TSAChain) -> None:
    late = dt.datetime(2051, 1, 1, tzinfo=dt.UTC)
    tsa = TimestampAuthority(tsa_chain.leaf_signer, tsa_chain.chain, clock=lambda: late)
    _, signed_data = _token(tsa.respond(der_request(SIG)))
    attrs = {
        a["type"].native: a["values"][0] for a in signed_data["signer_infos"][0]["signed_attrs"]
    }
    assert attrs["signing_time"].name == "generalized_time"
    assert attrs["signing_time"].native == late
