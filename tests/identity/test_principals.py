"""Issuer types → Principal, as Fulcio's principals do it (pure: no network)."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography import x509

from sceau.errors import Unauthenticated
from sceau.services.ca.identity import (
    OTHERNAME_OID,
    claim_string,
    der_utf8_string,
    principal_from_claims,
)
from sceau.services.ca.issuers import IssuerSet
from sceau.services.oidc.issuer import github_workflow_claims

ISSUERS = IssuerSet.from_config(
    {
        "oidc-issuers": {
            "https://accounts.example.com": {"type": "email"},
            "https://token.actions.githubusercontent.com": {
                "type": "ci-provider",
                "ci-provider": "github-workflow",
            },
            "https://oidc.circleci.com": {"type": "circleci-job"},
            "https://spire.example.org": {
                "type": "spiffe",
                "spiffe-trust-domain": "example.org",
            },
            "https://accounts.example.com/uri": {
                "type": "uri",
                "subject-domain": "https://users.example.com",
            },
            "https://accounts.example.com/user": {
                "type": "username",
                "subject-domain": "example.com",
            },
        },
        "meta-issuers": {
            "https://oidc.eks.*.amazonaws.com/id/*": {"type": "kubernetes"},
        },
    }
)


def cfg(url: str):
    found = ISSUERS.lookup(url)
    assert found is not None, url
    return found


def test_github_workflow_all_extensions() -> None:
    """Every extension Fulcio's public github-workflow mapping writes, with exact values."""
    wf = "octo-org/app/.github/workflows/release.yml@refs/heads/main"
    claims = github_workflow_claims(wf)
    claims.update(
        iss="https://token.actions.githubusercontent.com",
        sha="1" * 40,
        workflow_sha="2" * 40,
        job_workflow_sha="3" * 40,
        repository_id="111",
        repository_owner_id="222",
        run_id="333",
        run_attempt="2",
        workflow="Release",
        environment="prod",
    )
    p = principal_from_claims(cfg("https://token.actions.githubusercontent.com"), claims)
    assert p.name == "repo:octo-org/app:ref:refs/heads/main"
    assert p.san == x509.UniformResourceIdentifier(f"https://github.com/{wf}")
    assert p.issuer == "https://token.actions.githubusercontent.com"
    assert p.extensions == {
        2: "push",
        3: "1" * 40,
        4: "Release",
        5: "octo-org/app",
        6: "refs/heads/main",
        9: f"https://github.com/{wf}",
        10: "3" * 40,
        11: "github-hosted",
        12: "https://github.com/octo-org/app",
        13: "1" * 40,
        14: "refs/heads/main",
        15: "111",
        16: "https://github.com/octo-org",
        17: "222",
        18: f"https://github.com/{wf}",
        19: "2" * 40,
        20: "push",
        21: "https://github.com/octo-org/app/actions/runs/333/attempts/2",
        22: "public",
        23: "prod",
        24: "repo:octo-org/app:ref:refs/heads/main",
    }


def test_claim_overrides_default_template_value() -> None:
    """Claims win over default-template-values (a GHES token could carry its own url)."""
    claims = github_workflow_claims("o/r/.github/workflows/x.yml@refs/heads/main")
    claims["url"] = "https://ghe.example.com"
    p = principal_from_claims(cfg("https://token.actions.githubusercontent.com"), claims)
    assert p.san.value == "https://ghe.example.com/o/r/.github/workflows/x.yml@refs/heads/main"


def test_github_missing_claim_is_refused() -> None:
    claims = github_workflow_claims("o/r/.github/workflows/x.yml@refs/heads/main")
    del claims["run_attempt"]
    with pytest.raises(Unauthenticated, match="claim 'run_attempt' is missing"):
        principal_from_claims(cfg("https://token.actions.githubusercontent.com"), claims)


def test_circleci_index_templates() -> None:
    claims = {
        "sub": "org/o1/project/p1/user/u1",
        "oidc.circleci.com/project-id": "p1",
        "oidc.circleci.com/pipeline-definition-id": "d1",
        "oidc.circleci.com/pipeline-id": "pl1",
        "oidc.circleci.com/workflow-id": "w1",
        "oidc.circleci.com/job-id": "j1",
        "oidc.circleci.com/ssh-rerun": True,
        "oidc.circleci.com/vcs-ref": "refs/heads/main",
        "oidc.circleci.com/vcs-origin": "github.com/o/r",
    }
    p = principal_from_claims(cfg("https://oidc.circleci.com"), claims)
    assert p.san.value == "https://circleci.com/api/v2/projects/p1/pipeline-definitions/d1"
    assert p.extensions[11] == "ssh-rerun"
    assert p.extensions[18] == "https://circleci.com/api/v2/pipeline/pl1/config"
    assert p.extensions[21] == "https://app.circleci.com//workflow/w1/job/j1"
    assert p.extensions[14] == "refs/heads/main"


