"""Rekor entry types: request in, verified canonical leaf and search terms out.

Each module turns one kind/version of request into an :class:`Entry` — after checking the
signature against the submitted certificate or key — and nothing else: no I/O, no log.
:func:`from_v1_request` and :func:`from_v2_request` dispatch on the request shape.
"""

from __future__ import annotations

from typing import Any

from sceau.errors import InputError
from sceau.services.rekor.canonical import obj, string
from sceau.services.rekor.types import (
    dsse_v001,
    dsse_v002,
    hashedrekord_v001,
    hashedrekord_v002,
    intoto_v002,
)
from sceau.services.rekor.types.base import Entry, Limits, too_large

__all__ = ["Entry", "Limits", "from_v1_request", "from_v2_request"]


def from_v1_request(proposed: dict[str, Any], limits: Limits, raw_size: int = 0) -> Entry:
    """Parse a Rekor v1 ``ProposedEntry`` (``{"kind","apiVersion","spec"}``)."""
    kind = string(proposed, "kind", "kind")
    version = string(proposed, "apiVersion", "apiVersion")
    spec = obj(proposed, "spec", "spec")
    if kind == "hashedrekord":
        if version != "0.0.1":
            raise InputError(f"apiVersion: unsupported version {version!r} for kind hashedrekord")
        if raw_size > limits.hashedrekord:
            raise too_large("hashedrekord request", raw_size, limits.hashedrekord, "hashedrekord")
        return hashedrekord_v001.parse(spec)
    if kind == "dsse":
        if version != "0.0.1":
            raise InputError(f"apiVersion: unsupported version {version!r} for kind dsse")
        return dsse_v001.parse(spec, limits)
    if kind == "intoto":
        if version != "0.0.2":
            raise InputError(f"apiVersion: unsupported version {version!r} for kind intoto")
        return intoto_v002.parse(spec, limits)
    raise InputError(f"kind: unsupported kind {kind!r} (hashedrekord, dsse, intoto)")


def from_v2_request(request: dict[str, Any], limits: Limits) -> Entry:
    """Parse a Rekor v2 ``CreateEntryRequest`` (one of two oneof members)."""
    members = [k for k in request if k in ("hashedRekordRequestV002", "dsseRequestV002")]
    unknown = [k for k in request if k not in ("hashedRekordRequestV002", "dsseRequestV002")]
    if unknown:
        raise InputError(f"{unknown[0]}: unknown field (hashedRekordRequestV002, dsseRequestV002)")
    if len(members) != 1:
        raise InputError(
            "request must hold exactly one of hashedRekordRequestV002, dsseRequestV002"
        )
    body = request[members[0]]
    if not isinstance(body, dict):
        raise InputError(f"{members[0]}: must be a JSON object")
    if members[0] == "hashedRekordRequestV002":
        return hashedrekord_v002.parse(body)
    return dsse_v002.parse(body, limits)
