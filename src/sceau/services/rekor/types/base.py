"""Shared shapes of the entry types: size limits and the verified entry."""

from __future__ import annotations

from dataclasses import dataclass, field

from sceau.errors import PayloadTooLarge


@dataclass(frozen=True)
class Limits:
    """Size limits on what an entry may carry (bytes).

    ``attestation`` mirrors the public Rekor's ``max_attestation_size`` (100 KiB): the
    largest DSSE envelope (dsse 0.0.1) or decoded in-toto payload (intoto 0.0.2) the v1
    log accepts. ``hashedrekord`` bounds a v1 hashedrekord request, whose legitimate size
    is a few KiB (a certificate and a signature). ``v1_body``/``v2_body`` bound the whole
    HTTP request body of each API.
    """

    v1_body: int = 1024 * 1024
    v2_body: int = 4 * 1024 * 1024
    attestation: int = 100 * 1024
    hashedrekord: int = 64 * 1024


@dataclass(frozen=True)
class Entry:
    """A verified entry ready to be appended: the canonical leaf and its index terms."""

    kind: str
    api_version: str
    body: bytes
    keys: tuple[str, ...] = field(default=())


def too_large(what: str, size: int, limit: int, setting: str) -> PayloadTooLarge:
    return PayloadTooLarge(f"{what} is {size} bytes, over the limit of {limit} bytes ({setting})")
