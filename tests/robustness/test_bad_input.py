"""Bad input gets a clear error and loses nothing, on every endpoint of a served instance.

Each case sends one malformed request and asserts: a 4xx (the given one where it matters;
405 for wrong methods), a JSON ``{"code","message"}`` body with a non-empty message where
the service speaks JSON, never a 5xx, no error or traceback in the server's log, and no
log grew (``/healthz``). The last test verifies every log's signed head and recomputes
its root from the entries, and checks the roots are those before any bad input.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from sceau.errors import InputError
from sceau.services._http import error_response
from tests.rekor.helpers import (
    der,
    dsse_v1,
    dsse_v2,
    hashedrekord_v1,
    hashedrekord_v2,
    intoto_v2,
    leaf,
    pem,
)
from tests.robustness.conftest import Instance, raw_http

pytestmark = pytest.mark.server

KiB, MiB = 1024, 1024 * 1024


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- material --------------------------------------------------------------------------------

CERT, KEY = leaf()
ED_PUB_PEM = (
    ed25519.Ed25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
)
RSA_1024 = rsa.generate_private_key(65537, 1024)  # noqa: S505 — refused on purpose
BAD_PEM = b"-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n"
TWO_PEMS = pem(CERT) + pem(CERT)
GARBAGE_DER = bytes.fromhex("3082ffff0201") + b"\x00" * 32
_SELF_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not under the CA root")])
_SELF_KEY = ec.generate_private_key(ec.SECP256R1())
SELF_SIGNED_DER = (
    x509.CertificateBuilder()
    .subject_name(_SELF_NAME)
    .issuer_name(_SELF_NAME)
    .public_key(_SELF_KEY.public_key())
    .serial_number(1)
    .not_valid_before(CERT.not_valid_before_utc)
    .not_valid_after(CERT.not_valid_after_utc)
    .sign(_SELF_KEY, hashes.SHA256())
    .public_bytes(serialization.Encoding.DER)
)


def _csr(key: Any, *, tamper: bool = False) -> str:
    csr = (
        x509.CertificateSigningRequestBuilder().subject_name(_SELF_NAME).sign(key, hashes.SHA256())
    )
    data = bytearray(csr.public_bytes(serialization.Encoding.DER))
    if tamper:
        data[-1] ^= 0x01  # last byte of the signature
    return b64(bytes(data))


_EC_OID = bytes.fromhex("06072a8648ce3d0201")  # id-ecPublicKey
_UNKNOWN_OID = bytes.fromhex("06072a8648ce3d0209")  # same length, no such key algorithm


def _unknown_key_algorithm(der: bytes) -> bytes:
    assert der.count(_EC_OID) == 1
    return der.replace(_EC_OID, _UNKNOWN_OID)


UNKNOWN_ALG_SPKI = _unknown_key_algorithm(
    KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
)


def _hr_v1(mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    request = hashedrekord_v1(cert=CERT, key=KEY)[0]
    mutate(request["spec"])
    return request


def _hr_v2(mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    request = hashedrekord_v2(cert=CERT, key=KEY)[0]
    mutate(request["hashedRekordRequestV002"])
    return request


def _dsse_v1_envelope(envelope_text: str) -> dict[str, Any]:
    request = dsse_v1(cert=CERT, key=KEY)[0]
    request["spec"]["proposedContent"]["envelope"] = envelope_text
    return request


def _valid_envelope_with(**changes: Any) -> str:
    env = json.loads(dsse_v1(cert=CERT, key=KEY)[0]["spec"]["proposedContent"]["envelope"])
    env.update(changes)
    return json.dumps(env)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = spec
        for p in parents:
            node = node[p]
        node[last] = value

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = spec
        for p in parents:
            node = node[p]
        del node[last]

    return mutate


# -- cases -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    body: Any = None  # bytes; a JSON value; callable(inst) -> either; ("chunked", bytes)
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] | None = None
    expect: tuple[int, ...] = ()  # () = any 4xx
    json_error: bool = True
    auth: bool = False


def C(
    id: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    expect: int | tuple[int, ...] = (),
    **kw: Any,
) -> Case:
    return Case(
        id, method, path, body, expect=(expect,) if isinstance(expect, int) else expect, **kw
    )


# JSON POST endpoints: (id, path, body limit, accepts an empty object)
POST_JSON = [
    ("v1-create", "/api/v1/log/entries", 1 * MiB, False),
    ("v1-retrieve", "/api/v1/log/entries/retrieve", 1 * MiB, True),
    ("v1-search", "/api/v1/index/retrieve", 1 * MiB, False),
    ("v2-create", "/api/v2/log/entries", 4 * MiB, False),
    ("v2-search", "/api/v2/index/retrieve", 1 * MiB, False),
    ("ca-signingCert", "/api/v2/signingCert", 64 * KiB, False),
    ("ct-add-chain", "/ct/v1/add-chain", 256 * KiB, False),
    ("ct-add-pre-chain", "/ct/v1/add-pre-chain", 256 * KiB, False),
    ("tsa-json", "/api/v1/timestamp", 1 * KiB, False),
    ("oidc-token", "/oidc/token", 64 * KiB, False),
]

GENERIC_BODIES: list[tuple[str, bytes, str]] = [
    ("malformed-json", b'{"kind": ', "application/json"),
    ("trailing-garbage", b'{"a": 1} x', "application/json"),
    ("json-array", b"[]", "application/json"),
    ("json-array-of-object", b"[{}]", "application/json"),
    ("json-string", b'"hello"', "application/json"),
    ("json-null", b"null", "application/json"),
    ("json-number", b"42", "application/json"),
    ("json-true", b"true", "application/json"),
    ("empty-body", b"", "application/json"),
    ("whitespace-body", b" \r\n\t", "application/json"),
    ("invalid-utf8", b'{"a": "\xff\xfe\xfd"}', "application/json"),
    ("utf8-bom", b"\xef\xbb\xbf[1]", "application/json"),
    ("utf16-array", "[1]".encode("utf-16"), "application/json"),
    ("raw-control-char", b'{"a": "x\x00y"}', "application/json"),
    ("lone-surrogate-value", b'{"a": "\\ud800"}', "application/json"),
    ("lone-surrogate-key", b'{"\\udfff": 1}', "application/json"),
    ("nan", b'{"a": NaN}', "application/json"),
    ("infinity", b'{"a": -Infinity}', "application/json"),
    ("huge-integer", b'{"a": ' + b"9" * 5000 + b"}", "application/json"),
    ("huge-float", b'{"a": 1e999}', "application/json"),
    ("deep-nesting", b'{"a": ' + b"[" * 20000 + b"]" * 20000 + b"}", "application/json"),
    ("form-encoded", b"a=b&c=d", "application/x-www-form-urlencoded"),
    ("text-plain-array", b"[]", "text/plain"),
    ("xml", b'<?xml version="1.0"?><a/>', "application/xml"),
    (
        "multipart",
        b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--\r\n',
        "multipart/form-data; boundary=x",
    ),
    ("octet-stream-garbage", bytes(range(256)), "application/octet-stream"),
    ("timestamp-query-garbage", b"\x30\x03\x02\x01", "application/timestamp-query"),
]


def _generic() -> Iterator[Case]:
    for name, path, limit, accepts_empty in POST_JSON:
        for body_id, body, ctype in GENERIC_BODIES:
            yield C(f"{name}/{body_id}", "POST", path, body, headers={"content-type": ctype})
        if not accepts_empty:
            yield C(f"{name}/empty-object", "POST", path, b"{}")
        over = b'{"a": "' + b"x" * (limit + 1) + b'"}'
        yield C(f"{name}/oversize-content-length", "POST", path, over, expect=413)
        yield C(f"{name}/oversize-chunked", "POST", path, ("chunked", over), expect=413)
        for method in ("PUT", "DELETE", "PATCH"):
            yield C(f"{name}/method-{method}", method, path, b"{}", expect=405, json_error=False)
        yield C(f"{name}/method-GET", "GET", path, expect=(400, 405), json_error=False)


GET_ENDPOINTS = [
    ("ca-trustBundle", "/api/v2/trustBundle"),
    ("ca-configuration", "/api/v2/configuration"),
    ("v1-log", "/api/v1/log"),
    ("v1-publicKey", "/api/v1/log/publicKey"),
    ("v1-proof", "/api/v1/log/proof"),
    ("v1-entry-by-id", "/api/v1/log/entries/" + "0" * 64),
    ("v2-entry", "/api/v2/log/entries/1"),
    ("v2-checkpoint", "/api/v2/checkpoint"),
    ("v2-tile", "/api/v2/tile/0/000.p/2"),
    ("tsa-certchain", "/api/v1/timestamp/certchain"),
    ("ct-get-sth", "/ct/v1/get-sth"),
    ("ct-get-sth-consistency", "/ct/v1/get-sth-consistency"),
    ("ct-get-proof-by-hash", "/ct/v1/get-proof-by-hash"),
    ("ct-get-entries", "/ct/v1/get-entries"),
    ("ct-get-roots", "/ct/v1/get-roots"),
    ("tuf-root", "/tuf/root.json"),
    ("tuf-target", "/tuf/targets/" + "0" * 64 + ".trusted_root.json"),
    ("oidc-discovery", "/oidc/.well-known/openid-configuration"),
    ("oidc-github-discovery", "/oidc/github/.well-known/openid-configuration"),
    ("oidc-jwks", "/oidc/jwks"),
    ("healthz", "/healthz"),
    ("metrics", "/metrics"),
    ("openapi", "/api/openapi.json"),
]


def _wrong_methods() -> Iterator[Case]:
    for name, path in GET_ENDPOINTS:
        for method in ("POST", "PUT", "DELETE"):
            yield C(f"{name}/method-{method}", method, path, b"{}", expect=405, json_error=False)


HUGE = "9" * 25
Q = "/api/v1/log/entries"


def _v1() -> Iterator[Case]:
    P = "/api/v1/log/entries"
    yield from [
        C("v1-create/kind-missing", "POST", P, {"apiVersion": "0.0.1", "spec": {}}),
        C("v1-create/kind-number", "POST", P, {"kind": 42, "apiVersion": "0.0.1", "spec": {}}),
        C("v1-create/kind-unknown", "POST", P, {"kind": "rpm", "apiVersion": "0.0.1", "spec": {}}),
        C(
            "v1-create/kind-array",
            "POST",
            P,
            {"kind": ["hashedrekord"], "apiVersion": "0.0.1", "spec": {}},
        ),
        C(
            "v1-create/apiVersion-true",
            "POST",
            P,
            {"kind": "hashedrekord", "apiVersion": True, "spec": {}},
        ),
        C(
            "v1-create/apiVersion-unknown",
            "POST",
            P,
            _hr_v1(lambda s: None) | {"apiVersion": "9.9.9"},
        ),
        C(
            "v1-create/spec-array",
            "POST",
            P,
            {"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": []},
        ),
        C(
            "v1-create/spec-string",
            "POST",
            P,
            {"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": "{}"},
        ),
        C(
            "v1-create/spec-null",
            "POST",
            P,
            {"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": None},
        ),
        C("v1-create/hr-signature-missing", "POST", P, _hr_v1(_drop("signature"))),
        C("v1-create/hr-data-missing", "POST", P, _hr_v1(_drop("data"))),
        C(
            "v1-create/hr-sig-invalid-base64",
            "POST",
            P,
            _hr_v1(_set("signature.content", "!!not base64!!")),
        ),
        C("v1-create/hr-sig-unpadded-base64", "POST", P, _hr_v1(_set("signature.content", "AAA"))),
        C("v1-create/hr-sig-number", "POST", P, _hr_v1(_set("signature.content", 12345))),
        C("v1-create/hr-sig-huge-integer", "POST", P, _hr_v1(_set("signature.content", 10**300))),
        C(
            "v1-create/hr-sig-wrong",
            "POST",
            P,
            _hr_v1(_set("signature.content", b64(b"\x30\x06\x02\x01\x01\x02\x01\x01"))),
        ),
        C(
            "v1-create/hr-key-invalid-base64",
            "POST",
            P,
            _hr_v1(_set("signature.publicKey.content", "%%%")),
        ),
        C(
            "v1-create/hr-key-bad-pem",
            "POST",
            P,
            _hr_v1(_set("signature.publicKey.content", b64(BAD_PEM))),
        ),
        C(
            "v1-create/hr-key-two-pems",
            "POST",
            P,
            _hr_v1(_set("signature.publicKey.content", b64(TWO_PEMS))),
        ),
        C(
            "v1-create/hr-key-der-not-pem",
            "POST",
            P,
            _hr_v1(_set("signature.publicKey.content", b64(der(CERT)))),
        ),
        C(
            "v1-create/hr-key-garbage-der",
            "POST",
            P,
            _hr_v1(_set("signature.publicKey.content", b64(GARBAGE_DER))),
        ),
        C(
            "v1-create/hr-key-unicode-garbage",
            "POST",
            P,
            _hr_v1(_set("signature.publicKey.content", "é\u202e💩")),
        ),
        C(
            "v1-create/hr-key-ed25519",
            "POST",
            P,
            _hr_v1(_set("signature.publicKey.content", b64(ED_PUB_PEM))),
        ),
        C("v1-create/hr-hash-algorithm-md5", "POST", P, _hr_v1(_set("data.hash.algorithm", "md5"))),
        C("v1-create/hr-hash-value-not-hex", "POST", P, _hr_v1(_set("data.hash.value", "z" * 64))),
        C("v1-create/hr-hash-value-short", "POST", P, _hr_v1(_set("data.hash.value", "ab"))),
        C("v1-create/hr-hash-value-number", "POST", P, _hr_v1(_set("data.hash.value", 10**70))),
        C(
            "v1-create/hr-hash-value-newline",
            "POST",
            P,
            _hr_v1(_set("data.hash.value", "a" * 63 + "\n")),
        ),
        C(
            "v1-create/hr-data-url",
            "POST",
            P,
            _hr_v1(_set("data.url", "http://127.0.0.1:1/artifact")),
        ),
        C(
            "v1-create/hr-signature-over-other-digest",
            "POST",
            P,
            _hr_v1(_set("data.hash.value", "ab" * 32)),
        ),
        C("v1-create/duplicate", "POST", P, lambda inst: inst.v1_request, expect=409),
        C(
            "v1-create/duplicate-with-unknown-field",
            "POST",
            P,
            lambda inst: {**inst.v1_request, "unknownField": [1, 2]},
            expect=(400, 409),
        ),
        C("v1-create/dsse-envelope-not-json", "POST", P, _dsse_v1_envelope("{not json")),
        C("v1-create/dsse-envelope-array", "POST", P, _dsse_v1_envelope("[]")),
        C("v1-create/dsse-envelope-number", "POST", P, _dsse_v1_envelope("12")),
        C(
            "v1-create/dsse-payload-invalid-base64",
            "POST",
            P,
            _dsse_v1_envelope(_valid_envelope_with(payload="@@@")),
        ),
        C(
            "v1-create/dsse-signatures-not-array",
            "POST",
            P,
            _dsse_v1_envelope(_valid_envelope_with(signatures={"sig": "AA=="})),
        ),
        C(
            "v1-create/dsse-envelope-lone-surrogate",
            "POST",
            P,
            _dsse_v1_envelope(_valid_envelope_with(payloadType="\ud800")),
        ),
        C(
            "v1-create/dsse-envelope-huge-integer",
            "POST",
            P,
            _dsse_v1_envelope('{"payload": "", "x": ' + "9" * 5000 + "}"),
        ),
        C(
            "v1-create/dsse-envelope-deep-nesting",
            "POST",
            P,
            _dsse_v1_envelope('{"x": ' + "[" * 5000 + "]" * 5000 + "}"),
        ),
        C(
            "v1-create/dsse-verifier-number",
            "POST",
            P,
            dsse_v1(cert=CERT, key=KEY)[0]
            | {"spec": {"proposedContent": {"envelope": _valid_envelope_with(), "verifiers": [7]}}},
        ),
        C("v1-create/intoto-inner-base64-invalid", "POST", P, _intoto_bad_inner()),
        C("v1-create/intoto-hash-not-hex", "POST", P, _intoto_hash("xyz")),
        # GET by index
        C("v1-get/logIndex-missing", "GET", Q),
        C("v1-get/logIndex-negative", "GET", Q, params={"logIndex": "-1"}),
        C("v1-get/logIndex-non-numeric", "GET", Q, params={"logIndex": "abc"}),
        C("v1-get/logIndex-float", "GET", Q, params={"logIndex": "1.5"}),
        C("v1-get/logIndex-exponent", "GET", Q, params={"logIndex": "1e3"}),
        C("v1-get/logIndex-huge", "GET", Q, params={"logIndex": HUGE}),
        C("v1-get/logIndex-unicode-digits", "GET", Q, params={"logIndex": "١٢"}),
        C("v1-get/logIndex-past-end", "GET", Q, params={"logIndex": "999999"}, expect=404),
        C("v1-get/logIndex-int64-max", "GET", Q, params={"logIndex": str(2**63 - 1)}, expect=404),
        C("v1-get/logIndex-int64-overflow", "GET", Q, params={"logIndex": str(2**64)}),
        # GET by UUID / entry ID
        C("v1-get-id/not-hex", "GET", Q + "/" + "z" * 64),
        C("v1-get-id/short", "GET", Q + "/abcd"),
        C("v1-get-id/unknown-uuid", "GET", Q + "/" + "ab" * 32, expect=404),
        C("v1-get-id/wrong-tree", "GET", Q + "/" + "ff" * 8 + "ab" * 32, expect=404),
        C("v1-get-id/unicode", "GET", Q + "/%C3%A9%E2%80%AE"),
        C("v1-get-id/percent-garbage", "GET", Q + "/%ff%fe%00"),
        # retrieve
        *[
            C(f"v1-retrieve/{k}", "POST", "/api/v1/log/entries/retrieve", b, expect=e)
            for k, b, e in [
                ("entryUUIDs-string", {"entryUUIDs": "abc"}, 422),
                ("entryUUIDs-not-hex", {"entryUUIDs": ["zz"]}, 400),
                ("entryUUIDs-number", {"entryUUIDs": [1]}, 400),
                ("entryUUIDs-too-many", {"entryUUIDs": ["ab" * 32] * 11}, 422),
                ("logIndexes-negative", {"logIndexes": [-1]}, 422),
                ("logIndexes-string", {"logIndexes": ["1"]}, 422),
                ("logIndexes-true", {"logIndexes": [True]}, 422),
                ("logIndexes-float", {"logIndexes": [1.5]}, 422),
                ("logIndexes-null", {"logIndexes": [None]}, 422),
                ("logIndexes-object", {"logIndexes": {"0": 1}}, 422),
                ("entries-string", {"entries": ["x"]}, 422),
                ("entries-bad-entry", {"entries": [{"kind": "hashedrekord"}]}, 400),
            ]
        ],
    ]


def _intoto_bad_inner() -> dict[str, Any]:
    request = intoto_v2(cert=CERT, key=KEY)[0]
    request["spec"]["content"]["envelope"]["payload"] = b64(b"%%%%")
    return request


def _intoto_hash(value: Any) -> dict[str, Any]:
    request = intoto_v2(cert=CERT, key=KEY)[0]
    request["spec"]["content"]["hash"]["value"] = value
    return request


def _search(prefix: str, path: str) -> Iterator[Case]:
    for k, body in [
        ("no-criteria", {"operator": "and"}),
        ("unknown-field", {"hash": "ab" * 32, "bogus": 1}),
        ("hash-number", {"hash": 12}),
        ("hash-bad", {"hash": "sha256:xyz"}),
        ("hash-wrong-length", {"hash": "sha256:" + "ab" * 31}),
        ("hash-md5", {"hash": "md5:" + "ab" * 16}),
        ("email-invalid", {"email": "not an email"}),
        ("email-number", {"email": 5}),
        ("subject-array", {"subject": ["x"]}),
        ("subject-object", {"subject": {"a": 1}}),
        ("operator-xor", {"hash": "ab" * 32, "operator": "xor"}),
        ("operator-true", {"hash": "ab" * 32, "operator": True}),
        ("publicKey-string", {"publicKey": "abc"}),
        ("publicKey-format", {"publicKey": {"format": "pgp", "content": "abc"}}),
        ("publicKey-no-content", {"publicKey": {"format": "x509"}}),
        ("publicKey-bad-base64", {"publicKey": {"format": "x509", "content": "%%%"}}),
        ("publicKey-bad-pem", {"publicKey": {"format": "x509", "content": BAD_PEM.decode()}}),
        ("publicKey-garbage-der", {"publicKey": {"format": "x509", "content": b64(GARBAGE_DER)}}),
        (
            "publicKey-unknown-algorithm",
            {"publicKey": {"format": "x509", "content": b64(UNKNOWN_ALG_SPKI)}},
        ),
        ("publicKey-content-number", {"publicKey": {"format": "x509", "content": 10**40}}),
        ("publicKey-unicode", {"publicKey": {"format": "x509", "content": "é💩\u202e"}}),
        (
            "publicKey-url-disabled",
            {"publicKey": {"format": "x509", "url": "http://127.0.0.1:1/key"}},
        ),
        (
            "publicKey-content-and-url",
            {"publicKey": {"format": "x509", "content": "a", "url": "http://x"}},
        ),
    ]:
        yield C(f"{prefix}/{k}", "POST", path, body, expect=400)


def _proof() -> Iterator[Case]:
    P = "/api/v1/log/proof"
    for k, params, expect in [
        ("lastSize-missing", {}, 400),
        ("firstSize-zero", {"firstSize": "0", "lastSize": "1"}, 400),
        ("firstSize-negative", {"firstSize": "-1", "lastSize": "1"}, 400),
        ("lastSize-non-numeric", {"lastSize": "two"}, 400),
        ("lastSize-huge", {"lastSize": HUGE}, 400),
        ("lastSize-int64-max", {"lastSize": str(2**63 - 1)}, 400),
        ("lastSize-past-end", {"lastSize": "1000"}, 400),
        ("last-before-first", {"firstSize": "2", "lastSize": "1"}, 400),
        ("lastSize-empty", {"lastSize": ""}, 400),
        ("lastSize-whitespace", {"lastSize": " 1"}, 400),
        ("treeID-other", {"lastSize": "1", "treeID": "123"}, 404),
        ("treeID-garbage", {"lastSize": "1", "treeID": "x\u202e"}, 404),
    ]:
        yield C(f"v1-proof/{k}", "GET", P, params=params, expect=expect)
    yield C(
        "v1-publicKey/treeID-other",
        "GET",
        "/api/v1/log/publicKey",
        params={"treeID": "-5"},
        expect=404,
    )


def _v2() -> Iterator[Case]:
    P = "/api/v2/log/entries"
    R = "hashedRekordRequestV002"
    yield from [
        C(
            "v2-create/content-type-text",
            "POST",
            P,
            _hr_v2(lambda r: None),
            headers={"content-type": "text/plain"},
            expect=415,
        ),
        C(
            "v2-create/content-type-form",
            "POST",
            P,
            _hr_v2(lambda r: None),
            headers={"content-type": "application/x-www-form-urlencoded"},
            expect=415,
        ),
        C("v2-create/both-members", "POST", P, {R: {}, "dsseRequestV002": {}}),
        C("v2-create/unknown-member", "POST", P, {"rpmRequestV002": {}}),
        C("v2-create/extra-field", "POST", P, _hr_v2(lambda r: None) | {"extra": 1}),
        C("v2-create/member-array", "POST", P, {R: []}),
        C("v2-create/member-null", "POST", P, {R: None}),
        C("v2-create/member-unknown-field", "POST", P, _hr_v2(_set("extra", True))),
        C("v2-create/digest-missing", "POST", P, _hr_v2(_drop("digest"))),
        C("v2-create/digest-bad-base64", "POST", P, _hr_v2(_set("digest", "***"))),
        C("v2-create/digest-number", "POST", P, _hr_v2(_set("digest", 123))),
        C("v2-create/digest-wrong-length", "POST", P, _hr_v2(_set("digest", b64(b"x" * 31)))),
        C("v2-create/digest-huge-integer", "POST", P, _hr_v2(_set("digest", 10**400))),
        C(
            "v2-create/signature-wrong",
            "POST",
            P,
            _hr_v2(_set("signature.content", b64(b"\x30\x06\x02\x01\x01\x02\x01\x01"))),
        ),
        C("v2-create/signature-bad-base64", "POST", P, _hr_v2(_set("signature.content", "a=b="))),
        C(
            "v2-create/keyDetails-unknown",
            "POST",
            P,
            _hr_v2(_set("signature.verifier.keyDetails", "PKIX_ED25519")),
        ),
        C(
            "v2-create/keyDetails-mismatch",
            "POST",
            P,
            _hr_v2(_set("signature.verifier.keyDetails", "PKIX_RSA_PKCS1V15_2048_SHA256")),
        ),
        C(
            "v2-create/keyDetails-true",
            "POST",
            P,
            _hr_v2(_set("signature.verifier.keyDetails", True)),
        ),
        C(
            "v2-create/verifier-cert-and-key",
            "POST",
            P,
            _hr_v2(_set("signature.verifier.publicKey", {"rawBytes": b64(b"x")})),
        ),
        C(
            "v2-create/verifier-garbage-der",
            "POST",
            P,
            _hr_v2(_set("signature.verifier.x509Certificate.rawBytes", b64(GARBAGE_DER))),
        ),
        C(
            "v2-create/verifier-pem-not-der",
            "POST",
            P,
            _hr_v2(_set("signature.verifier.x509Certificate.rawBytes", b64(pem(CERT)))),
        ),
        C(
            "v2-create/verifier-key-unknown-algorithm",
            "POST",
            P,
            _hr_v2(
                _set(
                    "signature.verifier",
                    {
                        "publicKey": {"rawBytes": b64(UNKNOWN_ALG_SPKI)},
                        "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    },
                )
            ),
        ),
        C(
            "v2-create/verifier-rsa-1024",
            "POST",
            P,
            _hr_v2(
                _set(
                    "signature.verifier",
                    {
                        "publicKey": {
                            "rawBytes": b64(
                                RSA_1024.public_key().public_bytes(
                                    serialization.Encoding.DER,
                                    serialization.PublicFormat.SubjectPublicKeyInfo,
                                )
                            )
                        },
                        "keyDetails": "PKIX_RSA_PKCS1V15_2048_SHA256",
                    },
                )
            ),
        ),
        C("v2-create/duplicate", "POST", P, lambda inst: inst.v2_request, expect=409),
        C("v2-create/dsse-empty", "POST", P, {"dsseRequestV002": {}}),
        C(
            "v2-create/dsse-signatures-empty",
            "POST",
            P,
            {
                "dsseRequestV002": {
                    "envelope": {"payload": "", "payloadType": "x", "signatures": []},
                    "verifiers": [],
                }
            },
        ),
        C("v2-get/index-negative", "GET", P + "/-1"),
        C("v2-get/index-non-numeric", "GET", P + "/abc"),
        C("v2-get/index-huge", "GET", P + "/" + HUGE),
        C("v2-get/index-past-end", "GET", P + "/99999", expect=404),
        C("v2-get/index-int64-max", "GET", P + f"/{2**63 - 1}", expect=404),
        C("v2-get/index-unicode", "GET", P + "/%D9%A1"),
    ]
    T = "/api/v2/tile/"
    for k, tile in [
        ("not-yet", "0/001"),
        ("level-too-high", "64/000"),
        ("level-negative", "-1/000"),
        ("width-zero", "0/000.p/0"),
        ("width-256", "0/000.p/256"),
        ("width-leading-zero", "0/000.p/02"),
        ("width-past-size", "0/000.p/200"),
        ("index-non-numeric", "0/abc"),
        ("index-huge", "0/x999/x999/x999/x999/x999/x999/999"),
        ("index-non-canonical", "0/x000/001"),
        ("entries-past-size", "entries/000.p/9"),
        ("empty", ""),
        ("unicode", "%E2%80%AE%F0%9F%92%A9"),
        ("trailing-slash", "0/000/"),
    ]:
        yield C(f"v2-tile/{k}", "GET", T + tile, expect=404)


def _ca() -> Iterator[Case]:
    P = "/api/v2/signingCert"
    csr = _csr(ec.generate_private_key(ec.SECP256R1()))
    ok_key_pem = (
        KEY.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    pkr = {"publicKey": {"content": ok_key_pem}, "proofOfPossession": b64(b"\x30\x00")}
    yield from [
        C("ca/no-token", "POST", P, {"certificateSigningRequest": csr}, expect=401),
        C(
            "ca/bearer-empty",
            "POST",
            P,
            {"certificateSigningRequest": csr},
            headers={"authorization": "Bearer"},
            expect=401,
        ),
        C(
            "ca/basic-auth",
            "POST",
            P,
            {"certificateSigningRequest": csr},
            headers={"authorization": "Basic dXNlcjpwYXNz"},
            expect=401,
        ),
        C(
            "ca/token-garbage",
            "POST",
            P,
            {"certificateSigningRequest": csr},
            headers={"authorization": "Bearer a.b.c"},
            expect=401,
        ),
        C(
            "ca/token-not-jwt",
            "POST",
            P,
            {"certificateSigningRequest": csr},
            headers={"authorization": "Bearer " + "x" * 3000},
            expect=401,
        ),
        C(
            "ca/token-forged-signature",
            "POST",
            P,
            lambda inst: {
                "certificateSigningRequest": csr,
                "credentials": {"oidcIdentityToken": inst.token[:-6] + "AAAAAA"},
            },
            expect=401,
        ),
        C(
            "ca/token-alg-none",
            "POST",
            P,
            lambda inst: {
                "certificateSigningRequest": csr,
                "credentials": {"oidcIdentityToken": _alg_none(inst.token)},
            },
            expect=401,
        ),
        C(
            "ca/token-payload-deep-nesting",
            "POST",
            P,
            {
                "certificateSigningRequest": csr,
                "credentials": {
                    "oidcIdentityToken": _unsigned(
                        b'{"alg":"ES256"}', b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}"
                    )
                },
            },
            expect=401,
        ),
        C(
            "ca/token-header-deep-nesting",
            "POST",
            P,
            {
                "certificateSigningRequest": csr,
                "credentials": {"oidcIdentityToken": _unsigned(b"[" * 5000 + b"]" * 5000, b"{}")},
            },
            expect=401,
        ),
        C(
            "ca/token-payload-huge-integer",
            "POST",
            P,
            {
                "certificateSigningRequest": csr,
                "credentials": {
                    "oidcIdentityToken": _unsigned(
                        b'{"alg":"ES256"}', b'{"exp":' + b"9" * 5000 + b"}"
                    )
                },
            },
            expect=401,
        ),
        C(
            "ca/token-payload-not-object",
            "POST",
            P,
            {
                "certificateSigningRequest": csr,
                "credentials": {"oidcIdentityToken": _unsigned(b'{"alg":"ES256"}', b"[1]")},
            },
            expect=401,
        ),
        # signed by the instance's own dev issuer: claims a CA must still refuse cleanly
        *[
            C(f"ca/signed-token-{k}", "POST", P, _minted(csr, claims), expect=401)
            for k, claims in [
                (
                    "sub-lone-surrogate",
                    {"sub": "\ud800", "email": "a@b.co", "email_verified": True},
                ),
                ("email-lone-surrogate", {"email": "a\udc80@b.co", "email_verified": True}),
                ("email-number", {"email": 5, "email_verified": True}),
                ("email-unverified", {"email": "a@b.co", "email_verified": False}),
                ("sub-empty", {"sub": "", "email": "a@b.co", "email_verified": True}),
                ("sub-object", {"sub": {"a": 1}, "email": "a@b.co", "email_verified": True}),
                ("aud-other", {"aud": "other", "email": "a@b.co", "email_verified": True}),
                ("exp-string", {"exp": "soon", "email": "a@b.co", "email_verified": True}),
                ("exp-past", {"exp": 1, "email": "a@b.co", "email_verified": True}),
                ("nbf-future", {"nbf": 2**40, "email": "a@b.co", "email_verified": True}),
                ("iat-huge", {"iat": 10**30, "email": "a@b.co", "email_verified": True}),
                ("iss-unknown", {"iss": "https://issuer.invalid", "email": "a@b.co"}),
            ]
        ],
        C(
            "ca/signed-token-github-claim-lone-surrogate",
            "POST",
            P,
            _minted(csr, None, repository="\udc80"),
            expect=401,
        ),
        C(
            "ca/signed-token-github-workflow-ref-space",
            "POST",
            P,
            _minted(csr, None, job_workflow_ref="o/r/.github/workflows/f.yml@refs/heads/a b"),
            expect=400,  # a valid token whose claims no certificate can hold
        ),
        *[
            C(f"ca/signed-token-{k}", "POST", P, _minted(csr, claims), expect=400)
            for k, claims in [
                ("email-not-address", {"email": "nobody", "email_verified": True}),
                ("email-angle", {"email": "x<a@example.com>", "email_verified": True}),
                ("email-two-at", {"email": "a@b@example.com", "email_verified": True}),
            ]
        ],
        C(
            "ca/credentials-array",
            "POST",
            P,
            {"credentials": [], "certificateSigningRequest": csr},
            expect=400,
        ),
        C(
            "ca/token-number",
            "POST",
            P,
            {"credentials": {"oidcIdentityToken": 12}, "certificateSigningRequest": csr},
            expect=400,
        ),
        C(
            "ca/token-object",
            "POST",
            P,
            {"credentials": {"oidcIdentityToken": {"a": 1}}, "certificateSigningRequest": csr},
            expect=400,
        ),
        C(
            "ca/csr-and-publicKeyRequest",
            "POST",
            P,
            {"certificateSigningRequest": csr, "publicKeyRequest": pkr},
            auth=True,
            expect=400,
        ),
        C("ca/csr-number", "POST", P, {"certificateSigningRequest": 7}, auth=True, expect=400),
        C(
            "ca/csr-huge-integer",
            "POST",
            P,
            {"certificateSigningRequest": 10**4000},
            auth=True,
            expect=400,
        ),
        C(
            "ca/csr-bad-base64",
            "POST",
            P,
            {"certificateSigningRequest": "a%b"},
            auth=True,
            expect=400,
        ),
        C(
            "ca/csr-garbage-der",
            "POST",
            P,
            {"certificateSigningRequest": b64(GARBAGE_DER)},
            auth=True,
            expect=400,
        ),
        C(
            "ca/csr-bad-pem",
            "POST",
            P,
            {
                "certificateSigningRequest": b64(
                    b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                    b"-----END CERTIFICATE REQUEST-----\n"
                )
            },
            auth=True,
            expect=400,
        ),
        C(
            "ca/csr-cert-not-csr",
            "POST",
            P,
            {"certificateSigningRequest": b64(pem(CERT))},
            auth=True,
            expect=400,
        ),
        C(
            "ca/csr-signature-tampered",
            "POST",
            P,
            {
                "certificateSigningRequest": _csr(
                    ec.generate_private_key(ec.SECP256R1()), tamper=True
                )
            },
            auth=True,
            expect=400,
        ),
        C(
            "ca/csr-rsa-1024",
            "POST",
            P,
            {"certificateSigningRequest": _csr(RSA_1024)},
            auth=True,
            expect=400,
        ),
        C(
            "ca/csr-secp256k1",
            "POST",
            P,
            {"certificateSigningRequest": _csr(ec.generate_private_key(ec.SECP256K1()))},
            auth=True,
            expect=400,
        ),
        C(
            "ca/csr-dsa",
            "POST",
            P,
            {"certificateSigningRequest": _csr(dsa.generate_private_key(2048))},
            auth=True,
            expect=400,
        ),
        C(
            "ca/csr-rsa-exponent-3",
            "POST",
            P,
            {"certificateSigningRequest": _csr(rsa.generate_private_key(3, 2048))},
            auth=True,
            expect=400,
        ),
        C(
            "ca/csr-unknown-key-algorithm",
            "POST",
            P,
            {
                "certificateSigningRequest": b64(
                    _unknown_key_algorithm(
                        base64.b64decode(_csr(ec.generate_private_key(ec.SECP256R1())))
                    )
                )
            },
            auth=True,
            expect=400,
        ),
        C(
            "ca/pkr-key-unknown-algorithm",
            "POST",
            P,
            {
                "publicKeyRequest": {
                    "publicKey": {"content": b64(UNKNOWN_ALG_SPKI)},
                    "proofOfPossession": "AA==",
                }
            },
            auth=True,
            expect=400,
        ),
        C(
            "ca/csr-truncated-pem",
            "POST",
            P,
            {"certificateSigningRequest": b64(pem(CERT)[:10])},
            auth=True,
            expect=400,
        ),
        C("ca/pkr-string", "POST", P, {"publicKeyRequest": "key"}, auth=True, expect=400),
        C("ca/pkr-publicKey-missing", "POST", P, {"publicKeyRequest": {}}, auth=True, expect=400),
        C(
            "ca/pkr-content-number",
            "POST",
            P,
            {"publicKeyRequest": {"publicKey": {"content": 5}, "proofOfPossession": "AA=="}},
            auth=True,
            expect=400,
        ),
        C(
            "ca/pkr-pop-missing",
            "POST",
            P,
            {"publicKeyRequest": {"publicKey": {"content": ok_key_pem}}},
            auth=True,
            expect=400,
        ),
        C(
            "ca/pkr-pop-bad-base64",
            "POST",
            P,
            {"publicKeyRequest": {"publicKey": {"content": ok_key_pem}, "proofOfPossession": "!!"}},
            auth=True,
            expect=400,
        ),
        C("ca/pkr-pop-wrong", "POST", P, {"publicKeyRequest": pkr}, auth=True, expect=400),
        C(
            "ca/pkr-key-bad-pem",
            "POST",
            P,
            {
                "publicKeyRequest": {
                    "publicKey": {"content": BAD_PEM.decode()},
                    "proofOfPossession": "AA==",
                }
            },
            auth=True,
            expect=400,
        ),
        C(
            "ca/pkr-key-garbage-der-b64",
            "POST",
            P,
            {
                "publicKeyRequest": {
                    "publicKey": {"content": b64(GARBAGE_DER)},
                    "proofOfPossession": "AA==",
                }
            },
            auth=True,
            expect=400,
        ),
        C(
            "ca/pkr-key-unicode",
            "POST",
            P,
            {
                "publicKeyRequest": {
                    "publicKey": {"content": "é💩\u202e\u0000"},
                    "proofOfPossession": "AA==",
                }
            },
            auth=True,
            expect=400,
        ),
        C(
            "ca/pkr-key-rsa-1024",
            "POST",
            P,
            {
                "publicKeyRequest": {
                    "publicKey": {
                        "content": RSA_1024.public_key()
                        .public_bytes(
                            serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo,
                        )
                        .decode()
                    },
                    "proofOfPossession": "AA==",
                }
            },
            auth=True,
            expect=400,
        ),
    ]


def _unsigned(header: bytes, payload: bytes) -> str:
    def seg(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return f"{seg(header)}.{seg(payload)}.{seg(b'x' * 64)}"


def _minted(csr: str, claims: dict[str, Any] | None, **github: Any) -> Callable[[Instance], Any]:
    """A request with a token the instance's dev issuer really signed: email-shaped with
    ``claims``, or a GitHub workflow token with ``github`` claims overridden."""

    def body(inst: Instance) -> dict[str, Any]:
        if claims is not None:
            token = inst.dev.mint(claims)
        else:
            token = inst.dev.mint_github_workflow(
                "octo/app/.github/workflows/release.yml@refs/heads/main", github
            )
        return {"certificateSigningRequest": csr, "credentials": {"oidcIdentityToken": token}}

    return body


def _alg_none(token: str) -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return header + "." + token.split(".")[1] + "."


def _ct() -> Iterator[Case]:
    for name in ("add-chain", "add-pre-chain"):
        P = f"/ct/v1/{name}"
        for k, body in [
            ("chain-missing", {"chains": []}),
            ("chain-empty", {"chain": []}),
            ("chain-string", {"chain": b64(SELF_SIGNED_DER)}),
            ("chain-number-item", {"chain": [1]}),
            ("chain-bad-base64", {"chain": ["***"]}),
            ("chain-garbage-der", {"chain": [b64(GARBAGE_DER)]}),
            ("chain-pem-not-der", {"chain": [b64(pem(CERT))]}),
            ("chain-not-under-root", {"chain": [b64(SELF_SIGNED_DER)]}),
            ("chain-huge-integer", {"chain": [10**1000]}),
            ("chain-many-garbage", {"chain": [b64(GARBAGE_DER)] * 200}),
        ]:
            yield C(f"ct-{name}/{k}", "POST", P, body, expect=400)
    # the CA-issued certificate (not a precertificate) to add-pre-chain
    yield C(
        "ct-add-pre-chain/final-cert",
        "POST",
        "/ct/v1/add-pre-chain",
        lambda inst: {
            "chain": [
                b64(
                    x509.load_pem_x509_certificate(p.encode()).public_bytes(
                        serialization.Encoding.DER
                    )
                )
                for p in inst.chain_pem
            ]
        },
        expect=400,
    )
    for ep, params in [
        ("get-sth-consistency", {}),
        ("get-sth-consistency", {"first": "a", "second": "1"}),
        ("get-sth-consistency", {"first": "-1", "second": "1"}),
        ("get-sth-consistency", {"first": "1", "second": HUGE}),
        ("get-sth-consistency", {"first": "1", "second": "0"}),
        ("get-sth-consistency", {"first": "0", "second": "99"}),
        ("get-proof-by-hash", {}),
        ("get-proof-by-hash", {"hash": "***", "tree_size": "1"}),
        ("get-proof-by-hash", {"hash": b64(b"x" * 31), "tree_size": "1"}),
        ("get-proof-by-hash", {"hash": b64(b"x" * 32), "tree_size": "0"}),
        ("get-proof-by-hash", {"hash": b64(b"x" * 32), "tree_size": "abc"}),
        ("get-proof-by-hash", {"hash": b64(b"x" * 32), "tree_size": HUGE}),
        ("get-entries", {}),
        ("get-entries", {"start": "a", "end": "b"}),
        ("get-entries", {"start": "-1", "end": "0"}),
        ("get-entries", {"start": "1", "end": "0"}),
        ("get-entries", {"start": "5", "end": "9"}),
        ("get-entries", {"start": HUGE, "end": HUGE}),
        ("get-entries", {"start": "0", "end": "1e2"}),
    ]:
        key = "&".join(f"{k}={v}" for k, v in params.items()) or "none"
        yield C(f"ct-{ep}/{key}", "GET", f"/ct/v1/{ep}", params=params, expect=400)
    yield C(
        "ct-get-proof-by-hash/unknown-leaf",
        "GET",
        "/ct/v1/get-proof-by-hash",
        params={"hash": b64(b"x" * 32), "tree_size": "1"},
        expect=404,
    )


def _issued(
    inst: Instance,
    exts: list[tuple[Any, bool]],
    *,
    ca: bool = False,
    issuer_key: Any = None,
    issuer: x509.Name | None = None,
) -> bytes:
    """A certificate really signed by the instance's CA intermediate (or ``issuer_key``)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(_SELF_NAME)
        .issuer_name(issuer or inst.material.ca_intermediate.subject)
        .public_key(_SELF_KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(CERT.not_valid_before_utc)
        .not_valid_after(CERT.not_valid_after_utc)
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
    for ext, critical in exts:
        builder = builder.add_extension(ext, critical)
    key = issuer_key or inst.material.signer("ca-intermediate").private_key
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _ct_chain(*make: Callable[[Instance], bytes]) -> Callable[[Instance], Any]:
    return lambda inst: {"chain": [b64(m(inst)) for m in make]}


def _intermediate(inst: Instance) -> bytes:
    return inst.material.ca_intermediate.public_bytes(serialization.Encoding.DER)


def _raw_ext(oid: x509.ObjectIdentifier, value: bytes, critical: bool = False) -> Any:
    return (x509.UnrecognizedExtension(oid, value), critical)


POISON = (x509.PrecertPoison(), True)
_BAD_BC = _raw_ext(x509.oid.ExtensionOID.BASIC_CONSTRAINTS, b"\x01\x02")
_BAD_POISON = _raw_ext(x509.oid.ExtensionOID.PRECERT_POISON, b"\x01\x02", True)
_BAD_SAN = _raw_ext(x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x30\x03\x82\x01\xff")
_CT_EKU = (x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CERTIFICATE_TRANSPARENCY]), False)


