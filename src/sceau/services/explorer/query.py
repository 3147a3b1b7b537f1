"""What a search box query means: one parse, with a readable message for bad input.

``q`` is an e-mail address or identity (URI), a 64-hex SHA-256 (artifact digest, entry
UUID or Rekor's public-key fingerprint), an 80-hex Rekor v1 entry ID, a log index, or a
certificate serial (``serial:<hex>``). Everything here is bounded: the query length, the
index range and the page number, so a query costs at most a few indexed lookups.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sceau.errors import InputError

MAX_QUERY = 512  # characters: an identity URI is far shorter
MAX_INDEX = 2**63 - 1  # the largest log index any API can name (int64)
MAX_PAGE = 50  # pages of PAGE_SIZE: deeper than that, refine the query
PAGE_SIZE = 20

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_HEX80 = re.compile(r"[0-9a-fA-F]{80}")
_DIGEST = re.compile(r"(sha256|sha384|sha512):([0-9a-fA-F]+)", re.IGNORECASE)
_DIGEST_LEN = {"sha256": 64, "sha384": 96, "sha512": 128}
_SERIAL = re.compile(r"serial:([0-9a-fA-F:]{1,80})", re.IGNORECASE)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


class BadQuery(InputError):
    """A search the explorer cannot run; the message is shown to the person who typed it."""


@dataclass(frozen=True)
class Query:
    """``kind`` is one of: email, identity, sha256 (64 hex), digest, entry_id, index,
    serial; ``value`` is normalised (lower-case hex, the index as decimal text)."""

    kind: str
    value: str
    algorithm: str = "sha256"


def parse_query(raw: str) -> Query:
    q = raw.strip()
    if not q:
        raise BadQuery("type an e-mail address, an identity, a SHA-256, a log index or a UUID")
    if len(q) > MAX_QUERY:
        raise BadQuery(f"the query is longer than {MAX_QUERY} characters")
    if not q.isprintable():
        raise BadQuery("the query contains control characters")
    if q.isascii() and q.isdigit():
        if len(q) > 19 or int(q) > MAX_INDEX:
            raise BadQuery(f"log index {q[:40]} is larger than any log can hold (2^63 - 1)")
        return Query("index", str(int(q)))
    if _HEX64.fullmatch(q):
        return Query("sha256", q.lower())
    if _HEX80.fullmatch(q):
        return Query("entry_id", q.lower())
    m = _DIGEST.fullmatch(q)
    if m:
        alg, hexval = m.group(1).lower(), m.group(2).lower()
        if len(hexval) != _DIGEST_LEN[alg]:
            raise BadQuery(f"a {alg} digest is {_DIGEST_LEN[alg]} hex digits, got {len(hexval)}")
        return Query("digest", hexval, alg)
    m = _SERIAL.fullmatch(q)
    if m:
        serial = m.group(1).replace(":", "").lower().lstrip("0") or "0"
        return Query("serial", serial)
    if "://" in q:
        return Query("identity", q)
    if _EMAIL.fullmatch(q):
        return Query("email", q.lower())
    if re.fullmatch(r"[0-9a-fA-F]+", q) or q.lower().startswith("sha256:"):
        raise BadQuery(
            "a SHA-256 is 64 hex digits and an entry ID 80; "
            f"this is {len(q)} characters and not one of them"
        )
    raise BadQuery(
        "not a query the explorer understands: use an e-mail address, an identity URI, "
        "a 64-hex SHA-256, a log index, an entry UUID or serial:<hex>"
    )


def parse_page(raw: str | None) -> int:
    """The 1-based page number of a result list (bounded: deep pages mean a vague query)."""
    if raw is None or raw == "":
        return 1
    if not raw.isascii() or not raw.isdigit() or len(raw) > 4:
        raise BadQuery("page must be a small positive number")
    page = int(raw)
    if not 1 <= page <= MAX_PAGE:
        raise BadQuery(f"page must be between 1 and {MAX_PAGE}: refine the query instead")
    return page
