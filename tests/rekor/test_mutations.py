"""Never a 500 on client input: random mutations of valid requests of every kind either
still verify or are refused with an InputError (4xx) — never any other exception."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from sceau.errors import InputError
from sceau.services.rekor.search import parse_query
from sceau.services.rekor.types import Limits, from_v1_request, from_v2_request
from tests.rekor import helpers as h

JUNK: list[Any] = [
    None,
    0,
    -1,
    2**70,
    1.5,
    True,
    "",
    "x",
    "AAAA",
    "====",
    "é",
    [],
    {},
    [1],
    {"a": 1},
    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(rng: random.Random, request: dict) -> dict:
    request = copy.deepcopy(request)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(request) if p]
        if not paths:
            break
        deep = [p for p in paths if len(p) > 2]
        path = rng.choice(deep if deep and rng.random() < 0.8 else paths)
        parent = request
        for step in path[:-1]:
            parent = parent[step]
        if rng.random() < 0.3 and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent[path[-1]], str) and rng.random() < 0.5:
            text = parent[path[-1]]
            i = rng.randrange(len(text) + 1)
            parent[path[-1]] = text[:i] + rng.choice('A=/+-_é\\"\0') + text[i + 1 :]
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(JUNK))
    return request


CASES = [
    ("hashedrekord v1", lambda: h.hashedrekord_v1()[0], from_v1_request),
    ("dsse v1", lambda: h.dsse_v1()[0], from_v1_request),
    ("intoto v1", lambda: h.intoto_v2()[0], from_v1_request),
    ("hashedrekord v2", lambda: h.hashedrekord_v2()[0], from_v2_request),
    ("dsse v2", lambda: h.dsse_v2()[0], from_v2_request),
]


@pytest.mark.parametrize(("name", "make", "parse"), CASES, ids=[c[0] for c in CASES])
def test_mutated_requests_only_raise_input_errors(name, make, parse) -> None:
    rng = random.Random(name)
    valid = make()
    for _ in range(600):
        request = _mutate(rng, valid)
        try:
            parse(request, Limits())
        except InputError:
            pass


def test_mutated_search_queries_only_raise_input_errors() -> None:
    import asyncio

    rng = random.Random("search")
    valid = {
        "hash": "sha256:" + "ab" * 32,
        "email": "a@b.c",
        "subject": h.URI,
        "publicKey": {"format": "x509", "content": h.pem(h.leaf()[0]).decode()},
        "operator": "and",
    }
    for _ in range(300):
        try:
            asyncio.run(parse_query(_mutate(rng, valid)))
        except InputError:
            pass