def _precert_signer_chain(inst: Instance) -> dict[str, Any]:
    signer = _issued(inst, [_CT_EKU], ca=True)
    precert = _issued(inst, [POISON], issuer_key=_SELF_KEY, issuer=_SELF_NAME)
    return {"chain": [b64(precert), b64(signer), b64(_intermediate(inst))]}


def _ct_issued() -> Iterator[Case]:
    """Certificates signed by the instance's real CA intermediate, each wrong in one way."""

    def cert(*exts: tuple[Any, bool]) -> Callable[[Instance], bytes]:
        return lambda inst: _issued(inst, list(exts))

    for name in ("add-chain", "add-pre-chain"):
        P = f"/ct/v1/{name}"
        for k, body in [
            ("malformed-basic-constraints", _ct_chain(cert(_BAD_BC), _intermediate)),
            ("malformed-poison", _ct_chain(cert(_BAD_POISON), _intermediate)),
            ("malformed-san", _ct_chain(cert(POISON, _BAD_SAN), _intermediate)),
            (
                "malformed-issuer-extension",
                _ct_chain(cert(POISON), lambda inst: _issued(inst, [_BAD_BC])),
            ),
            ("reversed-chain", _ct_chain(_intermediate, cert(POISON))),
            ("leaf-as-issuer", _ct_chain(cert(POISON), cert())),
            ("precert-signing-certificate", _precert_signer_chain),
        ]:
            yield C(f"ct-{name}/{k}", "POST", P, body, expect=400)
    yield C(
        "ct-add-chain/precertificate",
        "POST",
        "/ct/v1/add-chain",
        _ct_chain(cert(POISON), _intermediate),
        expect=400,
    )
    yield C(
        "ct-add-pre-chain/no-issuer",
        "POST",
        "/ct/v1/add-pre-chain",
        _ct_chain(cert(POISON)),
        expect=400,
    )
    yield C(
        "ct-add-pre-chain/poison-not-critical",
        "POST",
        "/ct/v1/add-pre-chain",
        _ct_chain(cert((x509.PrecertPoison(), False)), _intermediate),
        expect=400,
    )


