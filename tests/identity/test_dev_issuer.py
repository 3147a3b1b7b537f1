"""The dev OIDC issuer: served for real, verified by our CA verifier and by sigstore-python."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest
from cryptography import x509
from starlette.applications import Starlette
from starlette.routing import Mount

from sceau.errors import InputError, Unauthenticated
from sceau.keys import generate_signer
from sceau.services._http import install_error_handlers
from sceau.services.ca.issuers import IssuerSet
from sceau.services.ca.oidc import TokenVerifier
from sceau.services.oidc import DevIssuer, routes
from tests.identity.conftest import run
from tests.serving import free_port, serve_app

WORKFLOW = "octo/app/.github/workflows/release.yml@refs/heads/main"


def dev_app(dev: DevIssuer, allow_minting: bool = True, allow_remote: bool = False) -> Starlette:
    app = Starlette(
        routes=[Mount("/oidc", routes=routes(dev, allow_minting, allow_remote=allow_remote))]
    )
    install_error_handlers(app)
    return app


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, DevIssuer]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    dev = DevIssuer(generate_signer("ecdsa-p256"), base + "/oidc")
    with serve_app(dev_app(dev), port=port) as url:
        assert url == base
        yield base, dev


def verify_all(base: str, *tokens: str):
    async def go():
        verifier = TokenVerifier(IssuerSet.from_config({}, dev_oidc_url=base + "/oidc"))
        try:
            return [await verifier.verify(t) for t in tokens]
        finally:
            await verifier.aclose()

    return run(go())


def test_token_shapes() -> None:
    dev = DevIssuer(generate_signer("ecdsa-p256"), "http://h:1/oidc/")
    assert dev.issuer_url == "http://h:1/oidc" and dev.algorithm == "ES256"
    token = dev.mint_email("dev@example.com", lifetime=100)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "ES256", "kid": dev.kid, "typ": "JWT"}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == "http://h:1/oidc"
    assert claims["aud"] == "sigstore"
    assert claims["sub"] == claims["email"] == "dev@example.com"
    assert claims["email_verified"] is True
    assert claims["exp"] - claims["iat"] == 100 and claims["nbf"] == claims["iat"]
    assert abs(claims["iat"] - time.time()) < 5
    gh = jwt.decode(dev.mint_github_workflow(WORKFLOW), options={"verify_signature": False})
    assert gh["iss"] == "http://h:1/oidc/github"
    assert gh["sub"] == "repo:octo/app:ref:refs/heads/main"
    for claim in (
        "job_workflow_ref",
        "job_workflow_sha",
        "repository",
        "repository_owner",
        "repository_owner_id",
        "repository_id",
        "workflow_ref",
        "workflow_sha",
        "sha",
        "ref",
        "ref_type",
        "event_name",
        "run_id",
        "run_attempt",
        "runner_environment",
        "repository_visibility",
        "workflow",
        "actor",
        "jti",
    ):
        assert isinstance(gh[claim], str) and gh[claim], claim
    assert gh["ref_type"] == "branch" and gh["runner_environment"] == "github-hosted"
    tag = jwt.decode(
        dev.mint_github_workflow("o/r/.github/workflows/x.yaml@refs/tags/v1", {"sha": "f" * 40}),
        options={"verify_signature": False},
    )
    assert tag["ref_type"] == "tag" and tag["sha"] == "f" * 40
    for bad in (
        "o/r/x.yml@refs/heads/main",
        "o/r/.github/workflows/x.yml",
        "o/r/.github/workflows/x.yml@main",
    ):
        with pytest.raises(InputError):
            dev.mint_github_workflow(bad)
    with pytest.raises(InputError, match="not an email"):
        dev.mint_email("nobody")


def test_jwk_thumbprint_kid() -> None:
    """RFC 7638 §3.1 example shape: kid = b64url(SHA-256 of the sorted required members)."""
    dev = DevIssuer(generate_signer("ecdsa-p384"), "http://h/oidc")
    assert dev.algorithm == "ES384" and dev.jwk["crv"] == "P-384"
    assert len(dev.kid) == 43 and set(dev.jwks()["keys"][0]) >= {"kty", "x", "y", "kid", "alg"}
    ed = DevIssuer(generate_signer("ed25519"), "http://h/oidc")
    assert ed.algorithm == "EdDSA" and ed.jwk["kty"] == "OKP"


@pytest.mark.server
def test_discovery_and_jwks(served: tuple[str, DevIssuer]) -> None:
    base, dev = served
    email = httpx.get(base + "/oidc/.well-known/openid-configuration").json()
    github = httpx.get(base + "/oidc/github/.well-known/openid-configuration").json()
    assert email["issuer"] == base + "/oidc"
    assert github["issuer"] == base + "/oidc/github"
    assert email["jwks_uri"] == github["jwks_uri"] == base + "/oidc/jwks"
    assert httpx.get(base + "/oidc/jwks").json() == {"keys": [dev.jwk]}


@pytest.mark.server
def test_ca_verifier_accepts_dev_tokens(served: tuple[str, DevIssuer]) -> None:
    base, dev = served
    email, gh = verify_all(
        base, dev.mint_email("dev@example.com"), dev.mint_github_workflow(WORKFLOW)
    )
    assert email.name == "dev@example.com"
    assert email.san == x509.RFC822Name("dev@example.com")
    assert email.issuer == base + "/oidc"
    assert gh.name == "repo:octo/app:ref:refs/heads/main"
    assert gh.san == x509.UniformResourceIdentifier(f"https://github.com/{WORKFLOW}")
    assert gh.issuer == base + "/oidc/github"
    assert gh.extensions[11] == "github-hosted" and gh.extensions[24] == gh.name
    assert set(gh.extensions) == set(range(2, 7)) | set(range(9, 23)) | {24}


@pytest.mark.server
def test_email_token_at_github_issuer_is_refused(served: tuple[str, DevIssuer]) -> None:
    base, dev = served
    token = dev.mint({"email": "a@b.example", "email_verified": True, "iss": dev.github_issuer_url})
    with pytest.raises(Unauthenticated, match="github-workflow claim mapping"):
        verify_all(base, token)


@pytest.mark.server
def test_token_endpoint(served: tuple[str, DevIssuer], caplog: pytest.LogCaptureFixture) -> None:
    base, _ = served
    with caplog.at_level(logging.WARNING, logger="sceau.oidc"):
        r1 = httpx.post(base + "/oidc/token", json={"email": "ci@example.com"})
        r2 = httpx.post(
            base + "/oidc/token",
            json={
                "github_workflow": WORKFLOW,
                "claims": {"event_name": "release", "environment": "prod"},
            },
        )
    assert r1.status_code == 200 and r2.status_code == 200
    assert r1.headers["cache-control"] == "no-store"
    body = r2.json()
    assert set(body) == {"id_token", "access_token", "token_type", "expires_in"}
    email, gh = verify_all(base, r1.json()["id_token"], body["id_token"])
    assert email.name == "ci@example.com"
    assert gh.extensions[20] == "release" and gh.extensions[23] == "prod"
    warnings = [r for r in caplog.records if "DEVELOPMENT ONLY" in r.getMessage()]
    assert len(warnings) == 1


@pytest.mark.server
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, 'needs "email" or "github_workflow"'),
        ({"email": 3}, "must be a string"),
        ({"email": "x@y.example", "sub": "root"}, "only the field"),
        ({"email": "nobody"}, "not an email"),
        ({"github_workflow": "nope"}, "is not OWNER/REPO"),
        ({"github_workflow": WORKFLOW, "claims": {"a": [1]}}, "claims"),
        ({"github_workflow": WORKFLOW, "extra": 1}, "unknown field"),
    ],
)
def test_token_endpoint_bad_requests(
    served: tuple[str, DevIssuer], body: dict, message: str
) -> None:
    r = httpx.post(served[0] + "/oidc/token", json=body)
    assert r.status_code == 400
    assert message in r.json()["message"]
    r = httpx.post(
        served[0] + "/oidc/token",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400


def _post(app: Starlette, client_host: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://dev") as c:
            return await c.post("/oidc/token", json={"email": "x@y.example"})

    return run(go())


def test_remote_clients_are_refused_unless_allowed() -> None:
    dev = DevIssuer(generate_signer("ecdsa-p256"), "http://dev/oidc")
    r = _post(dev_app(dev), "203.0.113.7")
    assert r.status_code == 403 and "loopback clients only" in r.json()["message"]
    assert _post(dev_app(dev), "::1").status_code == 200
    assert _post(dev_app(dev, allow_remote=True), "203.0.113.7").status_code == 200
    r = _post(dev_app(dev, allow_minting=False), "127.0.0.1")
    assert r.status_code == 403 and "disabled" in r.json()["message"]


@pytest.mark.interop
def test_sigstore_python_accepts_dev_tokens() -> None:
    from sigstore.oidc import IdentityToken

    dev = DevIssuer(generate_signer("ecdsa-p256"), "http://127.0.0.1:8080/oidc")
    email = IdentityToken(dev.mint_email("dev@example.com"))
    assert email.identity == "dev@example.com"
    assert email.issuer == "http://127.0.0.1:8080/oidc"
    assert email.in_validity_period()
    gh = IdentityToken(dev.mint_github_workflow(WORKFLOW))
    assert gh.identity == "repo:octo/app:ref:refs/heads/main"
    assert gh.issuer == "http://127.0.0.1:8080/oidc/github"
    assert gh.federated_issuer == gh.issuer


def test_pinned_dev_keys_need_no_http() -> None:
    """An in-process dev issuer's keys can be pinned: no discovery, no refetch."""
    dev = DevIssuer(generate_signer("ecdsa-p256"), "http://127.0.0.1:1/oidc")  # nothing listens
    other = DevIssuer(generate_signer("ecdsa-p256"), "http://127.0.0.1:1/oidc")
    issuers = IssuerSet.from_config({}, dev_oidc_url=dev.issuer_url)
    pinned = {url: dev.jwks()["keys"] for url in (dev.issuer_url, dev.github_issuer_url)}

    async def go() -> None:
        verifier = TokenVerifier(issuers, pinned_keys=pinned)
        try:
            assert (await verifier.verify(dev.mint_email("a@b.example"))).name == "a@b.example"
            gh = await verifier.verify(dev.mint_github_workflow(WORKFLOW))
            assert gh.issuer == dev.github_issuer_url
            with pytest.raises(Unauthenticated, match="unknown key id"):
                await verifier.verify(other.mint_email("a@b.example"))
        finally:
            await verifier.aclose()

    run(go())


@pytest.mark.parametrize(
    "claim", ["iss", "aud", "exp", "nbf", "iat", "email", "email_verified", "x"]
)
def test_workflow_claims_outside_the_allow_list_are_refused(claim: str) -> None:
    from sceau.errors import InputError
    from sceau.services.oidc.issuer import DevIssuer

    dev = DevIssuer(generate_signer("ecdsa-p256"), "http://h:1/oidc")
    with pytest.raises(InputError, match=f"claim\\(s\\) {claim} cannot be set"):
        dev.mint_github_workflow(WORKFLOW, {claim: "v"})
