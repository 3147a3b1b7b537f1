"""TokenVerifier against a real OpenID provider: discovery, JWKS, signatures, claims, refusals."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sceau.errors import RemoteError, Unauthenticated
from sceau.services.ca.identity import OTHERNAME_OID, der_utf8_string
from sceau.services.ca.issuers import IssuerSet
from sceau.services.ca.oidc import TokenVerifier
from tests.identity.conftest import run
from tests.identity.idp import FakeIdP, IdPKey, hs256, raw_token
from tests.serving import serve_app

pytestmark = pytest.mark.server


def issuer_set(idp: FakeIdP) -> IssuerSet:
    u = idp.url
    return IssuerSet.from_config(
        {
            "oidc-issuers": {
                u("mail"): {"type": "email"},
                u("lax"): {"type": "email", "skip-email-verification": True},
                u("dex"): {"type": "email", "issuer-claim": "$.federated_claims.connector_id"},
                u("gh"): {"type": "ci-provider", "ci-provider": "github-workflow"},
                u("gl"): {"type": "gitlab-pipeline"},
                u("bk"): {"type": "ci-provider", "ci-provider": "buildkite-job"},
                u("spiffe"): {"type": "spiffe", "spiffe-trust-domain": "example.org"},
                u("uri"): {"type": "uri", "subject-domain": idp.base},
                u("user"): {"type": "username", "subject-domain": "127.0.0.1"},
                u("other"): {"type": "email", "client-id": "other-client"},
                u("liar"): {"type": "email"},
            },
            "meta-issuers": {idp.base + "/k8s-*": {"type": "kubernetes"}},
        }
    )


def verify(idp: FakeIdP, token: str, **kwargs: Any):
    async def go():
        verifier = TokenVerifier(issuer_set(idp), **kwargs)
        try:
            return await verifier.verify(token)
        finally:
            await verifier.aclose()

    return run(go())


def refused(idp: FakeIdP, token: str, match: str, **kwargs: Any) -> None:
    with pytest.raises(Unauthenticated, match=match):
        verify(idp, token, **kwargs)


EMAIL = {"sub": "alice-123", "email": "alice@example.com", "email_verified": True}


# --- accepted tokens -----------------------------------------------------------------------


@pytest.mark.parametrize("kid", ["ec-1", "rsa-1", "pss-1", "ed-1"])
def test_valid_email_token_each_algorithm(idp: FakeIdP, kid: str) -> None:
    key = next(k for k in idp.keys if k.kid == kid)
    p = verify(idp, idp.mint("mail", EMAIL, key=key))
    assert p.name == "alice@example.com"
    assert p.san == x509.RFC822Name("alice@example.com")
    assert p.issuer == idp.url("mail")
    assert p.extensions == {24: "alice-123"}


def test_audience_list_and_string_true_email_verified(idp: FakeIdP) -> None:
    claims = {**EMAIL, "aud": ["other", "sigstore"], "email_verified": "true"}
    assert verify(idp, idp.mint("mail", claims)).name == "alice@example.com"


def test_token_without_kid_tries_matching_keys(idp: FakeIdP) -> None:
    rsa = next(k for k in idp.keys if k.kid == "rsa-1")
    token = idp.mint("mail", EMAIL, key=rsa, kid=None)
    assert "kid" not in __import__("jwt").get_unverified_header(token)
    assert verify(idp, token).name == "alice@example.com"


def test_skip_email_verification(idp: FakeIdP) -> None:
    p = verify(idp, idp.mint("lax", {**EMAIL, "email_verified": False}))
    assert p.san == x509.RFC822Name("alice@example.com")


def test_issuer_claim_jsonpath(idp: FakeIdP) -> None:
    claims = {**EMAIL, "federated_claims": {"connector_id": "https://github.com/login/oauth"}}
    p = verify(idp, idp.mint("dex", claims))
    assert p.issuer == "https://github.com/login/oauth"
    refused(idp, idp.mint("dex", EMAIL), r"no issuer claim at \$\.federated_claims")


def test_github_ci_provider(idp: FakeIdP) -> None:
    from sceau.services.oidc.issuer import github_workflow_claims

    claims = github_workflow_claims("octo/app/.github/workflows/rel.yml@refs/tags/v1")
    p = verify(idp, idp.mint("gh", claims))
    assert p.name == "repo:octo/app:ref:refs/tags/v1"
    assert p.san == x509.UniformResourceIdentifier(
        "https://github.com/octo/app/.github/workflows/rel.yml@refs/tags/v1"
    )
    assert p.extensions[9] == p.san.value
    assert p.extensions[12] == "https://github.com/octo/app"
    assert p.extensions[14] == "refs/tags/v1"
    assert p.extensions[24] == claims["sub"]


def test_gitlab_dedicated_type(idp: FakeIdP) -> None:
    claims = {
        "sub": "project_path:grp/proj:ref_type:branch:ref:main",
        "ci_config_ref_uri": "gitlab.com/grp/proj//.gitlab-ci.yml@refs/heads/main",
        "ci_config_sha": "c" * 40,
        "runner_environment": "gitlab-hosted",
        "project_path": "grp/proj",
        "sha": "a" * 40,
        "ref_type": "branch",
        "ref": "main",
        "project_id": 42,
        "namespace_path": "grp",
        "namespace_id": "7",
        "pipeline_source": "push",
        "job_id": "99",
        "project_visibility": "public",
    }
    p = verify(idp, idp.mint("gl", claims))
    assert p.san.value == "https://gitlab.com/grp/proj//.gitlab-ci.yml@refs/heads/main"
    assert p.extensions[14] == "refs/heads/main"
    assert p.extensions[15] == "42"  # a number claim prints as JSON would
    assert p.extensions[21] == "https://gitlab.com/grp/proj/-/jobs/99"
    assert 23 not in p.extensions  # empty default environment is omitted


def test_buildkite(idp: FakeIdP) -> None:
    claims = {
        "sub": "organization:acme:pipeline:web:ref:refs/heads/main:commit:abc:step:build",
        "organization_slug": "acme",
        "pipeline_slug": "web",
        "build_number": 12,
        "job_id": "0190-abc",
        "runner_environment": "buildkite-hosted",
        "build_commit": "b" * 40,
        "build_source": "webhook",
    }
    p = verify(idp, idp.mint("bk", claims))
    assert p.san.value == "https://buildkite.com/acme/web"
    assert p.extensions[21] == "https://buildkite.com/acme/web/builds/12#0190-abc"
    assert p.extensions[13] == "b" * 40


def test_ci_token_missing_template_claim(idp: FakeIdP) -> None:
    refused(idp, idp.mint("bk", {"sub": "x"}), "does not fit the buildkite-job claim mapping")


def test_spiffe(idp: FakeIdP) -> None:
    p = verify(idp, idp.mint("spiffe", {"sub": "spiffe://example.org/ns/prod/sa/web"}))
    assert p.san == x509.UniformResourceIdentifier("spiffe://example.org/ns/prod/sa/web")
    refused(
        idp,
        idp.mint("spiffe", {"sub": "spiffe://evil.org/ns/prod"}),
        "trust domain 'evil.org' does not match",
    )


def test_wildcard_kubernetes(idp: FakeIdP) -> None:
    claims = {
        "sub": "system:serviceaccount:prod:builder",
        "kubernetes.io": {"namespace": "prod", "serviceaccount": {"name": "builder"}},
    }
    p = verify(idp, idp.mint("k8s-east-1", claims))
    assert p.issuer == idp.url("k8s-east-1")
    assert p.san.value == "https://kubernetes.io/namespaces/prod/serviceaccounts/builder"
    assert p.name == "system:serviceaccount:prod:builder"


def test_uri_and_username(idp: FakeIdP) -> None:
    p = verify(idp, idp.mint("uri", {"sub": idp.base + "/users/alice"}))
    assert p.san.value == idp.base + "/users/alice"
    refused(idp, idp.mint("uri", {"sub": "http://elsewhere.test/alice"}), "must match")
    p = verify(idp, idp.mint("user", {"sub": "alice"}))
    assert p.san == x509.OtherName(OTHERNAME_OID, der_utf8_string("alice!127.0.0.1"))
    refused(idp, idp.mint("user", {"sub": "al!ce"}), "must not contain '!'")


def test_keys_are_cached(idp: FakeIdP) -> None:
    async def go() -> None:
        verifier = TokenVerifier(issuer_set(idp))
        before = idp.fetches["mail/jwks"]
        for _ in range(5):
            await verifier.verify(idp.mint("mail", EMAIL))
        await verifier.aclose()
        assert idp.fetches["mail/jwks"] == before + 1

    run(go())


# --- refusals ------------------------------------------------------------------------------


def test_forged_signature(idp: FakeIdP) -> None:
    impostor = IdPKey.generate("ec-1", "ES256")  # same kid, different key
    refused(idp, idp.mint("mail", EMAIL, key=impostor), "signature does not verify")


def test_tampered_payload(idp: FakeIdP) -> None:
    good = idp.mint("mail", EMAIL)
    evil = idp.mint("mail", {**EMAIL, "email": "mallory@example.com"})
    h, _, s = good.split(".")
    refused(idp, f"{h}.{evil.split('.')[1]}.{s}", "signature does not verify")


def test_expired(idp: FakeIdP) -> None:
    now = int(time.time())
    refused(idp, idp.mint("mail", {**EMAIL, "iat": now - 900, "exp": now - 120}), "expired")


def test_within_leeway_is_accepted(idp: FakeIdP) -> None:
    now = int(time.time())
    token = idp.mint("mail", {**EMAIL, "iat": now - 900, "exp": now - 20})
    assert verify(idp, token).name == "alice@example.com"


def test_not_yet_valid(idp: FakeIdP) -> None:
    now = int(time.time())
    refused(idp, idp.mint("mail", {**EMAIL, "nbf": now + 600}), "not yet valid")
    refused(idp, idp.mint("mail", {**EMAIL, "iat": now + 600}), "not yet valid")


def test_wrong_audience(idp: FakeIdP) -> None:
    refused(idp, idp.mint("mail", {**EMAIL, "aud": "not-sigstore"}), "wrong audience")
    refused(idp, idp.mint("other", EMAIL), "wrong audience: token 'aud' must contain 'other")


def test_unconfigured_issuer(idp: FakeIdP) -> None:
    refused(idp, idp.mint("nobody", EMAIL), "unknown issuer")
    refused(idp, idp.mint("k8s-a/b", EMAIL), "unknown issuer")  # '*' is one segment
    refused(
        idp, idp.mint("mail", {**EMAIL, "iss": "https://accounts.google.com"}), "unknown issuer"
    )


def test_discovery_naming_another_issuer_is_a_remote_error(idp: FakeIdP) -> None:
    with pytest.raises(RemoteError, match="names issuer"):
        verify(idp, idp.mint("liar", EMAIL))


def test_alg_none(idp: FakeIdP) -> None:
    now = int(time.time())
    claims = {**EMAIL, "iss": idp.url("mail"), "aud": "sigstore", "iat": now, "exp": now + 60}
    refused(idp, raw_token({"alg": "none", "typ": "JWT"}, claims), "'none' is not allowed")


def test_hs256_with_public_key_as_secret(idp: FakeIdP) -> None:
    rsa = next(k for k in idp.keys if k.kid == "rsa-1")
    pem = rsa.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    claims = {**EMAIL, "iss": idp.url("mail"), "aud": "sigstore", "iat": now, "exp": now + 60}
    token = raw_token({"alg": "HS256", "kid": "rsa-1"}, claims, hs256(pem))
    refused(idp, token, "'HS256' is not allowed")


def test_alg_key_mismatch(idp: FakeIdP) -> None:
    """An ES256 header naming the RSA key's kid finds no usable key."""
    ec = next(k for k in idp.keys if k.kid == "ec-1")
    refused(idp, idp.mint("mail", EMAIL, key=ec, kid="rsa-1"), "has no ES256 key")


