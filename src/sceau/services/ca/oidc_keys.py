"""Fetching and caching issuers' signing keys: OpenID discovery, then the JWKS.

Keys are cached per issuer for ``ttl`` seconds. A token signed with a key id the cache
does not know triggers one refetch (issuers rotate keys), but at most once per
``refetch_interval`` per issuer, so a stream of tokens with made-up key ids cannot turn
the CA into a request amplifier against an issuer. A failed fetch is remembered for
``failure_backoff`` seconds, so requests queued behind an unreachable issuer fail fast
instead of each waiting for its own timeout. The cache holds a bounded number of issuers
(wildcard issuers make the set open-ended), least recently used evicted first.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from sceau.errors import RemoteError
from sceau.telemetry.metrics import JWKS_FAILURES

MAX_DOCUMENT_BYTES = 512 * 1024


@dataclass
class _Entry:
    keys: list[dict[str, Any]]
    fetched_at: float
    jwks_uri: str
    last_forced: float | None = None


class KeyCache:
    """The JWKS of each issuer, fetched over ``http``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        ttl: float = 3600.0,
        refetch_interval: float = 30.0,
        max_issuers: int = 256,
        failure_backoff: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._ttl = ttl
        self._refetch_interval = refetch_interval
        self._max = max_issuers
        self._clock = clock
        self._backoff = failure_backoff
        self._failures: OrderedDict[str, tuple[float, RemoteError]] = OrderedDict()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self._pinned: dict[str, list[dict[str, Any]]] = {}

    def pin(self, issuer: str, keys: list[dict[str, Any]]) -> None:
        """Use these keys for ``issuer`` and never fetch (an issuer served by this process)."""
        self._pinned[issuer] = [k for k in keys if k.get("use", "sig") == "sig"]

    async def keys(self, issuer: str) -> list[dict[str, Any]]:
        """The issuer's JWKs, from cache when fresh."""
        pinned = self._pinned.get(issuer)
        if pinned is not None:
            return pinned
        entry = self._entries.get(issuer)
        if entry is not None and self._clock() - entry.fetched_at < self._ttl:
            self._entries.move_to_end(issuer)
            return entry.keys
        async with self._lock(issuer):
            entry = self._entries.get(issuer)
            if entry is None or self._clock() - entry.fetched_at >= self._ttl:
                entry = await self._fetch(issuer, entry)
            return entry.keys

    async def refresh_for_unknown_kid(self, issuer: str, kid: str) -> list[dict[str, Any]] | None:
        """Refetch once because ``kid`` is unknown; None if rate-limited (no fetch made)."""
        if issuer in self._pinned:
            return None
        async with self._lock(issuer):
            entry = self._entries.get(issuer)
            if entry is not None and any(k.get("kid") == kid for k in entry.keys):
                return entry.keys  # another request already refreshed
            now = self._clock()
            if (
                entry is not None
                and entry.last_forced is not None
                and now - entry.last_forced < self._refetch_interval
            ):
                return None
            entry = await self._fetch(issuer, entry)
            entry.last_forced = now
            return entry.keys

    def _lock(self, issuer: str) -> asyncio.Lock:
        lock = self._locks.get(issuer)
        if lock is None:
            lock = self._locks[issuer] = asyncio.Lock()
        return lock

    async def _fetch(self, issuer: str, old: _Entry | None) -> _Entry:
        failed = self._failures.get(issuer)
        if failed is not None and self._clock() - failed[0] < self._backoff:
            raise RemoteError(f"{failed[1].message} (retrying in a few seconds)")
        try:
            entry = await self._fetch_now(issuer, old)
        except RemoteError as e:
            JWKS_FAILURES.labels(issuer).inc()
            self._failures[issuer] = (self._clock(), e)
            while len(self._failures) > self._max:
                self._failures.popitem(last=False)
            raise
        self._failures.pop(issuer, None)
        return entry

    async def _fetch_now(self, issuer: str, old: _Entry | None) -> _Entry:
        jwks_uri = old.jwks_uri if old is not None else await self._discover(issuer)
        jwks = await self._get_json(jwks_uri, f"JWKS of {issuer}")
        keys = jwks.get("keys")
        if not isinstance(keys, list):
            raise RemoteError(f"JWKS of {issuer} has no 'keys' list")
        usable = [k for k in keys if isinstance(k, dict) and k.get("use", "sig") == "sig"]
        entry = _Entry(usable, self._clock(), jwks_uri, old.last_forced if old else None)
        self._entries[issuer] = entry
        self._entries.move_to_end(issuer)
        while len(self._entries) > self._max:
            evicted, _ = self._entries.popitem(last=False)
            self._locks.pop(evicted, None)
        return entry

    async def _discover(self, issuer: str) -> str:
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        doc = await self._get_json(url, f"OpenID configuration of {issuer}")
        if doc.get("issuer") != issuer:
            raise RemoteError(
                f"OpenID configuration at {url} names issuer {doc.get('issuer')!r}, not {issuer!r}"
            )
        jwks_uri = doc.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise RemoteError(f"OpenID configuration of {issuer} has no jwks_uri")
        scheme = urlsplit(jwks_uri).scheme
        if scheme != "https" and not (scheme == "http" and issuer.startswith("http://")):
            raise RemoteError(f"jwks_uri of {issuer} must be https, got {jwks_uri!r}")
        return jwks_uri

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with self._http.stream("GET", url, headers={"Accept": "application/json"}) as r:
                if r.status_code != 200:
                    raise RemoteError(f"fetching the {what} failed: HTTP {r.status_code}")
                body = bytearray()
                async for chunk in r.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise RemoteError(f"the {what} is larger than {MAX_DOCUMENT_BYTES} bytes")
        except httpx.HTTPError as e:
            raise RemoteError(f"fetching the {what} failed: {type(e).__name__}") from e
        try:
            doc = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RemoteError(f"the {what} is not JSON") from e
        if not isinstance(doc, dict):
            raise RemoteError(f"the {what} is not a JSON object")
        return doc
