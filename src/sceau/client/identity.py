"""Where the signer's OIDC identity token comes from, and a first look at it.

Sources, first match wins: an explicit token (``--identity-token``), the environment
(``SIGSTORE_ID_TOKEN`` as sigstore-js and cosign read it, ``SIGSTORE_IDENTITY_TOKEN`` as
sigstore-python does), GitHub Actions' ambient token (``ACTIONS_ID_TOKEN_REQUEST_URL`` /
``_TOKEN``, audience ``sigstore``), and — for a local instance — its development issuer's
``POST <oidc url>/token``. Like sigstore-python we do not verify the JWT signature (the CA
does); we check the claims the CA needs so a bad token fails here with a clear message
instead of as a CA error.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sceau.errors import RemoteError, Unauthenticated

AUDIENCE = "sigstore"
LEEWAY = 5  # seconds of clock skew tolerated, as sigstore-python
ENV_TOKENS = ("SIGSTORE_ID_TOKEN", "SIGSTORE_IDENTITY_TOKEN")
TIMEOUT = 10.0
# Issuers whose certificate identity is a claim other than ``sub`` (sigstore-python's list).
_IDENTITY_CLAIM = {
    "https://accounts.google.com": "email",
    "https://oauth2.sigstore.dev/auth": "email",
    "https://oauth2.sigstage.dev/auth": "email",
}


class IdentityError(Unauthenticated):
    """No usable identity token: missing, malformed, expired or not for Sigstore."""


@dataclass(frozen=True)
class IdentityToken:
    """An unverified OIDC ID token with the claims Sigstore relies on."""

    raw: str = field(repr=False)
    issuer: str
    subject: str
    identity: str  # what the certificate will name: ``email`` for email issuers, else ``sub``
    expires: datetime
    claims: Mapping[str, Any] = field(repr=False, default_factory=dict)

    def __str__(self) -> str:
        return self.raw

    @property
    def challenge(self) -> str:
        """What a proof of possession signs: the ``email`` claim if present, else ``sub``
        (Fulcio's principal name; sigstore-js's rule)."""
        email = self.claims.get("email")
        return email if isinstance(email, str) and email else self.subject

    def expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) >= self.expires

    @classmethod
    def parse(cls, raw: str, *, now: datetime | None = None) -> IdentityToken:
        """Decode and check a JWT's claims; raise :class:`IdentityError` with one line."""
        raw = raw.strip()
        claims = _claims(raw)
        for name in ("iss", "sub", "aud", "iat", "exp"):
            if name not in claims:
                raise IdentityError(f"identity token lacks the {name!r} claim")
        aud = claims["aud"]
        audiences = aud if isinstance(aud, list) else [aud]
        if AUDIENCE not in audiences:
            raise IdentityError(f"identity token audience is {aud!r}, not {AUDIENCE!r}")
        iss, sub = claims["iss"], claims["sub"]
        if not isinstance(iss, str) or not isinstance(sub, str):
            raise IdentityError("identity token 'iss' and 'sub' must be strings")
        stamp = (now or datetime.now(UTC)).timestamp()
        exp, nbf, iat = claims["exp"], claims.get("nbf"), claims["iat"]
        for name, value in (("exp", exp), ("iat", iat), ("nbf", nbf)):
            if value is not None and (
                not isinstance(value, int | float) or isinstance(value, bool)
            ):
                raise IdentityError(f"identity token {name!r} claim is not a number")
        try:
            expires = datetime.fromtimestamp(exp, UTC)
        except (OverflowError, ValueError, OSError):
            raise IdentityError("identity token 'exp' claim is out of range") from None
        if stamp >= exp + LEEWAY:
            when = expires
            raise IdentityError(f"identity token expired at {when:%Y-%m-%dT%H:%M:%SZ}")
        if nbf is not None and stamp + LEEWAY < nbf:
            raise IdentityError("identity token is not valid yet (nbf in the future)")
        if stamp + LEEWAY < iat:
            raise IdentityError("identity token was issued in the future (iat)")
        claim = _IDENTITY_CLAIM.get(iss, "sub")
        identity = claims.get(claim)
        if not isinstance(identity, str) or not identity:
            raise IdentityError(f"identity token lacks the {claim!r} claim its issuer needs")
        return cls(raw, iss, sub, identity, expires, claims)