def test_email_not_verified(idp: FakeIdP) -> None:
    refused(idp, idp.mint("mail", {**EMAIL, "email_verified": False}), "email_verified")
    refused(idp, idp.mint("mail", {**EMAIL, "email_verified": None}), "email_verified")
    refused(idp, idp.mint("mail", {**EMAIL, "email_verified": "yes"}), "email_verified")


def test_missing_claims(idp: FakeIdP) -> None:
    refused(idp, idp.mint("mail", {**EMAIL, "iat": None}), "no 'iat' claim")
    refused(idp, idp.mint("mail", {**EMAIL, "sub": None}), "no 'sub' claim")
    refused(idp, idp.mint("mail", {"sub": "x"}), "no 'email' claim")


def test_oversize_token(idp: FakeIdP) -> None:
    token = idp.mint("mail", {**EMAIL, "padding": "x" * 20000})
    refused(idp, token, "larger than 16384 bytes")
    assert verify(idp, token, max_token_bytes=64 * 1024).name == "alice@example.com"


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c", "eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln", "x" * 100 + ".."],
)
def test_malformed(idp: FakeIdP, token: str) -> None:
    refused(idp, token, "malformed|no OIDC identity token")


# --- key rotation --------------------------------------------------------------------------


def test_unknown_kid_refetches_once_then_rate_limits() -> None:
    old, new, newer = (IdPKey.generate(k) for k in ("old", "new", "newer"))
    provider = FakeIdP(keys=[old])
    with serve_app(provider.app()) as base:
        provider.base = base
        issuers = IssuerSet.from_config({"oidc-issuers": {provider.url("i"): {"type": "email"}}})

        async def go() -> None:
            verifier = TokenVerifier(issuers, refetch_interval=30)
            try:
                await verifier.verify(provider.mint("i", EMAIL, key=old))
                assert provider.fetches["i/jwks"] == 1
                provider.keys = [new]  # the issuer rotates
                p = await verifier.verify(provider.mint("i", EMAIL, key=new))
                assert p.name == "alice@example.com"
                assert provider.fetches["i/jwks"] == 2
                provider.keys = [new, newer]  # rotates again, too soon for another refetch
                with pytest.raises(Unauthenticated, match="unknown key id 'newer'"):
                    await verifier.verify(provider.mint("i", EMAIL, key=newer))
                assert provider.fetches["i/jwks"] == 2
                with pytest.raises(Unauthenticated, match="unknown key id 'made-up'"):
                    await verifier.verify(provider.mint("i", EMAIL, key=old, kid="made-up"))
                assert provider.fetches["i/jwks"] == 2
                # known keys keep working without fetches
                await verifier.verify(provider.mint("i", EMAIL, key=new))
                assert provider.fetches["i/jwks"] == 2
                assert provider.fetches["i/discovery"] == 1
            finally:
                await verifier.aclose()

        run(go())


