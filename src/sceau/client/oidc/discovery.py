"""OpenID Provider discovery (``/.well-known/openid-configuration``): the endpoints to use."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sceau.client.oidc.errors import ProviderError
from sceau.client.oidc.http import get_json


@dataclass(frozen=True)
class Provider:
    """What a login needs from a provider's metadata."""

    issuer: str
    authorization_endpoint: str | None
    token_endpoint: str
    device_authorization_endpoint: str | None


def _endpoint(url: object, name: str, issuer: str) -> str:
    if not isinstance(url, str):
        raise ProviderError(f"{issuer} metadata lacks {name}")
    parts = urlsplit(url)
    # http only where the issuer itself is http (a test or loopback provider).
    if parts.scheme != "https" and not (parts.scheme == "http" and issuer.startswith("http://")):
        raise ProviderError(f"{issuer} metadata: {name} must be https, got {url!r}")
    return url


def discover(issuer: str) -> Provider:
    """Fetch and check the metadata; its ``issuer`` must be exactly the one asked for."""
    issuer = issuer.rstrip("/")
    if urlsplit(issuer).scheme not in ("https", "http"):
        raise ProviderError(f"OIDC issuer must be an http(s) URL, got {issuer!r}")
    meta = get_json(issuer + "/.well-known/openid-configuration")
    if str(meta.get("issuer", "")).rstrip("/") != issuer:
        raise ProviderError(f"{issuer} metadata names another issuer: {meta.get('issuer')!r}")
    auth = meta.get("authorization_endpoint")
    device = meta.get("device_authorization_endpoint")
    return Provider(
        issuer=str(meta["issuer"]),
        authorization_endpoint=_endpoint(auth, "authorization_endpoint", issuer) if auth else None,
        token_endpoint=_endpoint(meta.get("token_endpoint"), "token_endpoint", issuer),
        device_authorization_endpoint=(
            _endpoint(device, "device_authorization_endpoint", issuer) if device else None
        ),
    )