def _tsa() -> Iterator[Case]:
    P = "/api/v1/timestamp"
    J = {"content-type": "application/json"}
    D = {"content-type": "application/timestamp-query"}
    good = {"artifactHash": b64(b"\x00" * 32), "hashAlgorithm": "sha256"}
    for k, body in [
        ("artifactHash-missing", {"hashAlgorithm": "sha256"}),
        ("artifactHash-number", {**good, "artifactHash": 5}),
        ("artifactHash-bad-base64", {**good, "artifactHash": "$$$"}),
        ("artifactHash-unicode", {**good, "artifactHash": "é💩"}),
        ("artifactHash-wrong-length", {**good, "artifactHash": b64(b"x" * 31)}),
        ("hashAlgorithm-md5", {**good, "hashAlgorithm": "md5"}),
        ("hashAlgorithm-sha1", {**good, "hashAlgorithm": "SHA1"}),
        ("hashAlgorithm-true", {**good, "hashAlgorithm": True}),
        ("hashAlgorithm-unknown", {**good, "hashAlgorithm": "sha3-256"}),
        ("nonce-string", {**good, "nonce": "1"}),
        ("nonce-negative", {**good, "nonce": -1}),
        ("nonce-huge", {**good, "nonce": 2**300}),
        ("nonce-float", {**good, "nonce": 1.5}),
        ("nonce-true", {**good, "nonce": True}),
        ("certificates-string", {**good, "certificates": "yes"}),
        ("policy-garbage", {**good, "tsaPolicyOID": "not.an.oid"}),
        ("policy-unaccepted", {**good, "tsaPolicyOID": "1.2.3.4"}),
        ("policy-number", {**good, "tsaPolicyOID": 123}),
        ("unknown-field", {**good, "extra": 1}),
    ]:
        yield C(f"tsa-json/{k}", "POST", P, body, headers=J, expect=400)
    from asn1crypto import tsp

    def req(alg: str, digest: bytes, **kw: Any) -> bytes:
        return tsp.TimeStampReq(
            {
                "version": "v1",
                "message_imprint": {"hash_algorithm": {"algorithm": alg}, "hashed_message": digest},
                **kw,
            }
        ).dump()

    valid = req("sha256", b"\x00" * 32)
    for k, body in [
        ("empty", b""),
        ("garbage", b"\x00\x01\x02garbage"),
        ("truncated", valid[:-3]),
        ("trailing-bytes", valid + b"\x00"),
        ("json-body", json.dumps(good).encode()),
        ("sha1", req("sha1", b"\x00" * 20)),
        ("md5", req("md5", b"\x00" * 16)),
        ("wrong-digest-length", req("sha256", b"\x00" * 31)),
        (
            "version-2",
            tsp.TimeStampReq(
                {
                    "version": 2,
                    "message_imprint": {
                        "hash_algorithm": {"algorithm": "sha256"},
                        "hashed_message": b"\x00" * 32,
                    },
                }
            ).dump(),
        ),
        ("nonce-huge", req("sha256", b"\x00" * 32, nonce=2**400)),
        ("nonce-negative", req("sha256", b"\x00" * 32, nonce=-5)),
        ("policy-unaccepted", req("sha256", b"\x00" * 32, req_policy="1.2.3.4")),
        ("huge-length", b"\x30\x84\xff\xff\xff\xff" + valid[2:]),
    ]:
        yield C(f"tsa-der/{k}", "POST", P, body, headers=D, expect=400)
    yield C("tsa-der/oversize", "POST", P, b"\x30" * (10 * KiB + 1), headers=D, expect=413)
    yield C("tsa/no-content-type", "POST", P, b"", headers={"content-type": ""}, expect=415)
    yield C(
        "tsa/content-type-text", "POST", P, b"x", headers={"content-type": "text/plain"}, expect=415
    )
    yield C(
        "tsa/content-type-reply",
        "POST",
        P,
        valid,
        headers={"content-type": "application/timestamp-reply"},
        expect=415,
    )