def _claims(raw: str) -> dict[str, Any]:
    parts = raw.split(".")
    if len(parts) != 3 or not all(parts):
        raise IdentityError("identity token is not a JWT (expected three dot-separated parts)")
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise IdentityError("identity token payload is not base64url JSON") from None
    if not isinstance(claims, dict):
        raise IdentityError("identity token payload is not a JSON object")
    return claims


def token_from_environment(env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    for name in ENV_TOKENS:
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def github_actions_token(
    env: Mapping[str, str] | None = None, *, audience: str = AUDIENCE
) -> str | None:
    """GitHub Actions' ambient token (``permissions: id-token: write``), or None outside it."""
    env = os.environ if env is None else env
    url, bearer = env.get("ACTIONS_ID_TOKEN_REQUEST_URL"), env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not url or not bearer:
        return None
    import httpx

    try:
        resp = httpx.get(
            url,
            params={"audience": audience},
            headers={"Authorization": f"bearer {bearer}"},
            timeout=TIMEOUT,
        )
    except httpx.HTTPError as e:
        raise RemoteError(f"GitHub Actions token request failed: {e}") from None
    if resp.status_code != 200:
        raise RemoteError(f"GitHub Actions token request failed: HTTP {resp.status_code}")
    try:
        value = resp.json()["value"]
    except (ValueError, KeyError, TypeError):
        raise RemoteError("GitHub Actions token response has no 'value'") from None
    if not isinstance(value, str):
        raise RemoteError("GitHub Actions token response 'value' is not a string")
    return value


def dev_issuer_token(oidc_url: str, email: str) -> str:
    """Ask an instance's development issuer (``<oidc_url>/token``, loopback only) for a token."""
    import httpx

    url = oidc_url.rstrip("/") + "/token"
    try:
        resp = httpx.post(url, json={"email": email}, timeout=TIMEOUT)
    except httpx.HTTPError as e:
        raise RemoteError(f"cannot reach the dev OIDC issuer at {url}: {e}") from None
    if resp.status_code != 200:
        raise RemoteError(f"dev OIDC issuer at {url}: {_message(resp)}")
    try:
        token = resp.json()["id_token"]
    except (ValueError, KeyError, TypeError):
        raise RemoteError(f"dev OIDC issuer at {url} answered without an id_token") from None
    if not isinstance(token, str):
        raise RemoteError(f"dev OIDC issuer at {url} answered a non-string id_token")
    return token


def get_identity_token(
    explicit: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    dev_email: str | None = None,
    oidc_url: str | None = None,
    ambient: bool = True,
) -> IdentityToken:
    """The first token available, checked; else IdentityError. Order: the explicit token,
    the dev issuer when ``dev_email`` is asked for, the environment, GitHub Actions."""
    raw = explicit.strip() if explicit else None
    if raw and dev_email:
        raise IdentityError("give either an identity token or --dev-email, not both")
    if not raw and dev_email:
        if not oidc_url:
            raise IdentityError("--dev-email needs a signing config that names an OIDC issuer")
        raw = dev_issuer_token(oidc_url, dev_email)
    if not raw:
        raw = token_from_environment(env)
    if not raw and ambient:
        raw = github_actions_token(env)
    if not raw:
        raise IdentityError(
            "no identity token: pass --identity-token, set SIGSTORE_ID_TOKEN, "
            "or use --dev-email with a local instance"
        )
    return IdentityToken.parse(raw)


def _message(resp: Any) -> str:
    try:
        body = resp.json()
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return f"HTTP {resp.status_code}: {body['message']}"
    except ValueError:
        pass
    return f"HTTP {resp.status_code}"
