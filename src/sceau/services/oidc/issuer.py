"""A development OIDC issuer: mints real, signed ID tokens for local signing and tests.

One key signs for two issuer URLs (see :mod:`sceau.services.ca.issuers`):

- ``issuer_url`` (normally ``<instance>/oidc``) — email identities (``mint_email``);
- ``issuer_url + "/github"`` — GitHub-Actions-shaped workload identities
  (``mint_github_workflow``), which the CA maps with Fulcio's ``github-workflow``
  metadata, so the certificate says ``https://github.com/OWNER/REPO/.github/workflows/
  F.yml@REF`` while its issuer extension names this dev issuer, never GitHub.

Anyone who can reach the token endpoint can be anyone: never trust this issuer in
production (the HTTP routes refuse remote clients unless told otherwise).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from typing import Any

import jwt
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

from sceau.errors import InputError
from sceau.keys import Algorithm, FileSigner

MOUNT = "/oidc"  # where the routes live on an instance: issuer URL = <instance url>/oidc
GITHUB_SUFFIX = "/github"  # same convention as sceau.services.ca.issuers.DEV_GITHUB_SUFFIX
KEY_PATH = "keys/dev-oidc.pem"  # the signing key, relative to the instance directory
AUDIENCE = "sigstore"
_JWS_ALG = {
    Algorithm.ECDSA_P256: "ES256",
    Algorithm.ECDSA_P384: "ES384",
    Algorithm.ED25519: "EdDSA",
}
_WORKFLOW = re.compile(
    r"(?P<owner>[A-Za-z0-9_.-]+)/(?P<repo>[A-Za-z0-9_.-]+)"
    r"/\.github/workflows/(?P<file>[^/@\s]+\.ya?ml)@(?P<ref>\S+)"
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class DevIssuer:
    """Signs ID tokens with ``signer`` (ES256 for P-256) as issuer ``issuer_url``."""

    def __init__(self, signer: FileSigner, issuer_url: str) -> None:
        self.signer = signer
        self.issuer_url = issuer_url.rstrip("/")
        self.github_issuer_url = self.issuer_url + GITHUB_SUFFIX
        self.algorithm = _JWS_ALG[signer.algorithm]
        self.jwk = self._public_jwk()
        self.kid = self.jwk["kid"]

    @classmethod
    def for_instance(cls, signer: FileSigner, instance_url: str) -> DevIssuer:
        """The dev issuer of an instance served at ``instance_url`` (issuer ``<url>/oidc``)."""
        return cls(signer, instance_url.rstrip("/") + MOUNT)

    def _public_jwk(self) -> dict[str, Any]:
        pub = self.signer.public_key()
        algo = OKPAlgorithm if self.signer.algorithm is Algorithm.ED25519 else ECAlgorithm
        jwk: dict[str, Any] = algo.to_jwk(pub, as_dict=True)  # type: ignore[call-overload]
        # RFC 7638 thumbprint: SHA-256 over the required members, sorted, no spaces.
        required = {k: jwk[k] for k in ("crv", "kty", "x", "y") if k in jwk}
        canonical = json.dumps(required, sort_keys=True, separators=(",", ":")).encode()
        kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
        return {**jwk, "kid": kid, "use": "sig", "alg": self.algorithm}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk]}

    def discovery(self, issuer: str) -> dict[str, Any]:
        """The OpenID configuration document for one of this issuer's two URLs."""
        return {
            "issuer": issuer,
            "jwks_uri": self.issuer_url + "/jwks",
            "token_endpoint": self.issuer_url + "/token",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.algorithm],
            "claims_supported": ["aud", "email", "email_verified", "exp", "iat", "iss", "sub"],
        }

    def mint(self, claims: dict[str, Any], lifetime: int = 600) -> str:
        """Sign ``claims``; missing iss/aud/iat/nbf/exp/sub get defaults (given ones win)."""
        now = int(time.time())
        full = dict(claims)
        full.setdefault("iss", self.issuer_url)
        full.setdefault("aud", AUDIENCE)
        full.setdefault("iat", now)
        full.setdefault("nbf", now)
        full.setdefault("exp", now + lifetime)
        full.setdefault("sub", full.get("email") or "sceau-dev")
        full.setdefault("jti", str(uuid.uuid4()))
        try:
            return jwt.encode(
                full,
                self.signer.private_key,
                algorithm=self.algorithm,
                headers={"kid": self.kid, "typ": "JWT"},
            )
        except TypeError as e:  # PyJWT's claim type checks, e.g. a non-string "iss"
            raise InputError(f"cannot mint a token with these claims: {e}") from e

    def mint_email(self, address: str, lifetime: int = 600) -> str:
        """A verified-email token: ``sub`` = ``email`` so every client sees the address."""
        if not isinstance(address, str) or not _EMAIL.fullmatch(address):
            raise InputError(f"{address!r} is not an email address")
        return self.mint(
            {"sub": address, "email": address, "email_verified": True}, lifetime=lifetime
        )

    def mint_github_workflow(
        self, workflow: str, extra: dict[str, Any] | None = None, lifetime: int = 600
    ) -> str:
        """A GitHub Actions token for ``OWNER/REPO/.github/workflows/F.yml@REF``.

        ``extra`` overrides claims GitHub sets (:data:`OVERRIDABLE_CLAIMS`): what a test of
        an identity policy needs. Issuer, audience, times and any email stay the issuer's."""
        claims = github_workflow_claims(workflow)
        claims["iss"] = self.github_issuer_url
        refused = sorted(set(extra or {}) - OVERRIDABLE_CLAIMS)
        if refused:
            raise InputError(
                f"claim(s) {', '.join(refused)} cannot be set on a dev token; allowed: "
                f"{', '.join(sorted(OVERRIDABLE_CLAIMS))}"
            )
        claims.update(extra or {})
        return self.mint(claims, lifetime=lifetime)