def test_email() -> None:
    c = cfg("https://accounts.example.com")
    p = principal_from_claims(c, {"sub": "1", "email": "a@b.example", "email_verified": True})
    assert (p.name, p.san, p.issuer, p.extensions) == (
        "a@b.example",
        x509.RFC822Name("a@b.example"),
        "https://accounts.example.com",
        {24: "1"},
    )
    for bad in ("not-an-email", "a@b", "a b@c.example"):
        with pytest.raises(Unauthenticated, match="not a valid email"):
            principal_from_claims(c, {"sub": "1", "email": bad, "email_verified": True})
    skip = dataclasses.replace(c, skip_email_verification=True)
    assert principal_from_claims(skip, {"sub": "1", "email": "a@b.example"}).name == "a@b.example"


def test_spiffe() -> None:
    c = cfg("https://spire.example.org")
    p = principal_from_claims(c, {"sub": "spiffe://example.org/ns/a"})
    assert p.san == x509.UniformResourceIdentifier("spiffe://example.org/ns/a")
    assert p.name == "spiffe://example.org/ns/a"
    for bad, why in [
        ("spiffe://other.org/ns/a", "does not match the configured trust domain"),
        ("spiffe://example.org/ns/../a", "not a valid SPIFFE ID"),
        ("spiffe://Example.org/a", "not a valid SPIFFE ID"),
        ("https://example.org/a", "not a valid SPIFFE ID"),
        ("spiffe://example.org/a/", "not a valid SPIFFE ID"),
    ]:
        with pytest.raises(Unauthenticated, match=why):
            principal_from_claims(c, {"sub": bad})


def test_kubernetes_via_wildcard() -> None:
    c = cfg("https://oidc.eks.us-west-2.amazonaws.com/id/B02C93B6A2D3")
    assert c.url == "https://oidc.eks.us-west-2.amazonaws.com/id/B02C93B6A2D3"
    claims = {
        "sub": "system:serviceaccount:ns1:sa1",
        "kubernetes.io": {"namespace": "ns1", "serviceaccount": {"name": "sa1", "uid": "u"}},
    }
    p = principal_from_claims(c, claims)
    assert p.san.value == "https://kubernetes.io/namespaces/ns1/serviceaccounts/sa1"
    assert p.issuer == "https://oidc.eks.us-west-2.amazonaws.com/id/B02C93B6A2D3"
    with pytest.raises(Unauthenticated, match=r"kubernetes\.io\.namespace"):
        principal_from_claims(c, {"sub": "x", "kubernetes.io": {"namespace": "../x"}})


def test_uri() -> None:
    c = cfg("https://accounts.example.com/uri")
    p = principal_from_claims(c, {"sub": "https://users.example.com/alice"})
    assert p.san == x509.UniformResourceIdentifier("https://users.example.com/alice")
    for bad, why in [
        ("http://users.example.com/alice", "scheme"),
        ("https://evil.example.com/alice", "hostname"),
        ("alice@users.example.com", "must not be an email"),
    ]:
        with pytest.raises(Unauthenticated, match=why):
            principal_from_claims(c, {"sub": bad})


def test_username() -> None:
    c = cfg("https://accounts.example.com/user")
    p = principal_from_claims(c, {"sub": "alice"})
    assert p.name == "alice"
    assert p.san == x509.OtherName(OTHERNAME_OID, b"\x0c\x11alice!example.com")
    assert p.extensions == {24: "alice"}
    with pytest.raises(Unauthenticated, match="must not contain '!'"):
        principal_from_claims(c, {"sub": "alice!evil.com"})
    with pytest.raises(Unauthenticated, match="must not be an email"):
        principal_from_claims(c, {"sub": "alice@example.com"})


def test_san_must_be_a_uri() -> None:
    claims = github_workflow_claims("o/r/.github/workflows/x.yml@refs/heads/main")
    claims["url"] = "not a url"
    with pytest.raises(Unauthenticated, match="not a valid URI"):
        principal_from_claims(cfg("https://token.actions.githubusercontent.com"), claims)


def test_der_utf8_string_long_form() -> None:
    assert der_utf8_string("é") == b"\x0c\x02\xc3\xa9"
    long = der_utf8_string("x" * 300)
    assert long[:4] == b"\x0c\x82\x01\x2c" and len(long) == 304


def test_claim_string() -> None:
    assert [claim_string(v) for v in ("s", 3, 3.0, 2.5, True, {"b": 1, "a": [1]})] == [
        "s",
        "3",
        "3",
        "2.5",
        "true",
        '{"a":[1],"b":1}',
    ]
