"""Property-based fuzzing of a served instance (hypothesis).

Every POST endpoint gets arbitrary JSON documents (keys biased to its real field names),
mutations of a real request (a value replaced by arbitrary JSON, a key deleted or added)
and arbitrary bytes; DSSE and in-toto entries already in the logs are mutated too. The
binary inputs get byte-level changes of real material: DER TimeStampReqs, the CA-issued
CT chain, CSRs. The CA also gets tokens really signed by the instance's dev issuer with
arbitrary claims, and every GET its query parameters and read-path segments.

The properties: never a 5xx, never an error in the server's log, a JSON
``{"code","message"}`` body on every 4xx, and no log grows unless the input was valid
after all (only possible where stated; such a test moves the baseline). Write endpoints'
templates are already-logged entries, so a mutation that changes nothing is a 409
duplicate, and the CA template carries no valid token. Runs are derandomised so CI sees
the same examples every time.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sceau.errors import InputError
from tests.robustness.conftest import Instance
from tests.robustness.test_bad_input import CERT, SELF_SIGNED_DER, _csr

pytestmark = [pytest.mark.server, pytest.mark.slow]

SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Endpoint:
    path: str
    fields: tuple[str, ...]
    template: Callable[[Instance], dict[str, Any]]
    writes: bool  # appends to a log on success: must answer 4xx to everything here


def _chain_der(inst: Instance) -> list[str]:
    return [
        b64(x509.load_pem_x509_certificate(p.encode()).public_bytes(serialization.Encoding.DER))
        for p in inst.chain_pem
    ]


def _search_template(inst: Instance) -> dict[str, Any]:
    return {
        "hash": "sha256:" + "ab" * 32,
        "email": "a@example.com",
        "subject": "x",
        "publicKey": {
            "format": "x509",
            "content": b64(CERT.public_bytes(serialization.Encoding.PEM)),
        },
        "operator": "and",
    }


CSR = _csr(ec.generate_private_key(ec.SECP256R1()))

ENDPOINTS: dict[str, Endpoint] = {
    "v1-create": Endpoint(
        "/api/v1/log/entries",
        (
            "kind",
            "apiVersion",
            "spec",
            "signature",
            "data",
            "hash",
            "content",
            "publicKey",
            "proposedContent",
            "envelope",
            "verifiers",
            "algorithm",
            "value",
        ),
        lambda inst: copy.deepcopy(inst.v1_request),
        writes=True,
    ),
    "v1-retrieve": Endpoint(
        "/api/v1/log/entries/retrieve",
        ("entryUUIDs", "logIndexes", "entries"),
        lambda inst: {
            "entryUUIDs": ["ab" * 32],
            "logIndexes": [0, 1],
            "entries": [copy.deepcopy(inst.v1_request)],
        },
        writes=False,
    ),
    "v1-search": Endpoint(
        "/api/v1/index/retrieve",
        ("hash", "email", "subject", "publicKey", "operator", "format", "content", "url"),
        _search_template,
        writes=False,
    ),
    "v2-create": Endpoint(
        "/api/v2/log/entries",
        (
            "hashedRekordRequestV002",
            "dsseRequestV002",
            "digest",
            "signature",
            "content",
            "verifier",
            "x509Certificate",
            "publicKey",
            "rawBytes",
            "keyDetails",
            "envelope",
            "verifiers",
            "payload",
            "payloadType",
            "signatures",
            "sig",
        ),
        lambda inst: copy.deepcopy(inst.v2_request),
        writes=True,
    ),
    "v2-search": Endpoint(
        "/api/v2/index/retrieve",
        ("hash", "email", "subject", "publicKey", "operator"),
        _search_template,
        writes=False,
    ),
    "ca-signingCert": Endpoint(
        "/api/v2/signingCert",
        (
            "certificateSigningRequest",
            "publicKeyRequest",
            "publicKey",
            "content",
            "proofOfPossession",
            "credentials",
            "oidcIdentityToken",
            "algorithm",
        ),
        lambda inst: {
            "certificateSigningRequest": CSR,
            "credentials": {"oidcIdentityToken": "eyJhbGciOiJub25lIn0.e30."},
            "publicKeyRequest": {"publicKey": {"content": "x"}, "proofOfPossession": "AA=="},
        },
        writes=True,
    ),
    "ct-add-chain": Endpoint(
        "/ct/v1/add-chain",
        ("chain",),
        lambda inst: {"chain": [b64(SELF_SIGNED_DER), b64(SELF_SIGNED_DER)]},
        writes=True,
    ),
    "ct-add-pre-chain": Endpoint(
        "/ct/v1/add-pre-chain", ("chain",), lambda inst: {"chain": _chain_der(inst)}, writes=True
    ),
    "tsa-json": Endpoint(
        "/api/v1/timestamp",
        ("artifactHash", "hashAlgorithm", "certificates", "nonce", "tsaPolicyOID"),
        lambda inst: {
            "artifactHash": b64(b"\x01" * 32),
            "hashAlgorithm": "sha256",
            "nonce": 5,
            "certificates": True,
        },
        writes=False,
    ),
    "oidc-token": Endpoint(
        "/oidc/token",
        ("email", "github_workflow", "claims"),
        lambda inst: {
            "github_workflow": "o/r/.github/workflows/f.yml@refs/heads/main",
            "claims": {"a": "b"},
        },
        writes=False,
    ),
}

_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=40)
    | st.floats(allow_nan=False, allow_infinity=False)
)


def json_values(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        _leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=12,
    )


def documents(fields: tuple[str, ...]) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(fields) | st.text(max_size=10)
    values = json_values(keys)
    return st.dictionaries(keys, values, max_size=5) | values


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutations(draw: st.DrawFn, template: dict[str, Any], fields: tuple[str, ...]) -> Any:
    doc = copy.deepcopy(template)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "delete", "add"]))
        keys = st.sampled_from(fields) | st.text(max_size=10)
        new = draw(json_values(keys))
        if not path:
            doc = new if op == "replace" else doc
            continue
        *parent_path, last = path
        parent = doc
        for p in parent_path:
            parent = parent[p]
        if op == "replace":
            parent[last] = new
        elif op == "delete":
            del parent[last]
        elif isinstance(parent, dict):
            parent[draw(keys)] = new
        else:
            parent.insert(last, new)
    return doc


def check(inst: Instance, ep: Endpoint, status: int, body: bytes) -> None:
    assert status < 500, f"{status}: {body[:300]!r}"
    assert inst.server_errors() == []
    if ep.writes:
        assert 400 <= status < 500, f"{status}: {body[:300]!r}"
    if status >= 400:
        error = json.loads(body)
        assert set(error) - {"request_id"} == {"code", "message"} and error["message"], error


def post(
    inst: Instance, ep: Endpoint, content: bytes, ctype: str = "application/json"
) -> tuple[int, bytes]:
    r = inst.client.post(ep.path, content=content, headers={"content-type": ctype})
    return r.status_code, r.content


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc).encode()


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_random_json_documents(name: str, instance: Instance) -> None:
    ep = ENDPOINTS[name]
    instance.errors.records.clear()

    @settings(SETTINGS, max_examples=200)
    @given(documents(ep.fields))
    def run(doc: Any) -> None:
        check(instance, ep, *post(instance, ep, _dumps(doc)))

    run()
    instance.check_unchanged()


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_mutated_real_requests(name: str, instance: Instance) -> None:
    ep = ENDPOINTS[name]
    template = ep.template(instance)
    instance.errors.records.clear()

    @settings(SETTINGS, max_examples=60)
    @given(mutations(template, ep.fields))
    def run(doc: Any) -> None:
        check(instance, ep, *post(instance, ep, _dumps(doc)))

    run()
    instance.check_unchanged()


_ENTRY_FIELDS = (
    ENDPOINTS["v1-create"].fields + ENDPOINTS["v2-create"].fields + ("payloadHash", "keyid")
)


@pytest.mark.parametrize("name", ["v1-dsse", "v1-intoto", "v2-dsse"])
def test_mutated_logged_envelopes(name: str, instance: Instance) -> None:
    """DSSE and in-toto entries already in the logs, mutated: a 409 or a 4xx, never new."""
    path, request = instance.seeded[name]
    ep = Endpoint(path, _ENTRY_FIELDS, lambda inst: request, writes=True)
    instance.errors.records.clear()

    @settings(SETTINGS, max_examples=60)
    @given(mutations(request, _ENTRY_FIELDS))
    def run(doc: Any) -> None:
        check(instance, ep, *post(instance, ep, _dumps(doc)))

    run()
    instance.check_unchanged()


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_random_bytes(name: str, instance: Instance) -> None:
    ep = ENDPOINTS[name]
    instance.errors.records.clear()

    @settings(SETTINGS, max_examples=40)
    @given(st.binary(max_size=512))
    def run(data: bytes) -> None:
        check(instance, ep, *post(instance, ep, data))

    run()
    instance.check_unchanged()


_TSA = Endpoint("/api/v1/timestamp", (), lambda inst: {}, writes=False)
_VALID_TSQ = tsp.TimeStampReq(
    {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": {"algorithm": "sha256"},
            "hashed_message": b"\x02" * 32,
        },
        "nonce": 7,
        "cert_req": True,
    }
).dump()


@st.composite
def flipped(draw: st.DrawFn, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "delete", "insert"]))
        i = draw(st.integers(0, len(out) - 1))
        if op == "set":
            out[i] = draw(st.integers(0, 255))
        elif op == "delete" and len(out) > 1:
            del out[i]
        else:
            out.insert(i, draw(st.integers(0, 255)))
    return bytes(out)


def test_timestamp_query_der_mutations(instance: Instance) -> None:
    """A real DER TimeStampReq with bytes changed, deleted or inserted: a token or a 400."""
    instance.errors.records.clear()

    @settings(SETTINGS, max_examples=300)
    @given(flipped(_VALID_TSQ) | st.binary(max_size=256))
    def run(data: bytes) -> None:
        status, body = post(instance, _TSA, data, "application/timestamp-query")
        check(instance, _TSA, status, body)

    run()
    instance.check_unchanged()


_CLAIM_NAMES = (
    "sub",
    "email",
    "email_verified",
    "aud",
    "exp",
    "nbf",
    "iat",
    "iss",
    "repository",
    "repository_owner",
    "job_workflow_ref",
    "workflow_ref",
    "ref",
    "sha",
    "event_name",
    "runner_environment",
    "repository_visibility",
    "run_id",
    "run_attempt",
    "kubernetes.io",
)


@pytest.mark.parametrize("shape", ["email", "github"])
def test_tokens_with_arbitrary_claims(shape: str, instance: Instance) -> None:
    """Tokens really signed by the instance's dev issuer, with claims overridden by
    arbitrary JSON: the CA issues (the CT log grows by one) or refuses with a 4xx."""
    csr = {"certificateSigningRequest": _csr(ec.generate_private_key(ec.SECP256R1()))}
    ca = ENDPOINTS["ca-signingCert"]
    keys = st.sampled_from(_CLAIM_NAMES) | st.text(max_size=10)
    instance.errors.records.clear()

    @settings(SETTINGS, max_examples=60)
    @given(st.dictionaries(keys, json_values(keys), max_size=4))
    def run(claims: dict[str, Any]) -> None:
        try:
            if shape == "email":
                token = instance.dev.mint(
                    {"email": "a@example.com", "email_verified": True, **claims}
                )
            else:
                token = instance.dev.mint_github_workflow(
                    "octo/app/.github/workflows/release.yml@refs/heads/main", claims
                )
        except InputError:  # claims PyJWT will not encode (e.g. a non-string "iss")
            return
        status, body = post(
            instance, ca, _dumps({**csr, "credentials": {"oidcIdentityToken": token}})
        )
        assert status < 500, body[:300]
        assert instance.server_errors() == []
        if status == 200:  # a real issuance: its precertificate is the new CT baseline
            instance.sizes["ct"] += 1
        else:
            assert status in (400, 401), body[:300]
            error = json.loads(body)
            assert set(error) - {"request_id"} == {"code", "message"} and error["message"], error
        assert instance.log_sizes() == instance.sizes

    run()
    instance.roots = instance.verify_logs()
    instance.check_unchanged()


def _accepts_growth(instance: Instance, status: int, body: bytes) -> None:
    """For inputs that may be valid after all: a 200 may grow the CT log (the new size is
    the baseline); anything else must be a JSON 4xx that wrote nothing."""
    assert status < 500, body[:300]
    assert instance.server_errors() == []
    if status == 200:
        instance.sizes = instance.log_sizes()
    else:
        assert 400 <= status < 500, body[:300]
        error = json.loads(body)
        assert set(error) - {"request_id"} == {"code", "message"} and error["message"], error
        assert instance.log_sizes() == instance.sizes


@pytest.mark.parametrize("endpoint", ["add-chain", "add-pre-chain"])
def test_ct_chains_with_bytes_changed(endpoint: str, instance: Instance) -> None:
    """The CA-issued chain with bytes of one certificate changed, deleted or inserted."""
    chain = [base64.b64decode(c) for c in _chain_der(instance)]
    ep = Endpoint(f"/ct/v1/{endpoint}", (), lambda inst: {}, writes=False)
    instance.errors.records.clear()

    @settings(SETTINGS, max_examples=100)
    @given(
        st.integers(0, len(chain) - 1).flatmap(lambda i: st.tuples(st.just(i), flipped(chain[i])))
    )
    def run(change: tuple[int, bytes]) -> None:
        i, der = change
        certs = [*chain[:i], der, *chain[i + 1 :]]
        status, body = post(instance, ep, _dumps({"chain": [b64(c) for c in certs]}))
        _accepts_growth(instance, status, body)

    run()
    instance.roots = instance.verify_logs()
    instance.check_unchanged()


def test_csrs_with_bytes_changed(instance: Instance) -> None:
    """A real CSR with bytes changed, sent with a valid token: a certificate or a 4xx."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(key, hashes.SHA256())
    )
    der = csr.public_bytes(serialization.Encoding.DER)
    ca = ENDPOINTS["ca-signingCert"]
    instance.errors.records.clear()

    @settings(SETTINGS, max_examples=100)
    @given(flipped(der))
    def run(data: bytes) -> None:
        r = instance.client.post(
            ca.path,
            json={"certificateSigningRequest": b64(data)},
            headers={"authorization": f"Bearer {instance.token}"},
        )
        _accepts_growth(instance, r.status_code, r.content)

    run()
    instance.roots = instance.verify_logs()
    instance.check_unchanged()


