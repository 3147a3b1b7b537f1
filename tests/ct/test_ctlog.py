"""The RFC 6962 CT log over HTTP: SCTs, STHs, proofs, entries, refusals, and the CA's
two ways of reaching it."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sceau import merkle
from sceau.keys import Verifier
from sceau.services.ca.authority import make_ca_chain
from sceau.services.ca.ctclient import HTTPCTClient
from sceau.services.ca.issuer import CertificateAuthority
from sceau.services.ca.profile import LeafTemplate, final_certificate, precertificate
from sceau.services.ca.sct import verify_embedded_sct
from sceau.services.ct import der, rfc6962
from sceau.services.ct.rfc6962 import SCT, EntryType
from tests.ca.helpers import principals, sigstore_sct_check, spki, webpki_verify
from tests.ct.conftest import CTServer

pytestmark = pytest.mark.server

DER = serialization.Encoding.DER
JSON = {"content-type": "application/json"}
PRINCIPALS = principals()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def new_precert(chain, shape: str = "email"):
    key = ec.generate_private_key(ec.SECP256R1())
    template = LeafTemplate.new(PRINCIPALS[shape], key.public_key())
    return template, precertificate(template, chain)


def submit(server: CTServer, path: str, chain_der: list[bytes]) -> httpx.Response:
    return httpx.post(
        f"{server.url}/ct/v1/{path}", json={"chain": [b64(c) for c in chain_der]}, timeout=10
    )


def ca_chain_der(server: CTServer) -> list[bytes]:
    return [c.public_bytes(DER) for c in server.chain.chain]


def sct_of(resp: httpx.Response) -> SCT:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"sct_version", "id", "timestamp", "extensions", "signature"}
    return SCT.from_json(body)


def test_add_pre_chain_sct_verifies_and_embeds(ct_server: CTServer) -> None:
    template, precert = new_precert(ct_server.chain)
    sct = sct_of(
        submit(ct_server, "add-pre-chain", [precert.public_bytes(DER), *ca_chain_der(ct_server)])
    )
    assert sct.log_id == rfc6962.key_hash(spki(ct_server.key.public_key()))
    assert sct.signature.hash_alg == rfc6962.HASH_SHA256
    assert sct.signature.sig_alg == rfc6962.SIG_ECDSA
    # independent rebuild of the §3.2 input
    entry = rfc6962.signed_entry(
        EntryType.PRECERT,
        issuer_key_hash=rfc6962.key_hash(spki(ct_server.chain.intermediate.public_key())),
        tbs_certificate=der.precert_tbs(precert.public_bytes(DER)),
    )
    Verifier(ct_server.key.public_key()).verify(
        sct.signature.signature,
        rfc6962.sct_signature_input(sct.timestamp_ms, EntryType.PRECERT, entry),
    )
    cert = final_certificate(template, ct_server.chain, [sct], precert)
    verify_embedded_sct(cert, ct_server.chain.intermediate, [ct_server.key.public_key()])
    sigstore_sct_check(cert, ct_server.chain.chain, ct_server.key.public_key())


def test_add_chain_sct_verifies(ct_server: CTServer) -> None:
    template, precert = new_precert(ct_server.chain, "github")
    pre_sct = sct_of(
        submit(ct_server, "add-pre-chain", [precert.public_bytes(DER), *ca_chain_der(ct_server)])
    )
    cert = final_certificate(template, ct_server.chain, [pre_sct], precert)
    sct = sct_of(submit(ct_server, "add-chain", [cert.public_bytes(DER), *ca_chain_der(ct_server)]))
    entry = rfc6962.signed_entry(EntryType.X509, cert_der=cert.public_bytes(DER))
    Verifier(ct_server.key.public_key()).verify(
        sct.signature.signature,
        rfc6962.sct_signature_input(sct.timestamp_ms, EntryType.X509, entry),
    )


def test_same_certificate_gets_the_same_sct(ct_server: CTServer) -> None:
    _, precert = new_precert(ct_server.chain)
    chain = [precert.public_bytes(DER), *ca_chain_der(ct_server)]
    first = submit(ct_server, "add-pre-chain", chain).json()
    size = httpx.get(ct_server.url + "/ct/v1/get-sth").json()["tree_size"]
    assert submit(ct_server, "add-pre-chain", chain).json() == first
    assert httpx.get(ct_server.url + "/ct/v1/get-sth").json()["tree_size"] == size

    _, twin = new_precert(ct_server.chain)
    twin_chain = [twin.public_bytes(DER), *ca_chain_der(ct_server)]

    async def concurrently() -> list[dict]:
        async with httpx.AsyncClient(timeout=10) as client:
            url = ct_server.url + "/ct/v1/add-pre-chain"
            body = {"chain": [b64(c) for c in twin_chain]}
            resps = await asyncio.gather(*(client.post(url, json=body) for _ in range(5)))
            return [r.json() for r in resps]

    answers = asyncio.run(concurrently())
    assert all(a == answers[0] for a in answers)
    assert httpx.get(ct_server.url + "/ct/v1/get-sth").json()["tree_size"] == size + 1


def get_sth(server: CTServer) -> dict:
    sth = httpx.get(server.url + "/ct/v1/get-sth").json()
    assert set(sth) == {"tree_size", "timestamp", "sha256_root_hash", "tree_head_signature"}
    signed = rfc6962.DigitallySigned.decode(base64.b64decode(sth["tree_head_signature"]))
    assert (signed.hash_alg, signed.sig_alg) == (4, 3)
    root = base64.b64decode(sth["sha256_root_hash"])
    Verifier(server.key.public_key()).verify(
        signed.signature, rfc6962.sth_signature_input(sth["timestamp"], sth["tree_size"], root)
    )
    return sth


def all_entries(server: CTServer, size: int) -> list[dict]:
    out: list[dict] = []
    while len(out) < size:
        resp = httpx.get(
            server.url + "/ct/v1/get-entries", params={"start": len(out), "end": size - 1}
        )
        assert resp.status_code == 200, resp.text
        batch = resp.json()["entries"]
        assert batch
        out.extend(batch)
    return out


def test_sth_proofs_and_entries_round_trip(ct_server: CTServer) -> None:
    for _ in range(3):
        _, precert = new_precert(ct_server.chain)
        submit(ct_server, "add-pre-chain", [precert.public_bytes(DER), *ca_chain_der(ct_server)])
    old = get_sth(ct_server)
    submitted = []
    for shape in ("uri", "kubernetes", "username"):
        _, precert = new_precert(ct_server.chain, shape)
        chain = [precert.public_bytes(DER), ca_chain_der(ct_server)[0]]  # root left out
        sct = sct_of(submit(ct_server, "add-pre-chain", chain))
        submitted.append((precert.public_bytes(DER), sct))
    sth = get_sth(ct_server)
    size, root = sth["tree_size"], base64.b64decode(sth["sha256_root_hash"])
    assert size >= old["tree_size"] + 3

    entries = all_entries(ct_server, size)
    leaves = [base64.b64decode(e["leaf_input"]) for e in entries]
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    assert merkle.tree_root(hashes) == root

    by_precert = {}
    for e, leaf in zip(entries, leaves, strict=True):
        parsed = rfc6962.parse_merkle_tree_leaf(leaf)
        pre, chain = rfc6962.parse_extra_data(parsed.entry_type, base64.b64decode(e["extra_data"]))
        assert chain[-1] == ct_server.chain.root.public_bytes(DER)  # the log appended the root
        if parsed.entry_type is EntryType.PRECERT:
            assert pre is not None
            assert parsed.signed_entry[32:] == rfc6962.u24(der.precert_tbs(pre))
            by_precert[pre] = parsed
    for precert_der, sct in submitted:
        assert by_precert[precert_der].timestamp_ms == sct.timestamp_ms

    for index in (0, size // 2, size - 1):
        resp = httpx.get(
            ct_server.url + "/ct/v1/get-proof-by-hash",
            params={"hash": b64(hashes[index]), "tree_size": size},
        ).json()
        assert resp["leaf_index"] == index
        proof = [base64.b64decode(h) for h in resp["audit_path"]]
        merkle.verify_inclusion(index, size, hashes[index], proof, root)

    resp = httpx.get(
        ct_server.url + "/ct/v1/get-sth-consistency",
        params={"first": old["tree_size"], "second": size},
    ).json()
    proof = [base64.b64decode(h) for h in resp["consistency"]]
    merkle.verify_consistency(
        old["tree_size"], size, proof, base64.b64decode(old["sha256_root_hash"]), root
    )


def test_get_roots(ct_server: CTServer) -> None:
    roots = httpx.get(ct_server.url + "/ct/v1/get-roots").json()["certificates"]
    assert [base64.b64decode(r) for r in roots] == [ct_server.chain.root.public_bytes(DER)]


def error(resp: httpx.Response, status: int) -> str:
    assert resp.status_code == status, resp.text
    assert set(resp.json()) - {"request_id"} == {"code", "message"}
    return resp.json()["message"]


def test_chains_that_do_not_reach_an_accepted_root_are_400(ct_server: CTServer) -> None:
    foreign, _ = make_ca_chain()
    _, precert = new_precert(foreign)
    foreign_der = [c.public_bytes(DER) for c in foreign.chain]
    msg = error(submit(ct_server, "add-pre-chain", [precert.public_bytes(DER), *foreign_der]), 400)
    assert "root" in msg
    # our root at the end, but the link precert → issuer is broken
    ours = ca_chain_der(ct_server)
    error(submit(ct_server, "add-pre-chain", [precert.public_bytes(DER), *ours]), 400)
    # skipping the intermediate
    _, mine = new_precert(ct_server.chain)
    error(submit(ct_server, "add-pre-chain", [mine.public_bytes(DER), ours[1]]), 400)


def test_wrong_entry_kinds_and_garbage_are_400(ct_server: CTServer) -> None:
    _, precert = new_precert(ct_server.chain)
    ours = ca_chain_der(ct_server)
    assert "precertificate" in error(
        submit(ct_server, "add-chain", [precert.public_bytes(DER), *ours]), 400
    )
    error(submit(ct_server, "add-pre-chain", ours), 400)  # the intermediate has no poison
    error(submit(ct_server, "add-pre-chain", [b"not a certificate", *ours]), 400)
    url = ct_server.url + "/ct/v1/add-pre-chain"
    for body in (
        b"{",
        b"[]",
        json.dumps({"chain": []}).encode(),
        json.dumps({"chain": ["%%"]}).encode(),
        json.dumps({"chain": [1]}).encode(),
        json.dumps({"chain": "x"}).encode(),
    ):
        error(httpx.post(url, content=body, headers=JSON), 400)
    error(httpx.post(url, content=b"x" * 300_000, headers=JSON), 413)


def test_a_chain_of_only_a_root_is_400(ct_server: CTServer) -> None:
    """Logging the log's own root is no one's certificate: refused, not an entry."""
    root = ct_server.chain.root.public_bytes(DER)
    size = get_sth(ct_server)["tree_size"]
    assert "only an accepted root" in error(submit(ct_server, "add-chain", [root]), 400)
    assert get_sth(ct_server)["tree_size"] == size


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_writes_need_a_json_content_type(ct_server: CTServer, ctype: str | None) -> None:
    """What a cross-site form could send is refused before it is read: 415."""
    _, precert = new_precert(ct_server.chain)
    body = json.dumps(
        {"chain": [b64(precert.public_bytes(DER)), *map(b64, ca_chain_der(ct_server))]}
    )
    headers = {"content-type": ctype} if ctype else {}
    for path in ("add-pre-chain", "add-chain"):
        r = httpx.post(f"{ct_server.url}/ct/v1/{path}", content=body, headers=headers)
        assert "expected Content-Type application/json" in error(r, 415)


def test_read_parameters_are_checked(ct_server: CTServer) -> None:
    u = ct_server.url + "/ct/v1/"
    size = get_sth(ct_server)["tree_size"]
    error(httpx.get(u + "get-entries", params={"start": size, "end": size + 5}), 400)
    error(httpx.get(u + "get-entries", params={"start": 2, "end": 1}), 400)
    error(httpx.get(u + "get-entries", params={"start": "-1", "end": 1}), 400)
    error(httpx.get(u + "get-entries"), 400)
    error(httpx.get(u + "get-sth-consistency", params={"first": 1, "second": size + 1}), 400)
    error(httpx.get(u + "get-sth-consistency", params={"first": "x", "second": 1}), 400)
    error(
        httpx.get(u + "get-proof-by-hash", params={"hash": b64(b"\0" * 32), "tree_size": size}), 404
    )
    error(httpx.get(u + "get-proof-by-hash", params={"hash": "abc", "tree_size": size}), 400)
    assert httpx.get(u + "get-sth-consistency", params={"first": size, "second": size}).json() == {
        "consistency": []
    }


def test_get_entries_batches_are_capped(ct_server: CTServer) -> None:
    from sceau.services.ct.ctlog import MAX_GET_ENTRIES

    size = get_sth(ct_server)["tree_size"]
    resp = httpx.get(ct_server.url + "/ct/v1/get-entries", params={"start": 0, "end": 10**9}).json()
    assert len(resp["entries"]) == min(size, MAX_GET_ENTRIES)


def test_ca_issues_through_the_http_ct_client(ct_server: CTServer) -> None:
    asyncio.run(_issue_every_shape(ct_server))


async def _issue_every_shape(server: CTServer) -> None:
    http = HTTPCTClient(server.url)
    try:
        ca = CertificateAuthority(server.chain, http, ct_keys=[server.key.public_key()])
        for shape in sorted(PRINCIPALS):
            key = ec.generate_private_key(ec.SECP256R1())
            cert, inter, root = await ca.issue(PRINCIPALS[shape], key.public_key())
            sigstore_sct_check(cert, [inter, root], server.key.public_key())
            webpki_verify(cert, root, inter)
    finally:
        await http.aclose()


def test_http_client_maps_log_refusals_to_remote_errors(ct_server: CTServer) -> None:
    from sceau.errors import RemoteError

    foreign, _ = make_ca_chain()

    async def go() -> None:
        http = HTTPCTClient(ct_server.url)
        try:
            ca = CertificateAuthority(foreign, http)
            with pytest.raises(RemoteError):
                await ca.issue(
                    PRINCIPALS["email"], ec.generate_private_key(ec.SECP256R1()).public_key()
                )
        finally:
            await http.aclose()
        unreachable = HTTPCTClient("http://127.0.0.1:9")
        with pytest.raises(RemoteError):
            await CertificateAuthority(foreign, unreachable).issue(
                PRINCIPALS["email"], ec.generate_private_key(ec.SECP256R1()).public_key()
            )
        await unreachable.aclose()

    asyncio.run(go())
