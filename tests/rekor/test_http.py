"""Every Rekor v1 / v2 endpoint over real HTTP, and every refusal with its status."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os

import httpx
import pytest
import rfc8785
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sceau import merkle
from sceau.keys import spki_der
from sceau.merkle.tiles import tile_path
from sceau.note import log_id, note_verifier, open_checkpoint
from sceau.services.rekor import Limits
from tests.rekor import helpers as h
from tests.rekor.conftest import Server, start
from tests.serving import serve_app

pytestmark = pytest.mark.server


def _v1_post(rekor: Server, request: dict) -> httpx.Response:
    return rekor.client.post("/api/v1/log/entries", json=request)


def _only(value: dict) -> tuple[str, dict]:
    assert len(value) == 1
    return next(iter(value.items()))


def _check_v1_entry(rekor: Server, entry_id: str, entry: dict) -> None:
    ident = rekor.service.v1
    body = base64.b64decode(entry["body"])
    lh = merkle.leaf_hash(body)
    assert entry_id == f"{ident.tree_id:016x}{lh.hex()}"
    assert entry["logID"] == hashlib.sha256(spki_der(rekor.v1_key.public_key())).hexdigest()
    proof = entry["verification"]["inclusionProof"]
    assert proof["logIndex"] == entry["logIndex"] >= 1
    merkle.verify_inclusion(
        proof["logIndex"],
        proof["treeSize"],
        lh,
        [bytes.fromhex(x) for x in proof["hashes"]],
        bytes.fromhex(proof["rootHash"]),
    )
    cp = open_checkpoint(
        proof["checkpoint"], [note_verifier(rekor.host, rekor.v1_key.public_key())]
    )
    assert cp.origin == f"{rekor.host} - {ident.tree_id}"
    assert (cp.size, cp.root_hash.hex()) == (proof["treeSize"], proof["rootHash"])
    payload = rfc8785.dumps(
        {
            "body": entry["body"],
            "integratedTime": entry["integratedTime"],
            "logID": entry["logID"],
            "logIndex": entry["logIndex"],
        }
    )
    rekor.v1_key.public_key().verify(
        base64.b64decode(entry["verification"]["signedEntryTimestamp"]),
        payload,
        ec.ECDSA(hashes.SHA256()),
    )


# -- Rekor v1 ---------------------------------------------------------------------------------


def test_v1_create_get_duplicate(rekor: Server) -> None:
    request = h.hashedrekord_v1()[0]
    r = _v1_post(rekor, request)
    assert r.status_code == 201, r.text
    entry_id, entry = _only(r.json())
    assert r.headers["ETag"] == entry_id
    assert r.headers["Location"] == f"/api/v1/log/entries/{entry_id}"
    _check_v1_entry(rekor, entry_id, entry)
    assert json.loads(base64.b64decode(entry["body"]))["kind"] == "hashedrekord"

    dup = _v1_post(rekor, request)
    assert dup.status_code == 409
    assert dup.headers["Location"] == f"/api/v1/log/entries/{entry_id}"
    assert dup.json() == {"code": 409, "message": dup.json()["message"]}
    assert entry_id[16:] in dup.json()["message"]

    for key in (entry_id, entry_id[16:], entry_id.upper()):
        got = rekor.client.get(f"/api/v1/log/entries/{key}")
        assert got.status_code == 200
        gid, gentry = _only(got.json())
        assert gid == entry_id and gentry["body"] == entry["body"]
        assert gentry["integratedTime"] == entry["integratedTime"]
        _check_v1_entry(rekor, gid, gentry)
    by_index = rekor.client.get("/api/v1/log/entries", params={"logIndex": entry["logIndex"]})
    assert _only(by_index.json())[0] == entry_id


def test_v1_reads_refuse_bad_ids(rekor: Server) -> None:
    assert rekor.client.get("/api/v1/log/entries/" + "ab" * 32).status_code == 404
    other_tree = "0" * 16 + _v1_any_uuid(rekor)
    assert rekor.client.get(f"/api/v1/log/entries/{other_tree}").status_code == 404
    bad = rekor.client.get("/api/v1/log/entries/xyz")
    assert bad.status_code == 400 and "entryUUID" in bad.json()["message"]
    assert rekor.client.get("/api/v1/log/entries", params={"logIndex": 10**9}).status_code == 404
    bad = rekor.client.get("/api/v1/log/entries", params={"logIndex": "-1"})
    assert bad.status_code == 400 and "logIndex" in bad.json()["message"]


def _v1_any_uuid(rekor: Server) -> str:
    r = _v1_post(rekor, h.hashedrekord_v1()[0])
    return _only(r.json())[0][16:]


def test_v1_genesis_is_index_zero(rekor: Server) -> None:
    got = rekor.client.get("/api/v1/log/entries", params={"logIndex": 0})
    body = json.loads(base64.b64decode(_only(got.json())[1]["body"]))
    assert body["kind"] == "sceau-genesis"
    assert body["spec"]["origin"] == rekor.service.v1.origin


def test_v1_dsse_and_intoto(rekor: Server) -> None:
    for request, kind in ((h.dsse_v1()[0], "dsse"), (h.intoto_v2()[0], "intoto")):
        r = _v1_post(rekor, request)
        assert r.status_code == 201, r.text
        entry_id, entry = _only(r.json())
        _check_v1_entry(rekor, entry_id, entry)
        assert json.loads(base64.b64decode(entry["body"]))["kind"] == kind


def test_v1_retrieve(rekor: Server) -> None:
    req_a, req_b = h.hashedrekord_v1()[0], h.hashedrekord_v1()[0]
    id_a = _only(_v1_post(rekor, req_a).json())[0]
    id_b, entry_b = _only(_v1_post(rekor, req_b).json())
    for path in ("/api/v1/log/entries/retrieve", "/api/v1/log/entries/retrieve/"):
        r = rekor.client.post(
            path, json={"entryUUIDs": [id_a, "cd" * 32], "logIndexes": [entry_b["logIndex"]]}
        )
        assert r.status_code == 200
        assert [_only(x)[0] for x in r.json()] == [id_a, id_b]
    r = rekor.client.post("/api/v1/log/entries/retrieve", json={"entries": [req_b]})
    assert [_only(x)[0] for x in r.json()] == [id_b]
    r = rekor.client.post("/api/v1/log/entries/retrieve", json={"logIndexes": list(range(11))})
    assert r.status_code == 422
    r = rekor.client.post("/api/v1/log/entries/retrieve", json={"logIndexes": ["x"]})
    assert r.status_code == 422


def test_v1_log_info_proof_and_key(rekor: Server) -> None:
    first = rekor.client.get("/api/v1/log").json()
    for _ in range(3):
        _v1_post(rekor, h.hashedrekord_v1()[0])
    info = rekor.client.get("/api/v1/log").json()
    assert info["treeID"] == str(rekor.service.v1.tree_id)
    assert info["inactiveShards"] == []
    cp = open_checkpoint(
        info["signedTreeHead"], [note_verifier(rekor.host, rekor.v1_key.public_key())]
    )
    assert (cp.size, cp.root_hash.hex()) == (info["treeSize"], info["rootHash"])

    proof = rekor.client.get(
        "/api/v1/log/proof", params={"firstSize": first["treeSize"], "lastSize": info["treeSize"]}
    ).json()
    assert proof["rootHash"] == info["rootHash"]
    merkle.verify_consistency(
        first["treeSize"],
        info["treeSize"],
        [bytes.fromhex(x) for x in proof["hashes"]],
        bytes.fromhex(first["rootHash"]),
        bytes.fromhex(info["rootHash"]),
    )
    older = rekor.client.get("/api/v1/log/proof", params={"lastSize": first["treeSize"]}).json()
    assert older["rootHash"] == first["rootHash"]
    assert rekor.client.get("/api/v1/log/proof").status_code == 400
    too_big = rekor.client.get("/api/v1/log/proof", params={"lastSize": 10**6})
    assert too_big.status_code == 400 and "lastSize" in too_big.json()["message"]
    assert (
        rekor.client.get("/api/v1/log/proof", params={"lastSize": 1, "treeID": "42"}).status_code
        == 404
    )

    pem = rekor.client.get("/api/v1/log/publicKey")
    assert pem.headers["content-type"].startswith("application/x-pem-file")
    assert serialization.load_pem_public_key(pem.content) == rekor.v1_key.public_key()


def test_v1_search(rekor: Server) -> None:
    artifact = os.urandom(16)
    alice_email = f"{os.urandom(4).hex()}@Example.com"
    alice, alice_key = h.leaf(email=alice_email, uri=h.URI)
    bob, bob_key = h.leaf(email=f"{os.urandom(4).hex()}@example.com")
    ids = [
        _only(_v1_post(rekor, h.hashedrekord_v1(a, cert=c, key=k)[0]).json())[0]
        for a, c, k in (
            (artifact, alice, alice_key),
            (artifact, bob, bob_key),
            (os.urandom(16), alice, alice_key),
        )
    ]
    digest = hashlib.sha256(artifact).hexdigest()

    def search(body: dict) -> list[str]:
        r = rekor.client.post("/api/v1/index/retrieve", json=body)
        assert r.status_code == 200, r.text
        return r.json()

    assert search({"hash": f"sha256:{digest}"}) == ids[:2]
    assert search({"email": alice_email.upper()}) == [ids[0], ids[2]]
    assert ids[0] in search({"subject": h.URI})
    assert search({"publicKey": {"format": "x509", "content": h.pem(bob).decode()}}) == [ids[1]]
    assert search({"hash": digest, "email": alice_email, "operator": "and"}) == [ids[0]]
    assert search({"hash": digest, "email": alice_email, "operator": "or"}) == ids
    bad = rekor.client.post("/api/v1/index/retrieve", json={"hash": "md5:00"})
    assert bad.status_code == 400 and bad.json()["message"].startswith("hash:")


@pytest.mark.parametrize(
    ("body", "status", "match"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[]", 400, "must be a JSON object"),
        (
            json.dumps({"kind": "rpm", "apiVersion": "0.0.1", "spec": {}}).encode(),
            400,
            "kind: unsupported kind 'rpm'",
        ),
        (
            json.dumps({"kind": "hashedrekord", "apiVersion": "9.9.9", "spec": {}}).encode(),
            400,
            "apiVersion: unsupported version '9.9.9'",
        ),
        (b"{" + b" " * (1024 * 1024 + 1) + b"}", 413, "limit of 1048576 bytes"),
    ],
)
def test_v1_create_refusals(rekor: Server, body: bytes, status: int, match: str) -> None:
    r = rekor.client.post(
        "/api/v1/log/entries", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == status
    assert match in r.json()["message"]
    assert r.json()["code"] == status


def test_v1_signature_mismatch_is_400(rekor: Server) -> None:
    request = h.hashedrekord_v1()[0]
    request["spec"]["data"]["hash"]["value"] = "00" * 32
    r = _v1_post(rekor, request)
    assert r.status_code == 400
    assert r.json()["message"].startswith("spec.signature.content: signature does not verify")


# -- Rekor v2 ---------------------------------------------------------------------------------


def _check_v2_entry(rekor: Server, value: dict, body: bytes | None = None) -> int:
    ident = rekor.service.v2
    assert value["logId"] == {"keyId": h.b64(log_id(rekor.host, rekor.v2_key.public_key()))}
    assert value["integratedTime"] == "0" and value["inclusionPromise"] is None
    index = int(value["logIndex"])
    assert index >= 1
    proof = value["inclusionProof"]
    assert proof["logIndex"] == value["logIndex"]
    leaf = base64.b64decode(value["canonicalizedBody"])
    if body is not None:
        assert leaf == body
    merkle.verify_inclusion(
        index,
        int(proof["treeSize"]),
        merkle.leaf_hash(leaf),
        [base64.b64decode(x) for x in proof["hashes"]],
        base64.b64decode(proof["rootHash"]),
    )
    cp = open_checkpoint(
        proof["checkpoint"]["envelope"], [note_verifier(rekor.host, rekor.v2_key.public_key())]
    )
    assert cp.origin == ident.origin == rekor.host
    return index


def test_v2_create_duplicate_read_path(rekor: Server) -> None:
    request = h.hashedrekord_v2()[0]
    r = rekor.client.post("/api/v2/log/entries", json=request)
    assert r.status_code == 201, r.text
    value = r.json()
    assert value["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
    index = _check_v2_entry(rekor, value)

    dup = rekor.client.post("/api/v2/log/entries", json=request)
    assert dup.status_code == 409
    assert dup.headers["x-log-index"] == str(index)
    assert dup.json()["code"] == 409

    cp = rekor.client.get("/api/v2/checkpoint")
    assert cp.headers["content-type"].startswith("text/plain")
    size = open_checkpoint(cp.text, [note_verifier(rekor.host, rekor.v2_key.public_key())]).size
    assert size > index
    width = size % 256 or 256
    path = tile_path(-1, 0, width) if size < 256 else None
    assert path is not None
    bundle = rekor.client.get(f"/api/v2/{path}")
    assert bundle.status_code == 200
    assert base64.b64decode(value["canonicalizedBody"]) in bundle.content
    level0 = rekor.client.get(f"/api/v2/{tile_path(0, 0, width)}")
    assert len(level0.content) == 32 * width
    assert rekor.client.get("/api/v2/tile/0/999").status_code == 404

    got = rekor.client.get(f"/api/v2/log/entries/{index}")
    assert got.status_code == 200
    assert got.json()["canonicalizedBody"] == value["canonicalizedBody"]
    _check_v2_entry(rekor, got.json())
    assert rekor.client.get("/api/v2/log/entries/99999999").status_code == 404
    assert rekor.client.get("/api/v2/log/entries/x").status_code == 400


def test_v2_dsse_and_search(rekor: Server) -> None:
    subject = os.urandom(32).hex()
    request, _, cert, _ = h.dsse_v2(h.statement(subject))
    r = rekor.client.post("/api/v2/log/entries", json=request)
    assert r.status_code == 201, r.text
    assert r.json()["kindVersion"] == {"kind": "dsse", "version": "0.0.2"}
    index = _check_v2_entry(rekor, r.json())
    found = rekor.client.post("/api/v2/index/retrieve", json={"hash": f"sha256:{subject}"})
    assert found.json() == [str(index)]
    found = rekor.client.post(
        "/api/v2/index/retrieve",
        json={"publicKey": {"format": "x509", "content": h.pem(cert).decode()}},
    )
    assert found.json() == [str(index)]
    # v1 search does not see v2 entries: each log has its own index.
    assert (
        rekor.client.post("/api/v1/index/retrieve", json={"hash": f"sha256:{subject}"}).json() == []
    )


@pytest.mark.parametrize(
    ("body", "ctype", "status", "match"),
    [
        (b"{}", "application/json", 400, "exactly one of"),
        (
            json.dumps({"hashedRekordRequestV002": {"digest": "@@"}}).encode(),
            "application/json",
            400,
            "hashedRekordRequestV002.digest: not valid base64",
        ),
        (b"{}", "text/plain", 415, "application/json"),
        (b"{" + b" " * (4 * 1024 * 1024) + b"}", "application/json", 413, "limit of 4194304 bytes"),
    ],
)
def test_v2_refusals(rekor: Server, body: bytes, ctype: str, status: int, match: str) -> None:
    r = rekor.client.post("/api/v2/log/entries", content=body, headers={"content-type": ctype})
    assert r.status_code == status
    assert match in r.json()["message"]


def test_v2_wrong_digest_length_is_400(rekor: Server) -> None:
    request = h.hashedrekord_v2()[0]
    request["hashedRekordRequestV002"]["digest"] = h.b64(b"\1" * 48)
    r = rekor.client.post("/api/v2/log/entries", json=request)
    assert r.status_code == 400
    assert "needs a 32-byte sha256 digest" in r.json()["message"]


# -- whole service ----------------------------------------------------------------------------


def test_openapi_documents_every_route(rekor: Server) -> None:
    doc = rekor.client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    documented = {
        p.replace("{entryUUID}", "{entry_id}").replace("{logIndex}", "{index}")
        for p in doc["paths"]
    }
    for route in rekor.service.routes:
        path = route.path.rstrip("/").replace("{path:path}", "{path}")  # type: ignore[attr-defined]
        if path != "/api/openapi.json":
            assert path in documented, path


def test_overloaded_engine_answers_503(tmp_path) -> None:
    engine, service, _, keys = start(tmp_path, batch_interval=0.5, max_pending=1)

    async def burst(base: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            return await asyncio.gather(
                *[client.post("/api/v2/log/entries", json=h.hashedrekord_v2()[0]) for _ in range(6)]
            )

    with serve_app(service.app(engine), port=keys["port"]) as base:
        responses = asyncio.run(burst(base))
    statuses = sorted(r.status_code for r in responses)
    assert 201 in statuses and 503 in statuses, statuses
    refused = next(r for r in responses if r.status_code == 503)
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["code"] == 503


def test_small_limits_name_the_setting(tmp_path) -> None:
    engine, service, _, keys = start(tmp_path, limits=Limits(attestation=1000))
    with serve_app(service.app(engine), port=keys["port"]) as base:
        r = httpx.post(f"{base}/api/v1/log/entries", json=h.dsse_v1(b"x" * 2000)[0])
    assert r.status_code == 413
    assert "over the limit of 1000 bytes (attestation)" in r.json()["message"]


def test_unsupported_key_and_hash_are_400(rekor: Server) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    request = h.hashedrekord_v1()[0]
    request["spec"]["data"]["hash"]["algorithm"] = "md5"
    r = _v1_post(rekor, request)
    assert r.status_code == 400
    assert r.json()["message"].startswith("spec.data.hash.algorithm: unsupported hash 'md5'")

    request = h.hashedrekord_v1()[0]
    pub = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    request["spec"]["signature"]["publicKey"]["content"] = h.b64(pub)
    r = _v1_post(rekor, request)
    assert r.status_code == 400 and "Ed25519 keys cannot sign a prehashed digest" in r.text

    request = h.hashedrekord_v2()[0]
    request["hashedRekordRequestV002"]["signature"]["verifier"]["keyDetails"] = "PKIX_ED25519"
    r = rekor.client.post("/api/v2/log/entries", json=request)
    assert r.status_code == 400 and "keyDetails: unsupported algorithm 'PKIX_ED25519'" in r.text


@pytest.mark.parametrize(
    ("make_key", "match"),
    [
        (lambda: ec.generate_private_key(ec.SECP256K1()), "curve secp256k1 is not accepted"),
        (lambda: rsa.generate_private_key(65537, 1024), "RSA key of 1024 bits is too weak"),  # noqa: S505
    ],
    ids=["secp256k1", "rsa-1024"],
)
def test_v1_refuses_keys_the_ca_and_v2_refuse(rekor: Server, make_key, match: str) -> None:
    """A signature that verifies, with a key v2 and the CA would not take: 400, not logged."""
    cert, key = h.leaf(make_key())
    request = h.hashedrekord_v1(cert=cert, key=key)[0]
    r = _v1_post(rekor, request)
    assert r.status_code == 400 and match in r.json()["message"], r.text


def test_v1_upper_case_digest_is_the_same_entry(rekor: Server) -> None:
    """Hex is case-blind: an upper-cased digest is a duplicate (409), not a second entry."""
    request = h.hashedrekord_v1()[0]
    first = _v1_post(rekor, request)
    assert first.status_code == 201, first.text
    entry_id, entry = _only(first.json())
    assert json.loads(base64.b64decode(entry["body"]))["spec"]["data"]["hash"]["value"].islower()
    value = request["spec"]["data"]["hash"]["value"]
    request["spec"]["data"]["hash"]["value"] = value.upper()
    again = _v1_post(rekor, request)
    assert again.status_code == 409, again.text
    assert again.headers["Location"] == f"/api/v1/log/entries/{entry_id}"
