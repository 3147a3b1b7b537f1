"""HTTP face of the dev OIDC issuer, mounted at ``/oidc``.

- ``GET /.well-known/openid-configuration`` and ``GET /github/.well-known/openid-configuration``:
  discovery for the email and the GitHub-shaped issuer URLs;
- ``GET /jwks``: the public key;
- ``POST /token`` with ``{"email": ADDR}`` or ``{"github_workflow": "O/R/.github/workflows/
  F.yml@REF", "claims": {...}}`` → ``{"id_token", "access_token", "token_type", "expires_in"}``.

Minting hands out any identity to whoever asks, so ``/token`` answers only loopback clients
unless ``allow_remote`` is set (and nothing behind a local reverse proxy should set it),
and can be switched off entirely with ``allow_minting=False`` while discovery and JWKS
stay up for tokens minted by ``sceau dev-token``.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sceau.errors import InputError
from sceau.services._http import read_json
from sceau.services.oidc.issuer import DevIssuer

log = logging.getLogger("sceau.oidc")

TOKEN_LIFETIME = 600
_CACHE = {"Cache-Control": "public, max-age=300"}


class Forbidden(InputError):
    """The caller may not use this endpoint."""

    status = 403
    code = "permission_denied"


def routes(
    dev_issuer: DevIssuer, allow_minting: bool = True, *, allow_remote: bool = False
) -> list[Route]:
    """Starlette routes relative to the ``/oidc`` mount point."""
    warned = False

    async def email_discovery(request: Request) -> Response:
        return JSONResponse(dev_issuer.discovery(dev_issuer.issuer_url), headers=_CACHE)

    async def github_discovery(request: Request) -> Response:
        return JSONResponse(dev_issuer.discovery(dev_issuer.github_issuer_url), headers=_CACHE)

    async def jwks(request: Request) -> Response:
        return JSONResponse(dev_issuer.jwks(), headers=_CACHE)

    async def token(request: Request) -> Response:
        nonlocal warned
        if not allow_minting:
            raise Forbidden("token minting is disabled on this dev OIDC issuer")
        if not allow_remote and not _is_loopback(request):
            raise Forbidden("the dev OIDC issuer mints tokens for loopback clients only")
        body = await read_json(request, limit=64 * 1024)
        id_token = _mint(dev_issuer, body)
        if not warned:
            warned = True
            log.warning(
                "DEVELOPMENT ONLY: the dev OIDC issuer at %s minted a token on request; "
                "anyone who can reach /oidc/token can sign as anyone. Never trust this "
                "issuer in production.",
                dev_issuer.issuer_url,
            )
        return JSONResponse(
            {
                "id_token": id_token,
                "access_token": id_token,
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
            },
            headers={"Cache-Control": "no-store"},
        )

    return [
        Route("/.well-known/openid-configuration", email_discovery, methods=["GET"]),
        Route("/github/.well-known/openid-configuration", github_discovery, methods=["GET"]),
        Route("/jwks", jwks, methods=["GET"]),
        Route("/token", token, methods=["POST"]),
    ]


def _mint(dev_issuer: DevIssuer, body: dict[str, Any]) -> str:
    if "email" in body:
        if set(body) != {"email"}:
            raise InputError('an email token request has only the field "email"')
        if not isinstance(body["email"], str):
            raise InputError('"email" must be a string')
        return dev_issuer.mint_email(body["email"], lifetime=TOKEN_LIFETIME)
    if "github_workflow" in body:
        unknown = set(body) - {"github_workflow", "claims"}
        if unknown:
            raise InputError(f"unknown field(s): {', '.join(sorted(unknown))}")
        workflow = body["github_workflow"]
        claims = body.get("claims", {})
        if not isinstance(workflow, str):
            raise InputError('"github_workflow" must be a string')
        if not isinstance(claims, dict) or not all(
            isinstance(v, str | int | bool) for v in claims.values()
        ):
            raise InputError('"claims" must be an object of strings, numbers or booleans')
        return dev_issuer.mint_github_workflow(workflow, claims, lifetime=TOKEN_LIFETIME)
    raise InputError('token request needs "email" or "github_workflow"')


def _is_loopback(request: Request) -> bool:
    client = request.client
    if client is None:
        return False
    try:
        return ipaddress.ip_address(client.host).is_loopback
    except ValueError:
        return False
