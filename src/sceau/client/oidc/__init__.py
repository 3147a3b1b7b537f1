"""Logging a person in at an OpenID provider to get a Sigstore identity token.

Two flows, both public-client OAuth 2.0 with the ID token kept in memory only:

- :mod:`.browser`: authorization code + PKCE (S256) through the user's browser, the code
  coming back to a one-shot loopback server (RFC 8252);
- :mod:`.device`: the device authorization grant (RFC 8628) for machines without a browser.

:func:`login` picks one; :mod:`.idtoken` checks what comes back (``iss``, ``aud`` = the
client id, ``nonce``) before the CA sees it.
"""

from __future__ import annotations

from sceau.client.identity import IdentityToken
from sceau.client.oidc.errors import LoginError


def login(
    issuer: str,
    client_id: str,
    *,
    client_secret: str | None = None,
    device: bool = False,
    timeout: float = 300.0,
) -> IdentityToken:
    """Log the user in at ``issuer`` and return the checked ID token."""
    from sceau.client.oidc.discovery import discover

    provider = discover(issuer)
    if device:
        from sceau.client.oidc.device import device_login

        return device_login(provider, client_id, client_secret=client_secret, timeout=timeout)
    from sceau.client.oidc.browser import browser_login

    return browser_login(provider, client_id, client_secret=client_secret, timeout=timeout)


__all__ = ["LoginError", "login"]
