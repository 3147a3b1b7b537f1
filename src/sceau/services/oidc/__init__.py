"""The development OIDC issuer: real signed ID tokens for local signing and tests.

``DevIssuer`` mints tokens; ``routes`` serves discovery, JWKS and a loopback-only token
endpoint under ``/oidc``. Never trust it in production.
"""

from sceau.services.oidc.http import routes
from sceau.services.oidc.issuer import DevIssuer, github_workflow_claims

__all__ = ["DevIssuer", "github_workflow_claims", "routes"]