_QUERY_ENDPOINTS = {
    "/api/v1/log/entries": ("logIndex",),
    "/api/v1/log/proof": ("firstSize", "lastSize", "treeID"),
    "/api/v1/log/publicKey": ("treeID",),
    "/ct/v1/get-sth-consistency": ("first", "second"),
    "/ct/v1/get-proof-by-hash": ("hash", "tree_size"),
    "/ct/v1/get-entries": ("start", "end"),
}
_numbers = st.integers(-(2**70), 2**70).map(str)
_param_values = (
    _numbers
    | st.text(max_size=30)
    | st.sampled_from(["", " 1", "1 ", "+1", "0x1", "1_000", "١", "NaN"])
)


@pytest.mark.parametrize("path", list(_QUERY_ENDPOINTS))
def test_query_parameters(path: str, instance: Instance) -> None:
    """Arbitrary values (and names) in the query of every GET that takes one."""
    names = st.sampled_from(_QUERY_ENDPOINTS[path]) | st.text(min_size=1, max_size=8)
    instance.errors.records.clear()

    @settings(SETTINGS, max_examples=100)
    @given(st.dictionaries(names, _param_values, max_size=3))
    def run(params: dict[str, str]) -> None:
        r = instance.client.get(path, params=params)
        assert r.status_code < 500, r.text
        assert instance.server_errors() == []
        if r.status_code >= 400:
            error = r.json()
            assert set(error) - {"request_id"} == {"code", "message"} and error["message"], error

    run()
    instance.check_unchanged()


_segments = st.text(max_size=12) | st.sampled_from(
    [
        "..",
        ".",
        "x000",
        "x001",
        "000",
        "001",
        "entries",
        "000.p",
        "p",
        "255",
        "256",
        "0",
        "-1",
        "root.json",
        "1.root.json",
        "targets",
        "%2e%2e",
        "%2f",
        "\\",
        "",
    ]
)


@pytest.mark.parametrize(
    "prefix",
    ["/api/v2/tile/", "/tuf/", "/tuf/targets/", "/api/v1/log/entries/", "/api/v2/log/entries/"],
)
def test_read_paths(prefix: str, instance: Instance) -> None:
    """Arbitrary path segments under the tile, TUF and entry read paths: 200 or 4xx."""
    instance.errors.records.clear()

    @settings(SETTINGS, max_examples=100)
    @given(st.lists(_segments, min_size=1, max_size=5))
    def run(segments: list[str]) -> None:
        path = prefix + "/".join(quote(s, safe="%.") for s in segments)
        r = instance.client.get(path)
        assert r.status_code < 500, (path, r.text)
        assert instance.server_errors() == []

    run()
    instance.check_unchanged()