def _oidc() -> Iterator[Case]:
    P = "/oidc/token"
    wf = "octo/app/.github/workflows/release.yml@refs/heads/main"
    for k, body in [
        ("email-number", {"email": 5}),
        ("email-invalid", {"email": "not an address"}),
        ("email-empty", {"email": ""}),
        ("email-extra-field", {"email": "a@b.c", "sub": "x"}),
        ("email-array", {"email": ["a@b.c"]}),
        ("workflow-number", {"github_workflow": 5}),
        ("workflow-malformed", {"github_workflow": "nonsense"}),
        ("workflow-no-ref", {"github_workflow": "octo/app/.github/workflows/release.yml"}),
        ("workflow-short-ref", {"github_workflow": wf.replace("refs/heads/main", "main")}),
        ("workflow-claims-array", {"github_workflow": wf, "claims": []}),
        ("workflow-claims-nested", {"github_workflow": wf, "claims": {"a": {"b": 1}}}),
        ("workflow-claims-null", {"github_workflow": wf, "claims": {"a": None}}),
        ("workflow-extra-field", {"github_workflow": wf, "email": "a@b.c"}),
        ("workflow-claims-iss-number", {"github_workflow": wf, "claims": {"iss": 5}}),
        ("workflow-claims-iss-true", {"github_workflow": wf, "claims": {"iss": True}}),
        ("unknown-request", {"username": "x"}),
    ]:
        yield C(f"oidc-token/{k}", "POST", P, body, expect=400)


