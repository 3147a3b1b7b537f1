"""How the CA reaches a CT log: one small interface, an HTTP client and an in-process shortcut.

The CA and the CT log may run on different hosts (docs/architecture.md), so the CA only ever sees
:class:`CTClient`. :class:`HTTPCTClient` speaks RFC 6962 ``add-pre-chain`` over HTTP
(what Fulcio does against its CT log); :class:`InProcessCTClient` calls a log object
living in the same process (``sceau serve`` with both services) and skips the HTTP hop.
Whatever goes wrong on the log side is the CA's upstream failing: :class:`RemoteError`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Protocol

import httpx

from sceau.errors import RemoteError, SceauError
from sceau.services.ct.rfc6962 import SCT, CodecError

MAX_RESPONSE = 64 * 1024


class CTClient(Protocol):
    async def add_pre_chain(self, chain: Sequence[bytes]) -> SCT:
        """Submit ``[precert DER, issuer DER, …, root DER]``; return the log's SCT."""
        ...


class PreChainSubmitter(Protocol):
    """What an in-process CT log offers (``sceau.services.ct.CTLog`` satisfies it)."""

    async def add_pre_chain(self, chain: Sequence[bytes]) -> SCT: ...


class InProcessCTClient:
    """Calls a CT log object directly; its refusals become :class:`RemoteError` for the CA."""

    def __init__(self, log: PreChainSubmitter) -> None:
        self._log = log

    async def add_pre_chain(self, chain: Sequence[bytes]) -> SCT:
        try:
            return await self._log.add_pre_chain(list(chain))
        except SceauError as e:
            if e.status == 503:
                raise  # overload passes through: the caller should retry later
            raise RemoteError(f"CT log refused the precertificate: {e.message}") from e


class HTTPCTClient:
    """RFC 6962 submission over HTTP(S); ``base_url`` is the prefix before ``/ct/v1``."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + "/ct/v1/add-pre-chain"
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._owned = client is None

    async def aclose(self) -> None:
        if self._owned:
            await self._client.aclose()

    async def add_pre_chain(self, chain: Sequence[bytes]) -> SCT:
        body = {"chain": [base64.b64encode(c).decode() for c in chain]}
        try:
            resp = await self._client.post(self._url, json=body)
        except httpx.HTTPError as e:
            raise RemoteError(f"CT log unreachable: {type(e).__name__}: {e}") from e
        if resp.status_code != 200:
            raise RemoteError(f"CT log answered {resp.status_code}: {resp.text[:200]}")
        if len(resp.content) > MAX_RESPONSE:
            raise RemoteError("CT log response is too large")
        try:
            return SCT.from_json(json.loads(resp.content))
        except (ValueError, CodecError) as e:
            raise RemoteError(f"CT log answered a malformed SCT: {e}") from e
