"""Authorization code + PKCE through the user's browser, back to a loopback server."""

from __future__ import annotations

import sys
import webbrowser
from urllib.parse import urlencode

from sceau.client.identity import IdentityToken
from sceau.client.oidc.discovery import Provider
from sceau.client.oidc.errors import LoginDenied, LoginError, ProviderError
from sceau.client.oidc.http import oauth_error, post_form
from sceau.client.oidc.idtoken import check_id_token
from sceau.client.oidc.loopback import CallbackServer
from sceau.client.oidc.pkce import Secrets

SCOPE = "openid email"


def authorization_url(provider: Provider, client_id: str, redirect_uri: str, s: Secrets) -> str:
    """The URL the user opens: it binds ``state``, ``nonce`` and the PKCE challenge."""
    if provider.authorization_endpoint is None:
        raise ProviderError(f"{provider.issuer} has no authorization_endpoint")
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "state": s.state,
            "nonce": s.nonce,
            "code_challenge": s.challenge,
            "code_challenge_method": "S256",
        }
    )
    sep = "&" if "?" in provider.authorization_endpoint else "?"
    return f"{provider.authorization_endpoint}{sep}{query}"


def check_callback(query: dict[str, str], provider: Provider, s: Secrets) -> str:
    """The authorization code, once ``state`` (and RFC 9207 ``iss``, if sent) match."""
    if query.get("state") != s.state:
        raise LoginError("the login answer's state does not match this login (not ours?)")
    if "iss" in query and query["iss"] != provider.issuer:
        raise LoginError(f"the login answer comes from {query['iss']!r}, not {provider.issuer!r}")
    if "error" in query:
        raise LoginDenied(f"login refused by {provider.issuer}: {oauth_error(query)}")
    code = query.get("code")
    if not code:
        raise LoginError("the login answer has no authorization code")
    return code


def browser_login(
    provider: Provider, client_id: str, *, client_secret: str | None, timeout: float
) -> IdentityToken:
    """Open the browser (and print the URL for opening by hand), wait, redeem the code."""
    s = Secrets()
    with CallbackServer() as server:
        url = authorization_url(provider, client_id, server.redirect_uri, s)
        print(f"Log in at {provider.issuer}; if no browser opened, visit:", file=sys.stderr)
        print(url, file=sys.stderr, flush=True)
        webbrowser.open(url)
        code = check_callback(server.wait(timeout), provider, s)
        redirect_uri = server.redirect_uri
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "code_verifier": s.verifier,
    }
    if client_secret:
        form["client_secret"] = client_secret
    status, body = post_form(provider.token_endpoint, form)
    if status != 200:
        raise LoginError(f"{provider.issuer} refused the authorization code: {oauth_error(body)}")
    return check_id_token(
        body.get("id_token"), issuer=provider.issuer, client_id=client_id, nonce=s.nonce
    )