def _paths() -> Iterator[Case]:
    """Traversal and junk under the TUF and tile read paths (sent raw: no client-side
    normalisation of ``..``). Plain 404s are fine here."""
    for k, path in [
        ("tuf/dotdot-keys", "/tuf/../keys/ca-root.pem"),
        ("tuf/dotdot-deep", "/tuf/../../../../etc/passwd"),
        ("tuf/encoded-dotdot", "/tuf/%2e%2e/keys/ca-root.pem"),
        ("tuf/encoded-slash", "/tuf/..%2fkeys%2fca-root.pem"),
        ("tuf/targets-dotdot", "/tuf/targets/../../sceau.toml"),
        ("tuf/targets-encoded-dotdot", "/tuf/targets/%2e%2e%2f%2e%2e%2fsceau.toml"),
        ("tuf/dot-file", "/tuf/.lock"),
        ("tuf/version-zero", "/tuf/0.root.json"),
        ("tuf/version-leading-zero", "/tuf/01.root.json"),
        ("tuf/version-huge", "/tuf/99999999999.root.json"),
        ("tuf/version-negative", "/tuf/-1.root.json"),
        ("tuf/unknown-role", "/tuf/mirrors.json"),
        ("tuf/nul", "/tuf/root.json%00"),
        ("tuf/backslash", "/tuf/..%5c..%5csceau.toml"),
        ("tuf/target-bad-hash", "/tuf/targets/xyz.trusted_root.json"),
        ("tuf/target-missing", "/tuf/targets/" + "0" * 64 + ".trusted_root.json"),
        ("tuf/directory", "/tuf/targets"),
        ("tuf/unicode", "/tuf/%E2%80%AE%F0%9F%92%A9.json"),
        ("tile/dotdot", "/api/v2/tile/../../../etc/passwd"),
        ("tile/dotdot-checkpoint", "/api/v2/tile/../checkpoint/../../x"),
        ("tile/encoded-dotdot", "/api/v2/tile/%2e%2e/%2e%2e/keys/rekor-v2.pem"),
        ("tile/absolute", "/api/v2/tile//etc/passwd"),
        ("tile/nul", "/api/v2/tile/0/000%00"),
        ("oidc/dotdot", "/oidc/../keys/dev-oidc.pem"),
        ("root/dotdot", "/../../etc/passwd"),
    ]:
        yield C(f"raw/{k}", "RAW", path, expect=404, json_error=False)