def test_unknown_kid_after_interval_refetches_again() -> None:
    first, second, third = (IdPKey.generate(k) for k in ("a", "b", "c"))
    provider = FakeIdP(keys=[first])
    with serve_app(provider.app()) as base:
        provider.base = base
        issuers = IssuerSet.from_config({"oidc-issuers": {provider.url("i"): {"type": "email"}}})

        async def go() -> None:
            now = [1000.0]
            verifier = TokenVerifier(issuers, refetch_interval=0.2, clock=lambda: now[0])
            try:
                await verifier.verify(provider.mint("i", EMAIL, key=first))
                provider.keys = [second]
                await verifier.verify(provider.mint("i", EMAIL, key=second))
                provider.keys = [third]
                now[0] += 0.25  # past the refetch interval, on the verifier's clock
                await verifier.verify(provider.mint("i", EMAIL, key=third))
                assert provider.fetches["i/jwks"] == 3
            finally:
                await verifier.aclose()

        run(go())


def test_unreachable_issuer_is_a_remote_error() -> None:
    from tests.serving import free_port

    url = f"http://127.0.0.1:{free_port()}/gone"
    issuers = IssuerSet.from_config({"oidc-issuers": {url: {"type": "email"}}})
    provider = FakeIdP(keys=[IdPKey.generate("k")])
    provider.base = url.rsplit("/", 1)[0]
    token = provider.mint("gone", EMAIL)

    async def go() -> None:
        verifier = TokenVerifier(issuers)
        try:
            with pytest.raises(RemoteError, match="OpenID configuration"):
                await verifier.verify(token)
        finally:
            await verifier.aclose()

    run(go())


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"alg": ["ES256"], "kid": "ec-1"}, "algorithm .* is not allowed"),
        ({"kid": "ec-1"}, "algorithm None is not allowed"),
        ({"alg": "ES256", "kid": 7}, "'kid' is not a string"),
        ({"alg": "ES256", "kid": "ec-1", "crit": ["exp-ext"], "exp-ext": 1}, "critical"),
        ({"alg": "ES256", "kid": "ec-1", "b64": False, "crit": ["b64"]}, "malformed"),
    ],
)
def test_odd_headers(idp: FakeIdP, header: dict, message: str) -> None:
    """Hand-made headers over a real ES256 signature by the issuer's key."""
    ec = next(k for k in idp.keys if k.kid == "ec-1")
    now = int(time.time())
    claims = {**EMAIL, "iss": idp.url("mail"), "aud": "sigstore", "iat": now, "exp": now + 60}

    def sign(msg: bytes) -> bytes:
        from jwt.algorithms import ECAlgorithm

        return ECAlgorithm(ECAlgorithm.SHA256).sign(msg, ec.private)

    good = raw_token({"alg": "ES256", "kid": "ec-1"}, claims, sign)
    assert verify(idp, good).name == "alice@example.com"  # the hand-made token itself is fine
    refused(idp, raw_token(header, claims, sign), message)


