"""Check the ID token a login returned before it leaves this process.

The CA verifies the signature; here we refuse what is plainly not ours, so a mix-up fails
with a clear message: ``iss`` must be the provider, ``aud`` must hold the client id (with
``azp`` naming it when there are several audiences), ``nonce`` must be the one we sent.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

from sceau.client.identity import LEEWAY, IdentityToken
from sceau.client.oidc.errors import LoginError


def _claims(raw: str) -> dict[str, Any]:
    parts = raw.split(".")
    if len(parts) != 3:
        raise LoginError("the provider's id_token is not a JWT")
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise LoginError("the provider's id_token payload is not base64url JSON") from None
    if not isinstance(claims, dict):
        raise LoginError("the provider's id_token payload is not a JSON object")
    return claims


def check_id_token(raw: object, *, issuer: str, client_id: str, nonce: str | None) -> IdentityToken:
    """An :class:`IdentityToken` for ``raw`` if it is for us, else :class:`LoginError`."""
    if not isinstance(raw, str) or not raw:
        raise LoginError("the provider answered without an id_token (was 'openid' granted?)")
    claims = _claims(raw)
    if claims.get("iss") != issuer:
        raise LoginError(f"id_token issuer is {claims.get('iss')!r}, expected {issuer!r}")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if client_id not in audiences:
        raise LoginError(f"id_token audience is {aud!r}, not the client id {client_id!r}")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise LoginError("id_token has several audiences and 'azp' is not the client id")
    if nonce is not None:
        got = claims.get("nonce")
        if not isinstance(got, str) or not hmac.compare_digest(got, nonce):
            raise LoginError("id_token nonce does not match this login (replayed token?)")
    sub, exp = claims.get("sub"), claims.get("exp")
    if not isinstance(sub, str) or not sub:
        raise LoginError("id_token lacks 'sub'")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise LoginError("id_token lacks a numeric 'exp'")
    if time.time() >= exp + LEEWAY:
        raise LoginError("id_token is already expired (check this machine's clock)")
    email = claims.get("email")
    identity = email if isinstance(email, str) and email else sub
    return IdentityToken(raw, issuer, sub, identity, datetime.fromtimestamp(exp, UTC), claims)