ALL: list[Case] = [
    *_generic(),
    *_wrong_methods(),
    *_v1(),
    *_search("v1-search", "/api/v1/index/retrieve"),
    *_search("v2-search", "/api/v2/index/retrieve"),
    *_proof(),
    *_v2(),
    *_ca(),
    *_ct(),
    *_ct_issued(),
    *_tsa(),
    *_oidc(),
    *_paths(),
]

# Known bugs in code this suite may not change (src/sceau/services/rekor/): strict xfails.
XFAIL: dict[str, str] = {}  # bad-input cases still failing, with the exact bug (none now)


def _params() -> list[Any]:
    seen: set[str] = set()
    out = []
    for case in ALL:
        assert case.id not in seen, case.id
        seen.add(case.id)
        marks = [pytest.mark.xfail(strict=True, reason=XFAIL[case.id])] if case.id in XFAIL else []
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


def send(
    inst: Instance, case: Case, client: httpx.Client | None = None
) -> tuple[int, dict[str, str], bytes]:
    if case.method == "RAW":
        req = (
            f"GET {case.path} HTTP/1.1\r\nHost: {inst.host}\r\nConnection: close\r\n\r\n"
        ).encode()
        status, body = raw_http(inst.port, req)
        assert status is not None, f"no HTTP answer: {body[:200]!r}"
        return status, {}, body
    body = case.body(inst) if callable(case.body) else case.body
    headers = dict(case.headers)
    if case.auth:
        headers["authorization"] = f"Bearer {inst.token}"
    kwargs: dict[str, Any] = {"params": case.params, "headers": headers}
    if isinstance(body, tuple) and body[0] == "chunked":
        data = body[1]
        kwargs["content"] = (data[i : i + 64 * KiB] for i in range(0, len(data), 64 * KiB))
        headers.setdefault("content-type", "application/json")
    elif isinstance(body, bytes):
        kwargs["content"] = body
        headers.setdefault("content-type", "application/json")
    elif body is not None:
        kwargs["content"] = json.dumps(body).encode()
        headers.setdefault("content-type", "application/json")
    r = (client or inst.client).request(case.method, case.path, **kwargs)
    return r.status_code, dict(r.headers), r.content


