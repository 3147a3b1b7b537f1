"""Search queries: validation, term mapping and and/or semantics over an in-memory index."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from sceau.errors import InputError
from sceau.services.rekor.search import parse_query
from sceau.services.rekor.types import Limits, from_v1_request
from tests.rekor import helpers as h


class MemoryIndex:
    """What the engine's ``lookup`` does, for a handful of entries."""

    def __init__(self) -> None:
        self.terms: dict[str, list[int]] = {}

    def add(self, index: int, keys) -> None:
        for k in keys:
            self.terms.setdefault(k, []).append(index)

    async def lookup(self, key: str, limit: int = 1000) -> list[int]:
        return self.terms.get(key, [])[:limit]


def _run(body: dict, index: MemoryIndex) -> list[int]:
    async def go() -> list[int]:
        return await (await parse_query(body)).run(index)

    return asyncio.run(go())


@pytest.fixture
def index():
    """Entry 1: alice signs A; 2: bob (URI identity) signs A; 3: alice signs B."""
    idx = MemoryIndex()
    alice, alice_key = h.leaf(email="alice@example.com")
    bob, bob_key = h.leaf(email=None, uri=h.URI)
    for i, (artifact, cert, key) in enumerate(
        [(b"A", alice, alice_key), (b"A", bob, bob_key), (b"B", alice, alice_key)], start=1
    ):
        req = h.hashedrekord_v1(artifact, cert=cert, key=key)[0]
        idx.add(i, from_v1_request(req, Limits()).keys)
    idx.alice = alice  # type: ignore[attr-defined]
    return idx


def test_by_hash_forms(index) -> None:
    a = hashlib.sha256(b"A").hexdigest()
    assert _run({"hash": f"sha256:{a}"}, index) == [1, 2]
    assert _run({"hash": a.upper()}, index) == [1, 2]
    assert _run({"hash": "sha512:" + "0" * 128}, index) == []


def test_by_identity(index) -> None:
    assert _run({"email": "ALICE@example.com"}, index) == [1, 3]
    assert _run({"subject": "alice@example.com"}, index) == [1, 3]
    assert _run({"subject": h.URI}, index) == [2]


def test_by_public_key_pem_and_base64(index) -> None:
    pem = h.pem(index.alice)
    assert _run({"publicKey": {"format": "x509", "content": pem.decode()}}, index) == [1, 3]
    assert _run({"publicKey": {"format": "x509", "content": h.b64(pem)}}, index) == [1, 3]
    assert _run({"publicKey": {"format": "x509", "content": h.b64(h.der(index.alice))}}, index) == [
        1,
        3,
    ]


def test_operators(index) -> None:
    a = "sha256:" + hashlib.sha256(b"A").hexdigest()
    assert _run({"hash": a, "email": "alice@example.com", "operator": "and"}, index) == [1]
    assert _run({"hash": a, "email": "alice@example.com", "operator": "or"}, index) == [1, 2, 3]
    assert _run({"hash": a, "email": "alice@example.com"}, index) == [1, 2, 3]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({}, "at least one of"),
        ({"hash": "sha256:xyz"}, "hash: must be"),
        ({"hash": 5}, "hash: must be a string"),
        ({"email": "not-an-email"}, "email: must be an e-mail"),
        ({"email": "a@b", "operator": "xor"}, "operator: must be 'and' or 'or'"),
        ({"publicKey": {"format": "pgp", "content": "x"}}, "publicKey.format: unsupported"),
        ({"publicKey": {"format": "x509"}}, "publicKey.content: missing"),
        ({"publicKey": {"format": "x509", "content": "%%%"}}, "neither PEM nor base64"),
        (
            {"publicKey": {"format": "x509", "url": "http://example.com/k.pem"}},
            "fetching keys by URL is disabled",
        ),
        ({"logIndex": 3}, "logIndex: unknown search field"),
    ],
)
def test_refusals(body: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        asyncio.run(parse_query(body))
