"""Identity policies against real Fulcio certificates from the vectors."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography import x509

from sceau.client import policy as p
from sceau.client.errors import PolicyError
from tests.client.cases import BV, SP

GITHUB_ID = (
    "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"
)
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


def _cert(path) -> x509.Certificate:
    vm = json.loads(path.read_bytes())["verificationMaterial"]
    raw = vm["certificate"]["rawBytes"] if "certificate" in vm else (
        vm["x509CertificateChain"]["certificates"][0]["rawBytes"])  # fmt: skip
    return x509.load_der_x509_certificate(base64.b64decode(raw))


@pytest.fixture(scope="module")
def gh() -> x509.Certificate:
    return _cert(SP / "bundle_v3_github.whl.sigstore")


@pytest.fixture(scope="module")
def email() -> x509.Certificate:
    return _cert(SP / "bundle_v3.txt.sigstore")


def test_identity_exact(gh, email) -> None:
    p.Identity(GITHUB_ID, GITHUB_ISSUER).verify(gh)
    p.Identity("william@yossarian.net", "https://github.com/login/oauth").verify(email)
    with pytest.raises(PolicyError, match="identity does not match"):
        p.Identity(GITHUB_ID + "x", GITHUB_ISSUER).verify(gh)
    with pytest.raises(PolicyError, match="issuer does not match"):
        p.Identity(GITHUB_ID, "https://accounts.google.com").verify(gh)


def test_issuer_reads_both_extensions(gh, email) -> None:
    assert p.cert_issuer(gh) == GITHUB_ISSUER  # from 1.8 (DER)
    assert p.cert_issuer(email) == "https://github.com/login/oauth"
    assert p.cert_identities(email) == ["william@yossarian.net"]


def test_regexp(gh) -> None:
    p.IdentityRegexp(r"https://github\.com/trailofbits/.*", issuer=GITHUB_ISSUER).verify(gh)
    p.IdentityRegexp(r".*release\.yml@refs/tags/v.*", issuer_regexp=r"https://token\..*").verify(gh)
    # cosign's semantics (Go regexp.MatchString): a match anywhere, unless anchored.
    p.IdentityRegexp(r"trailofbits", issuer_regexp=r"githubusercontent").verify(gh)
    with pytest.raises(PolicyError, match="no certificate identity matches"):
        p.IdentityRegexp(r"^trailofbits$", issuer=GITHUB_ISSUER).verify(gh)
    with pytest.raises(PolicyError, match="no certificate identity matches"):
        p.IdentityRegexp(r"^github\.com/", issuer=GITHUB_ISSUER).verify(gh)
    with pytest.raises(PolicyError, match="does not match"):
        p.IssuerRegexp(r"https://accounts\..*").verify(gh)
    with pytest.raises(PolicyError, match="does not match"):
        p.IssuerRegexp(r"^token\.actions").verify(gh)
    with pytest.raises(ValueError):
        p.IdentityRegexp("x", issuer="a", issuer_regexp="b")
    with pytest.raises(ValueError, match="bad identity regexp"):
        p.SANRegexp("(")


@pytest.mark.parametrize(
    "claim,value",
    [
        ("repository", "trailofbits/rfc8785.py"),
        ("ref", "refs/tags/v0.1.2"),
        ("sha", "d8b4a6445f38c48b9137a8099706d9b8073146e4"),
        ("trigger", "release"),
        ("workflow_name", "release"),
    ],
)
def test_github_claims(gh, claim: str, value: str) -> None:
    p.GitHubClaim(claim, value).verify(gh)
    with pytest.raises(PolicyError, match=f"GitHub {claim} does not match"):
        p.GitHubClaim(claim, value + "x").verify(gh)


def test_github_helpers_and_missing(gh, email) -> None:
    p.AllOf(
        [
            p.GitHubRepository("trailofbits/rfc8785.py"),
            p.GitHubRef("refs/tags/v0.1.2"),
            p.GitHubSHA("d8b4a6445f38c48b9137a8099706d9b8073146e4"),
            p.GitHubTrigger("release"),
            p.GitHubWorkflowName("release"),
        ]
    ).verify(gh)
    with pytest.raises(PolicyError, match="no GitHub repository claim"):
        p.GitHubRepository("a/b").verify(email)
    with pytest.raises(ValueError):
        p.GitHubClaim("colour", "blue")


def test_combinators(gh) -> None:
    good, bad = p.SAN(GITHUB_ID), p.SAN("nobody@example.com")
    p.AnyOf([bad, good]).verify(gh)
    with pytest.raises(PolicyError, match="no policy of 2 matched"):
        p.AnyOf([bad, bad]).verify(gh)
    with pytest.raises(PolicyError):
        p.AllOf([good, bad]).verify(gh)
    with pytest.raises(PolicyError, match="empty AllOf"):
        p.AllOf([]).verify(gh)


def test_public_key_policy() -> None:
    key = (BV / "managed-key-happy-path" / "key.pub").read_bytes()
    pol = p.PublicKey(key)
    with pytest.raises(PolicyError, match="public key was expected"):
        pol.verify(None)
    with pytest.raises(Exception, match="not a valid PEM"):
        p.PublicKey(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


def test_der_utf8() -> None:
    assert p.der_utf8(b"\x0c\x03abc") == "abc"
    long = "x" * 200
    assert p.der_utf8(b"\x0c\x81\xc8" + long.encode()) == long
    with pytest.raises(PolicyError):
        p.der_utf8(b"\x13\x03abc")
    with pytest.raises(PolicyError):
        p.der_utf8(b"\x0c\x05abc")