def test_failing_issuer_is_not_hammered() -> None:
    provider = FakeIdP(keys=[IdPKey.generate("k")])
    with serve_app(provider.app()) as base:
        provider.base = base
        issuers = IssuerSet.from_config(
            {"oidc-issuers": {provider.url("broken"): {"type": "email"}}}
        )
        token = provider.mint("broken", EMAIL)

        async def go() -> None:
            verifier = TokenVerifier(issuers)
            try:
                for _ in range(3):
                    with pytest.raises(RemoteError, match="HTTP 500"):
                        await verifier.verify(token)
                assert provider.fetches["broken/discovery"] == 1
            finally:
                await verifier.aclose()

        run(go())


def test_concurrent_first_use_fetches_once() -> None:
    import asyncio

    provider = FakeIdP(keys=[IdPKey.generate("k")])
    with serve_app(provider.app()) as base:
        provider.base = base
        issuers = IssuerSet.from_config({"oidc-issuers": {provider.url("i"): {"type": "email"}}})
        tokens = [provider.mint("i", {**EMAIL, "email": f"u{n}@example.com"}) for n in range(20)]

        async def go() -> None:
            verifier = TokenVerifier(issuers)
            try:
                found = await asyncio.gather(*(verifier.verify(t) for t in tokens))
                assert [p.name for p in found] == [f"u{n}@example.com" for n in range(20)]
                assert provider.fetches["i/discovery"] == provider.fetches["i/jwks"] == 1
            finally:
                await verifier.aclose()

        run(go())