# The GitHub Actions claims a dev token's caller may choose (docs/security.md): those the
# Fulcio certificate extensions and identity policies read, plus the environment and
# enterprise GitHub adds for some workflows. Never iss, aud, exp, iat, nbf, jti or email.
OVERRIDABLE_CLAIMS = frozenset(
    {
        "sub", "ref", "ref_type", "ref_protected", "sha", "repository", "repository_id",
        "repository_owner", "repository_owner_id", "repository_visibility", "actor",
        "actor_id", "run_id", "run_number", "run_attempt", "runner_environment", "event_name",
        "head_ref", "base_ref", "workflow", "workflow_ref", "workflow_sha", "job_workflow_ref",
        "job_workflow_sha", "environment", "enterprise", "enterprise_id",
    }
)  # fmt: skip


def github_workflow_claims(workflow: str) -> dict[str, Any]:
    """The claim set GitHub Actions puts in an ID token, for a push to ``REF``.

    IDs and commit hashes are derived from the names so the same workflow always gets the
    same values (tests can predict them); override any claim with ``extra``.
    """
    m = _WORKFLOW.fullmatch(workflow or "")
    if not m:
        raise InputError(
            f"{workflow!r} is not OWNER/REPO/.github/workflows/FILE.yml@REF "
            "(e.g. octo/app/.github/workflows/release.yml@refs/heads/main)"
        )
    owner, repo, ref = m.group("owner"), m.group("repo"), m.group("ref")
    repository = f"{owner}/{repo}"
    if ref.startswith("refs/tags/"):
        ref_type = "tag"
    elif ref.startswith("refs/heads/"):
        ref_type = "branch"
    else:
        raise InputError(f"ref {ref!r} must be a full ref (refs/heads/… or refs/tags/…)")
    sha = hashlib.sha1(f"{repository}@{ref}".encode()).hexdigest()  # noqa: S324 - a fake commit
    return {
        "sub": f"repo:{repository}:ref:{ref}",
        "aud": AUDIENCE,
        "ref": ref,
        "ref_type": ref_type,
        "ref_protected": "false",
        "sha": sha,
        "repository": repository,
        "repository_id": _fake_id(repository),
        "repository_owner": owner,
        "repository_owner_id": _fake_id(owner),
        "repository_visibility": "public",
        "actor": owner,
        "actor_id": _fake_id(owner),
        "run_id": _fake_id(f"{workflow}#run", digits=10),
        "run_number": "1",
        "run_attempt": "1",
        "runner_environment": "github-hosted",
        "event_name": "push",
        "head_ref": "",
        "base_ref": "",
        "workflow": m.group("file").rsplit(".", 1)[0],
        "workflow_ref": workflow,
        "workflow_sha": sha,
        "job_workflow_ref": workflow,
        "job_workflow_sha": sha,
    }


def _fake_id(name: str, digits: int = 9) -> str:
    return str(int(hashlib.sha256(name.encode()).hexdigest(), 16) % 10**digits)