@pytest.mark.parametrize("case", _params())
def test_bad_input_is_a_precise_4xx_and_writes_nothing(case: Case, unchanged: Instance) -> None:
    status, headers, body = send(unchanged, case)
    assert status < 500, f"{status}: {body[:300]!r}"
    if case.expect:
        assert status in case.expect, f"{status}: {body[:300]!r}"
    else:
        assert 400 <= status < 500, f"{status}: {body[:300]!r}"
    if case.json_error:
        assert headers.get("content-type", "").startswith("application/json"), headers
        error = json.loads(body)
        assert set(error) - {"request_id"} == {"code", "message"}, error
        assert error["code"] == status
        assert isinstance(error["message"], str) and error["message"].strip()
    assert b"Traceback" not in body
    unchanged.check_unchanged()


def test_conflict_points_at_the_existing_entry(unchanged: Instance) -> None:
    r = unchanged.client.post("/api/v1/log/entries", json=unchanged.v1_request)
    assert r.status_code == 409 and r.headers["location"].startswith("/api/v1/log/entries/")
    assert unchanged.client.get(r.headers["location"]).status_code == 200
    r = unchanged.client.post("/api/v2/log/entries", json=unchanged.v2_request)
    assert r.status_code == 409 and r.headers["x-log-index"] == "1"
    unchanged.check_unchanged()


_STATEMENTS = {
    "huge-integer": b'{"x": ' + b"9" * 5000 + b"}",
    "deep-nesting": b"[" * 3000 + b"]" * 3000,
}
_DSSE_KINDS = {
    "v1-dsse": ("/api/v1/log/entries", dsse_v1, "rekor-v1"),
    "v1-intoto": ("/api/v1/log/entries", intoto_v2, "rekor-v1"),
    "v2-dsse": ("/api/v2/log/entries", dsse_v2, "rekor-v2"),
}


@pytest.mark.parametrize("statement", list(_STATEMENTS), ids=list(_STATEMENTS))
@pytest.mark.parametrize("kind", list(_DSSE_KINDS), ids=list(_DSSE_KINDS))
def test_signed_envelope_with_an_unparseable_statement_is_not_a_500(
    kind: str, statement: str, unchanged: Instance
) -> None:
    """The payload is signed, so the entry is valid: the statement's subjects are only
    index terms, and a payload that is not a statement should just have none."""
    path, build, log = _DSSE_KINDS[kind]
    request = build(payload=_STATEMENTS[statement], cert=CERT, key=KEY)[0]
    r = unchanged.client.post(path, json=request)
    if r.status_code == 201:  # fixed: a real entry was added; it becomes the new baseline
        unchanged.sizes[log] += 1
        unchanged.roots = unchanged.verify_logs()
    assert r.status_code < 500, r.text
    unchanged.check_unchanged()


