"""The development OIDC issuer: real signed ID tokens for local signing and tests.

``DevIssuer`` mints tokens; ``routes`` serves discovery, JWKS and a loopback-only token
endpoint under ``/oidc``. Never trust it in production. ``routes`` is imported lazily so
``sceau dev-token`` does not load the web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sceau.services.oidc.issuer import KEY_PATH, MOUNT, DevIssuer, github_workflow_claims

if TYPE_CHECKING:
    from sceau.services.oidc.http import routes

__all__ = ["KEY_PATH", "MOUNT", "DevIssuer", "github_workflow_claims", "routes"]


def __getattr__(name: str) -> Any:
    if name == "routes":
        from sceau.services.oidc.http import routes

        return routes
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
