"""Search by artifact hash, identity and public key — the index Rekor v2 dropped.

The query is Rekor v1's ``SearchIndex`` (``POST /api/v1/index/retrieve``)::

    {"hash": "sha256:<hex>" | "<hex>", "email": "a@b", "subject": "https://…",
     "publicKey": {"format": "x509", "content": "<PEM or b64 PEM/DER>" | "url": "…"},
     "operator": "and" | "or"}

Each criterion maps to index terms (:mod:`sceau.services.rekor.terms`) that the entry
types registered with ``log.append(keys=...)``; ``and`` intersects the per-criterion
results, ``or`` (the default, as in Rekor) unites them. Results come back in log order.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sceau.errors import InputError
from sceau.services.rekor import material as mat
from sceau.services.rekor.terms import email_term, hash_term, key_term, subject_term

_HASH = re.compile(
    r"^(?:(sha512):)?([0-9a-fA-F]{128})$|^(?:(sha256):)?([0-9a-fA-F]{64})$"
    r"|^(?:(sha1):)?([0-9a-fA-F]{40})$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MAX_RESULTS = 1000

KeyFetcher = Callable[[str], Awaitable[bytes]]


class Index(Protocol):
    async def lookup(self, key: str, limit: int = ...) -> list[int]: ...


@dataclass(frozen=True)
class Query:
    """A parsed search: one list of alternative terms per criterion."""

    criteria: tuple[tuple[str, ...], ...]
    operator: str

    async def run(self, index: Index, limit: int = MAX_RESULTS) -> list[int]:
        sets: list[set[int]] = []
        for alternatives in self.criteria:
            found: set[int] = set()
            for term in alternatives:
                found.update(await index.lookup(term, limit))
            sets.append(found)
        if self.operator == "and":
            result = set.intersection(*sets)
        else:
            result = set.union(*sets)
        return sorted(result)[:limit]


def _hash_criterion(value: object) -> tuple[str, ...]:
    if not isinstance(value, str):
        raise InputError("hash: must be a string")
    m = _HASH.match(value)
    if not m:
        raise InputError("hash: must be sha256:<64 hex>, sha512:<128 hex> or sha1:<40 hex>")
    groups = m.groups()
    for alg_group, hex_group, default in ((0, 1, "sha512"), (2, 3, "sha256"), (4, 5, "sha1")):
        if groups[hex_group]:
            return (hash_term(groups[alg_group] or default, groups[hex_group]),)
    raise InputError("hash: unrecognised value")  # unreachable: the regex matched


def _public_key_material(content: str) -> mat.Material:
    raw = content.encode()
    if not raw.lstrip().startswith(b"-----BEGIN"):
        try:
            raw = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as e:
            raise InputError("publicKey.content: neither PEM nor base64") from e
    if raw.lstrip().startswith(b"-----BEGIN"):
        return mat.from_pem(raw, "publicKey.content")
    try:
        return mat.from_der_certificate(raw, "publicKey.content")
    except InputError:
        return mat.from_der_public_key(raw, "publicKey.content")


async def _key_criterion(value: object, fetch: KeyFetcher | None) -> tuple[str, ...]:
    if not isinstance(value, dict):
        raise InputError("publicKey: must be a JSON object")
    fmt = value.get("format")
    if fmt != "x509":
        raise InputError(f"publicKey.format: unsupported format {fmt!r} (only x509)")
    content, url = value.get("content"), value.get("url")
    if content and url:
        raise InputError("publicKey: give content or url, not both")
    if url:
        if not isinstance(url, str):
            raise InputError("publicKey.url: must be a string")
        if fetch is None:
            raise InputError(
                "publicKey.url: fetching keys by URL is disabled on this instance; "
                "send publicKey.content"
            )
        content = (await fetch(url)).decode("utf-8", "replace")
    if not content or not isinstance(content, str):
        raise InputError("publicKey.content: missing")
    return (key_term(_public_key_material(content).key_hash()),)


async def parse_query(body: dict[str, Any], fetch: KeyFetcher | None = None) -> Query:
    """Validate a SearchIndex body; at least one criterion is required."""
    unknown = set(body) - {"hash", "email", "subject", "publicKey", "operator"}
    if unknown:
        raise InputError(
            f"{sorted(unknown)[0]}: unknown search field "
            "(hash, email, subject, publicKey, operator)"
        )
    operator = body.get("operator") or "or"
    if operator not in ("and", "or"):
        raise InputError(f"operator: must be 'and' or 'or', got {operator!r}")
    criteria: list[tuple[str, ...]] = []
    if body.get("hash"):
        criteria.append(_hash_criterion(body["hash"]))
    if body.get("email"):
        email = body["email"]
        if not isinstance(email, str) or not _EMAIL.match(email):
            raise InputError("email: must be an e-mail address")
        criteria.append((email_term(email),))
    if body.get("subject"):
        subject = body["subject"]
        if not isinstance(subject, str):
            raise InputError("subject: must be a string")
        criteria.append((subject_term(subject),))
    if body.get("publicKey"):
        criteria.append(await _key_criterion(body["publicKey"], fetch))
    if not criteria:
        raise InputError("search needs at least one of hash, email, subject, publicKey")
    return Query(tuple(criteria), operator)
