"""Bounded JSON requests to the provider: a login must not hang or swallow memory."""

from __future__ import annotations

import json
from typing import Any

import httpx

from sceau.client.oidc.errors import ProviderError

TIMEOUT = 15.0
MAX_BODY = 1 << 20  # discovery documents and token responses are a few kB


def _read(resp: httpx.Response, url: str) -> dict[str, Any]:
    body = b""
    for chunk in resp.iter_bytes():
        body += chunk
        if len(body) > MAX_BODY:
            raise ProviderError(f"{url}: answer larger than {MAX_BODY} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ProviderError(f"{url}: HTTP {resp.status_code}, not JSON") from None
    if not isinstance(data, dict):
        raise ProviderError(f"{url}: answer is not a JSON object")
    return data


def get_json(url: str) -> dict[str, Any]:
    """GET a JSON object; non-200 is a :class:`ProviderError`."""
    try:
        with httpx.stream("GET", url, timeout=TIMEOUT, headers={"Accept": "application/json"}) as r:
            if r.status_code != 200:
                raise ProviderError(f"{url}: HTTP {r.status_code}")
            return _read(r, url)
    except httpx.HTTPError as e:
        raise ProviderError(f"cannot reach {url}: {e}") from None


def post_form(url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """POST a form (OAuth endpoints); return the status and the JSON body, error or not."""
    try:
        with httpx.stream(
            "POST", url, data=form, timeout=TIMEOUT, headers={"Accept": "application/json"}
        ) as r:
            return r.status_code, _read(r, url)
    except httpx.HTTPError as e:
        raise ProviderError(f"cannot reach {url}: {e}") from None


def oauth_error(body: dict[str, Any]) -> str:
    """``error: description`` from an OAuth error body, printable on one line."""
    err = str(body.get("error", "unknown_error"))
    desc = body.get("error_description")
    text = f"{err}: {desc}" if isinstance(desc, str) and desc else err
    return " ".join(text.split())[:300]