# -- malformed HTTP, sent raw ------------------------------------------------------------------


def _raw(method: str, path: str, headers: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n"
    return head.encode("latin-1") + body


RAW_CASES = [
    (
        "content-length-not-a-number",
        _raw("POST", "/api/v2/log/entries", "Content-Length: abc\r\n"),
        False,
    ),
    (
        "content-length-negative",
        _raw("POST", "/api/v2/log/entries", "Content-Length: -1\r\n"),
        False,
    ),
    (
        "content-length-twice",
        _raw("POST", "/api/v1/index/retrieve", "Content-Length: 2\r\nContent-Length: 3\r\n", b"{}"),
        False,
    ),
    (
        "chunked-and-content-length",
        _raw(
            "POST",
            "/api/v1/index/retrieve",
            "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
            b"2\r\n{}\r\n0\r\n\r\n",
        ),
        False,
    ),
    (
        "chunk-size-garbage",
        _raw(
            "POST",
            "/api/v1/log/entries",
            "Transfer-Encoding: chunked\r\n",
            b"zz\r\n{}\r\n0\r\n\r\n",
        ),
        False,
    ),
    (
        "chunk-size-huge",
        _raw(
            "POST",
            "/api/v1/log/entries",
            "Transfer-Encoding: chunked\r\n",
            b"ffffffffffffffff\r\n{}\r\n",
        ),
        True,
    ),
    (
        "body-shorter-than-declared",
        _raw(
            "POST",
            "/api/v1/log/entries",
            "Content-Type: application/json\r\nContent-Length: 1000\r\n",
            b'{"kind":',
        ),
        True,
    ),
    (
        "body-shorter-than-declared-v2",
        _raw(
            "POST",
            "/api/v2/log/entries",
            "Content-Type: application/json\r\nContent-Length: 1000\r\n",
            b'{"hash',
        ),
        True,
    ),
    (
        "body-shorter-than-declared-ca",
        _raw("POST", "/api/v2/signingCert", "Content-Length: 100\r\n", b"{"),
        True,
    ),
    (
        "body-shorter-than-declared-tsa",
        _raw(
            "POST",
            "/api/v1/timestamp",
            "Content-Type: application/timestamp-query\r\nContent-Length: 100\r\n",
            b"\x30",
        ),
        True,
    ),
    ("request-line-garbage", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", False),
    ("header-without-colon", _raw("GET", "/healthz", "NoColonHere\r\n"), False),
    ("path-with-space", b"GET /api/v1/log entries HTTP/1.1\r\nHost: x\r\n\r\n", False),
    ("unknown-method", _raw("BREW", "/api/v1/log", ""), False),
    ("method-OPTIONS", _raw("OPTIONS", "/api/v1/log/entries", ""), False),
    ("method-TRACE", _raw("TRACE", "/healthz", ""), False),
    ("path-100k", _raw("GET", "/api/v1/log/entries/" + "a" * 100_000, ""), False),
    ("query-100k", _raw("GET", "/api/v1/log/entries?logIndex=" + "1" * 100_000, ""), False),
    (
        "query-20k-params",
        _raw("GET", "/ct/v1/get-entries?" + "&".join(f"start={i}" for i in range(20_000)), ""),
        False,
    ),
    ("query-bad-percent", _raw("GET", "/api/v1/log/entries?logIndex=%zz", ""), False),
    ("path-raw-0xff", b"GET /tuf/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", False),
    (
        "query-raw-0xff",
        b"GET /api/v1/log/entries?logIndex=\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        False,
    ),
    (
        "content-type-control-chars",
        _raw(
            "POST",
            "/api/v1/timestamp",
            "Content-Type: \x01\x02;;;=\r\nContent-Length: 2\r\n",
            b"{}",
        ),
        False,
    ),
    (
        "content-type-latin1",
        _raw(
            "POST",
            "/api/v2/log/entries",
            "Content-Type: applicati\xf6n/json\r\nContent-Length: 2\r\n",
            b"{}",
        ),
        False,
    ),
    (
        "authorization-latin1",
        _raw(
            "POST",
            "/api/v2/signingCert",
            "Authorization: Bearer \xff\xfe\r\nContent-Length: 2\r\n",
            b"{}",
        ),
        False,
    ),
    (
        "expect-100-continue-oversize",
        _raw("POST", "/api/v2/signingCert", "Expect: 100-continue\r\nContent-Length: 99999999\r\n"),
        False,
    ),
]


@pytest.mark.parametrize(
    ("request_bytes", "half_close"), [pytest.param(r, h, id=i) for i, r, h in RAW_CASES]
)
def test_malformed_http_is_refused_without_a_500(
    request_bytes: bytes, half_close: bool, unchanged: Instance
) -> None:
    """The HTTP layer refuses (4xx) or drops the connection; nothing reaches a log and
    the server logs no error (a client that hangs up mid-body is not a server fault)."""
    status, body = raw_http(unchanged.port, request_bytes, half_close=half_close, timeout=3)
    assert status is None or 400 <= status < 500, (status, body[:300])
    unchanged.check_unchanged()


def test_good_entries_among_concurrent_bad_input_are_all_logged(unchanged: Instance) -> None:
    """Bad requests racing good ones lose nothing: every good entry is logged exactly once
    and retrievable, nothing else is, and the logs still verify."""
    inst = unchanged
    good_v1 = [hashedrekord_v1(cert=CERT, key=KEY)[0] for _ in range(15)]
    good_v2 = [hashedrekord_v2(cert=CERT, key=KEY)[0] for _ in range(15)]
    bad = [c for c in ALL if c.method == "POST" and c.id not in XFAIL][::9]
    jobs: list[Callable[[httpx.Client], Any]] = [
        *[lambda c, r=r: c.post("/api/v1/log/entries", json=r) for r in good_v1],
        *[lambda c, r=r: c.post("/api/v2/log/entries", json=r) for r in good_v2],
        *[lambda c, case=case: send(inst, case, c) for case in bad],
    ]
    random.Random(7).shuffle(jobs)

    def run(job: Callable[[httpx.Client], Any]) -> Any:
        # A client per request: httpcore's pool is not safe to share between threads
        # when it closes surplus connections (encode/httpcore#1110: a connection handed
        # to one thread is closed by another, and the read fails with EBADF).
        with httpx.Client(base_url=inst.url, timeout=30) as client:
            return job(client)

    expected = {**inst.sizes}
    expected["rekor-v1"] += 15
    expected["rekor-v2"] += 15
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(run, jobs))
        good = [r for r in results if isinstance(r, httpx.Response)]
        assert sorted(r.status_code for r in good) == [201] * 30, [r.text for r in good]
        for status, _, body in (r for r in results if isinstance(r, tuple)):
            assert 400 <= status < 500, body[:300]
        assert inst.server_errors() == []
        assert inst.log_sizes() == expected
        for r in good:
            if "/api/v1/" in str(r.request.url):
                (entry_id,) = r.json()
                assert inst.client.get(f"/api/v1/log/entries/{entry_id}").status_code == 200
            else:
                index = r.json()["logIndex"]
                assert inst.client.get(f"/api/v2/log/entries/{index}").status_code == 200
    finally:
        # The baseline moves to what is really there, so that a failure here is reported
        # once, not again by every later test that compares sizes.
        inst.sizes = inst.log_sizes()
        inst.roots = inst.verify_logs()


def test_every_log_still_verifies_with_the_roots_it_had(instance: Instance) -> None:
    """Runs last in this module: the signed heads verify, the roots recompute from the
    entries, and they are the roots from before any bad input."""
    instance.check_unchanged()
    assert instance.verify_logs() == instance.roots


def test_cases_cover_every_endpoint() -> None:
    paths = {c.path.split("?")[0] for c in ALL}
    for _, path, *_ in POST_JSON:
        assert path in paths
    for _, path in GET_ENDPOINTS:
        assert path in paths
    assert len(ALL) > 400


def test_an_error_quoting_unencodable_text_still_renders() -> None:
    """Defence in depth: a message quoting a lone surrogate renders escaped, not a crash."""
    response = error_response(InputError("unknown field \udfff"))
    assert response.status_code == 400
    assert json.loads(response.body) == {"code": 400, "message": "unknown field \\udfff"}
