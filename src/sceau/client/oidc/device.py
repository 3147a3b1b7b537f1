"""The device authorization grant (RFC 8628): log in on another device with a short code."""

from __future__ import annotations

import sys
import time

from sceau.client.identity import IdentityToken
from sceau.client.oidc.browser import SCOPE
from sceau.client.oidc.discovery import Provider
from sceau.client.oidc.errors import LoginDenied, LoginError, LoginTimeout, ProviderError
from sceau.client.oidc.http import oauth_error, post_form

GRANT = "urn:ietf:params:oauth:grant-type:device_code"
MAX_INTERVAL = 60.0


def device_login(
    provider: Provider, client_id: str, *, client_secret: str | None, timeout: float
) -> IdentityToken:
    """Ask for a code, print where to enter it, poll the token endpoint until done."""
    from sceau.client.oidc.idtoken import check_id_token

    if provider.device_authorization_endpoint is None:
        raise ProviderError(f"{provider.issuer} does not offer the device flow")
    auth = {"client_id": client_id, "scope": SCOPE}
    if client_secret:
        auth["client_secret"] = client_secret
    status, body = post_form(provider.device_authorization_endpoint, auth)
    if status != 200:
        raise LoginError(f"{provider.issuer} refused the device login: {oauth_error(body)}")
    device_code, user_code = body.get("device_code"), body.get("user_code")
    uri = body.get("verification_uri")
    if not all(isinstance(v, str) and v for v in (device_code, user_code, uri)):
        raise ProviderError(f"{provider.issuer} device answer lacks a code or verification_uri")
    interval = _number(body.get("interval"), 5.0)
    expires = _number(body.get("expires_in"), timeout)
    print(f"To log in, visit {uri} and enter the code {user_code}", file=sys.stderr)
    complete = body.get("verification_uri_complete")
    if isinstance(complete, str):
        print(f"(or open {complete})", file=sys.stderr)
    sys.stderr.flush()
    deadline = time.monotonic() + min(expires, timeout)
    poll = {"grant_type": GRANT, "device_code": str(device_code), "client_id": client_id}
    if client_secret:
        poll["client_secret"] = client_secret
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise LoginTimeout("the device code expired before the login was completed")
        time.sleep(min(interval, left))  # the last poll falls on the expiry
        status, body = post_form(provider.token_endpoint, poll)
        if status == 200:
            return check_id_token(
                body.get("id_token"), issuer=provider.issuer, client_id=client_id, nonce=None
            )
        error = body.get("error")
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval = min(interval + 5.0, MAX_INTERVAL)
            continue
        if error == "expired_token":
            raise LoginTimeout("the device code expired before the login was completed")
        if error == "access_denied":
            raise LoginDenied(f"login refused by {provider.issuer}: {oauth_error(body)}")
        raise LoginError(f"{provider.issuer} refused the device login: {oauth_error(body)}")


def _number(value: object, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return default
