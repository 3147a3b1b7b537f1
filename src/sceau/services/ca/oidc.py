"""OIDC identity-token verification for the CA (what Fulcio does with go-oidc).

Steps, in order; each failure is an :class:`~sceau.errors.Unauthenticated` naming why:

1. size cap, then parse the JWS header and (unverified) payload — *malformed*;
2. ``alg`` must be on the allow-list (RS*/PS*/ES*/EdDSA; never ``none`` or HS*, so a
   public key can never be used as an HMAC secret);
3. ``iss`` must be a configured issuer, exactly or through a wildcard meta-issuer;
4. the issuer's key: OpenID discovery → JWKS (cached, :mod:`.oidc_keys`), chosen by
   ``kid``; an unknown ``kid`` causes one rate-limited refetch;
5. signature, then ``iss``, ``aud`` ∋ the issuer's client id, ``exp``/``nbf``/``iat``
   (with ``leeway``) — all by PyJWT against the selected :class:`jwt.PyJWK`;
6. the issuer type turns the claims into a :class:`~.identity.Principal`.

Failures to reach the issuer are :class:`~sceau.errors.RemoteError` (502): the token may
be fine, the CA just cannot check it now.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx
import jwt

from sceau.errors import Unauthenticated
from sceau.services._http import has_lone_surrogate
from sceau.services.ca.identity import Principal, principal_from_claims
from sceau.services.ca.issuers import IssuerConfig, IssuerSet
from sceau.services.ca.oidc_keys import KeyCache

ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
DEFAULT_MAX_TOKEN_BYTES = 16 * 1024
MIN_RSA_BITS = 2048
_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat"]
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_PYJWK_CACHE_SIZE = 1024


class TokenVerifier:
    """Verifies tokens against ``issuers``; one per CA process (it owns the key cache)."""

    def __init__(
        self,
        issuers: IssuerSet,
        http: httpx.AsyncClient | None = None,
        *,
        leeway: float = 60.0,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        jwks_ttl: float = 3600.0,
        refetch_interval: float = 30.0,
        algorithms: Iterable[str] = ALLOWED_ALGORITHMS,
        pinned_keys: Mapping[str, list[dict[str, Any]]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``pinned_keys`` maps issuer URL → JWKs known in-process (e.g. the dev issuer's
        ``jwks()["keys"]`` when it runs in the same server): used as is, never fetched.
        ``clock`` times the JWKS cache (tests move it instead of sleeping)."""
        self.issuers = issuers
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        self._keys = KeyCache(
            self._http, ttl=jwks_ttl, refetch_interval=refetch_interval, clock=clock
        )
        for issuer_url, keys in (pinned_keys or {}).items():
            self._keys.pin(issuer_url, keys)
        self._leeway = leeway
        self._max_bytes = max_token_bytes
        self._algorithms = frozenset(algorithms) & ALLOWED_ALGORITHMS
        # id(jwk dict), alg -> (the dict, its PyJWK); the dict is kept so ids are not reused
        self._pyjwks: dict[tuple[int, str], tuple[dict[str, Any], jwt.PyJWK]] = {}

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def verify(self, token: str) -> Principal:
        """The principal the token proves, or :class:`Unauthenticated` saying why not."""
        if not isinstance(token, str) or not token:
            raise Unauthenticated("no OIDC identity token")
        if len(token) > self._max_bytes:
            raise Unauthenticated(f"token is larger than {self._max_bytes} bytes")
        header, unverified = _parse(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise Unauthenticated(f"token signature algorithm {alg!r} is not allowed")
        iss = unverified.get("iss")
        if not isinstance(iss, str) or not iss:
            raise Unauthenticated("token has no 'iss' claim")
        cfg = self.issuers.lookup(iss)
        if cfg is None:
            raise Unauthenticated(f"unknown issuer {iss!r}: not configured on this CA")
        claims = await self._verified_claims(token, header, cfg)
        return principal_from_claims(cfg, claims)

    async def _verified_claims(
        self, token: str, header: dict[str, Any], cfg: IssuerConfig
    ) -> dict[str, Any]:
        alg = header["alg"]
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise Unauthenticated("token header 'kid' is not a string")
        keys = await self._keys.keys(cfg.url)
        candidates = _candidates(keys, kid, alg)
        if kid is not None and not any(k.get("kid") == kid for k in keys):
            refreshed = await self._keys.refresh_for_unknown_kid(cfg.url, kid)
            if refreshed is None or not any(k.get("kid") == kid for k in refreshed):
                raise Unauthenticated(f"unknown key id {kid!r} for issuer {cfg.url}")
            candidates = _candidates(refreshed, kid, alg)
        if not candidates:
            raise Unauthenticated(f"issuer {cfg.url} has no {alg} key matching the token")
        for jwk in candidates:
            key = self._pyjwk(jwk, alg)
            try:
                return jwt.decode(
                    token,
                    key=key,
                    algorithms=[alg],
                    audience=cfg.client_id,
                    issuer=cfg.url,
                    leeway=self._leeway,
                    options={"require": _REQUIRED_CLAIMS, "verify_signature": True},
                )
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as e:
                raise _explain(e, cfg) from e
        raise Unauthenticated(f"token signature does not verify with the keys of {cfg.url}")

    def _pyjwk(self, jwk: dict[str, Any], alg: str) -> jwt.PyJWK:
        cached = self._pyjwks.get((id(jwk), alg))
        if cached is not None and cached[0] is jwk:
            return cached[1]
        key = _pyjwk(jwk, alg)
        if len(self._pyjwks) >= _PYJWK_CACHE_SIZE:
            self._pyjwks.clear()
        self._pyjwks[(id(jwk), alg)] = (jwk, key)
        return key


def _parse(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, unverified: only to route the token to an issuer and a key.

    Every security decision is PyJWT's (``jwt.decode`` re-parses the token strictly); this
    cheap parse just avoids decoding it three times.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise Unauthenticated("malformed token: not a compact JWS (header.payload.signature)")
    header = _b64_json(parts[0], "header")
    claims = _b64_json(parts[1], "payload")
    return header, claims


def _b64_json(segment: str, what: str) -> dict[str, Any]:
    if not _B64URL.fullmatch(segment):
        raise Unauthenticated(f"malformed token: {what} is not base64url")
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError) as e:
        raise Unauthenticated(f"malformed token: {what} is not JSON") from e
    except RecursionError as e:
        raise Unauthenticated(f"malformed token: {what} is nested too deeply") from e
    if not isinstance(value, dict):
        raise Unauthenticated(f"malformed token: {what} is not a JSON object")
    if has_lone_surrogate(value):  # no claim of it could be encoded into a certificate
        raise Unauthenticated(f"malformed token: {what} holds a lone UTF-16 surrogate")
    return value


def _candidates(keys: list[dict[str, Any]], kid: str | None, alg: str) -> list[dict[str, Any]]:
    """Keys that may have signed a token with this ``kid`` and ``alg`` (no kid: all fitting)."""
    out = []
    for jwk in keys:
        if kid is not None and jwk.get("kid") != kid:
            continue
        if "alg" in jwk and jwk["alg"] != alg:
            continue
        kty, crv = jwk.get("kty"), jwk.get("crv")
        if alg[:2] in ("RS", "PS") and kty != "RSA":
            continue
        if alg in _EC_CURVES and (kty != "EC" or crv != _EC_CURVES[alg]):
            continue
        if alg == "EdDSA" and (kty != "OKP" or crv not in ("Ed25519", "Ed448")):
            continue
        out.append(jwk)
    return out


def _pyjwk(jwk: dict[str, Any], alg: str) -> jwt.PyJWK:
    try:
        key = jwt.PyJWK(jwk, algorithm=alg)
    except (jwt.PyJWTError, ValueError, TypeError) as e:
        raise Unauthenticated(f"issuer key {jwk.get('kid')!r} is not a usable {alg} key") from e
    if alg[:2] in ("RS", "PS") and key.key.key_size < MIN_RSA_BITS:
        raise Unauthenticated(f"issuer key {jwk.get('kid')!r} is a too-small RSA key")
    return key


def _explain(e: jwt.PyJWTError, cfg: IssuerConfig) -> Unauthenticated:
    """PyJWT's exception → a message a signer can act on."""
    if isinstance(e, jwt.ExpiredSignatureError):
        return Unauthenticated("token expired")
    if isinstance(e, jwt.ImmatureSignatureError):
        return Unauthenticated(f"token not yet valid ({e})")
    if isinstance(e, jwt.InvalidAudienceError):
        return Unauthenticated(f"wrong audience: token 'aud' must contain {cfg.client_id!r}")
    if isinstance(e, jwt.InvalidIssuerError):
        return Unauthenticated(f"wrong issuer: expected {cfg.url!r}")
    if isinstance(e, jwt.MissingRequiredClaimError):
        return Unauthenticated(f"token has no {e.claim!r} claim")
    if isinstance(e, jwt.InvalidAlgorithmError):
        return Unauthenticated(f"token signature algorithm not allowed ({e})")
    return Unauthenticated(f"malformed token: {e}")
