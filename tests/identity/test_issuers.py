"""IssuerSet configuration: Fulcio's shape, its validation rules, wildcard matching, JSON."""

from __future__ import annotations

import pytest

from sceau.errors import InputError
from sceau.services.ca.ident_template import Template, TemplateError, render_value
from sceau.services.ca.issuers import IssuerSet, dev_oidc_issuers, meta_regex, parse_jsonpath
from sceau.services.oidc.issuer import GITHUB_SUFFIX


def test_configuration_json_shape() -> None:
    s = IssuerSet.from_config(
        {
            "define": ["anchors are ignored"],
            "oidc-issuers": {
                "https://accounts.google.com": {
                    "issuer-url": "https://accounts.google.com",
                    "client-id": "sigstore",
                    "type": "email",
                    "contact": "x@y.z",
                    "description": "Google",
                },
                "https://spire.example.org": {
                    "type": "spiffe",
                    "spiffe-trust-domain": "example.org",
                },
                "https://custom.example.com": {
                    "type": "email",
                    "client-id": "my-ca",
                    "challenge-claim": "preferred_username",
                },
            },
            "meta-issuers": {
                "https://token.actions.githubusercontent.com/*": {
                    "client-id": "sigstore",
                    "type": "ci-provider",
                    "ci-provider": "github-workflow",
                }
            },
        }
    )
    assert s.configuration_json() == {
        "issuers": [
            {
                "issuerUrl": "https://accounts.google.com",
                "audience": "sigstore",
                "challengeClaim": "email",
            },
            {
                "issuerUrl": "https://spire.example.org",
                "audience": "sigstore",
                "spiffeTrustDomain": "example.org",
                "challengeClaim": "sub",
            },
            {
                "issuerUrl": "https://custom.example.com",
                "audience": "my-ca",
                "challengeClaim": "preferred_username",
            },
            {
                "wildcardIssuerUrl": "https://token.actions.githubusercontent.com/*",
                "audience": "sigstore",
                "challengeClaim": "sub",
            },
        ]
    }
    assert len(s) == 4


@pytest.mark.parametrize(
    ("pattern", "url", "matches"),
    [
        ("EKS", "https://oidc.eks.us-west-2.amazonaws.com/id/AB12", True),
        ("EKS", "https://oidc.eks.a.b.amazonaws.com/id/AB", False),
        ("EKS", "https://oidc.eks.x.amazonaws.com/id/A/B", False),
        ("EKS", "https://oidc.eksXx.amazonaws.com/id/A", False),
        ("EKS", "https://evil.com/?https://oidc.eks.x.amazonaws.com/id/A", False),
        ("EKS", "https://oidc.eks.x.amazonaws.com/id/A/", False),
        ("https://x.test/*", "https://x.test/a_b-C9", True),
        ("https://x.test/*", "https://x.test/", False),
        ("https://x.test/*", "https://x.test/a:b", False),
    ],
)  # fmt: skip
def test_meta_regex(pattern: str, url: str, matches: bool) -> None:
    pattern = pattern.replace("EKS", "https://oidc.eks.*.amazonaws.com/id/*")
    assert bool(meta_regex(pattern).fullmatch(url)) is matches
    s = IssuerSet.from_config({"meta-issuers": {pattern: {"type": "kubernetes"}}})
    assert (s.lookup(url) is not None) is matches


def test_exact_issuer_wins_over_wildcard() -> None:
    s = IssuerSet.from_config(
        {
            "oidc-issuers": {"https://x.test/a": {"type": "email"}},
            "meta-issuers": {"https://x.test/*": {"type": "kubernetes"}},
        }
    )
    assert s.lookup("https://x.test/a").type == "email"
    assert s.lookup("https://x.test/b").type == "kubernetes"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"oidc-issuer": {}}, "unknown setting"),
        ({"oidc-issuers": {"https://a.test": {"type": "magic"}}}, "unsupported type"),
        ({"oidc-issuers": {"https://a.test": {"type": "email", "colour": 1}}}, "unknown setting"),
        ({"oidc-issuers": {"ftp://a.test": {"type": "email"}}}, "http"),
        ({"oidc-issuers": {"https://a.test/*": {"type": "email"}}}, "only allowed in meta"),
        (
            {"oidc-issuers": {"https://a.test": {"type": "email", "issuer-url": "https://b.test"}}},
            "differs from its key",
        ),
        (
            {"oidc-issuers": {"https://a.test": {"type": "kubernetes", "issuer-claim": "$.x"}}},
            "only email issuers",
        ),
        (
            {"oidc-issuers": {"https://a.test": {"type": "email", "issuer-claim": "x.y"}}},
            "JSONPath",
        ),
        ({"oidc-issuers": {"https://a.test": {"type": "spiffe"}}}, "spiffe-trust-domain"),
        (
            {"meta-issuers": {"https://*.test": {"type": "spiffe", "spiffe-trust-domain": "a"}}},
            "SPIFFE meta issuers",
        ),
        ({"oidc-issuers": {"https://a.test": {"type": "ci-provider"}}}, "needs ci-provider"),
        (
            {"oidc-issuers": {"https://a.test": {"type": "ci-provider", "ci-provider": "nope"}}},
            "no ci-issuer-metadata named 'nope'",
        ),
        ({"oidc-issuers": {"https://a.test": {"type": "uri"}}}, "needs subject-domain"),
        (
            {"oidc-issuers": {"https://a.example.com": {"type": "uri", "subject-domain": "x.com"}}},
            "must be a URL",
        ),
        (
            {
                "oidc-issuers": {
                    "https://a.example.com": {"type": "uri", "subject-domain": "http://example.com"}
                }
            },
            "schemes differ",
        ),
        (
            {
                "oidc-issuers": {
                    "https://a.example.com": {"type": "uri", "subject-domain": "https://evil.com"}
                }
            },
            "not under the issuer's domain",
        ),
        (
            {
                "oidc-issuers": {
                    "https://a.example.com": {
                        "type": "username",
                        "subject-domain": "https://example.com",
                    }
                }
            },
            "must not have a scheme",
        ),
        (
            {
                "oidc-issuers": {
                    "https://a.example.com": {
                        "type": "email",
                        "skip-email-verification": "yes",
                    }
                }
            },
            "true or false",
        ),
        (
            {"ci-issuer-metadata": {"x": {"extension-templates": {"bogus": "a"}}}},
            "unknown extension 'bogus'",
        ),
        (
            {"ci-issuer-metadata": {"x": {"subject-alternative-name-template": "{{ .a "}}},
            "subject-alternative-name-template",
        ),
        ({"ci-issuer-metadata": {"x": {}}}, "subject-alternative-name-template is required"),
    ],
)
def test_bad_config_is_refused(config: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        IssuerSet.from_config(config)


def test_custom_ci_metadata() -> None:
    s = IssuerSet.from_config(
        {
            "ci-issuer-metadata": {
                "forge": {
                    "default-template-values": {"url": "https://forge.test"},
                    "extension-templates": {"source-repository-uri": "{{.url}}/{{.repo}}"},
                    "subject-alternative-name-template": "{{.url}}/{{.repo}}/{{.pipeline}}",
                }
            },
            "oidc-issuers": {
                "https://ci.forge.test": {"type": "ci-provider", "ci-provider": "forge"}
            },
        }
    )
    cfg = s.lookup("https://ci.forge.test")
    assert cfg.ci is not None and cfg.ci.name == "forge"


def test_dev_oidc_issuers_follow_the_dev_issuer_convention() -> None:
    s = IssuerSet.from_config({}, dev_oidc_url="http://127.0.0.1:8080/oidc/")
    email = s.lookup("http://127.0.0.1:8080/oidc")
    github = s.lookup("http://127.0.0.1:8080/oidc" + GITHUB_SUFFIX)
    assert email.type == "email"
    assert github.type == "ci-provider" and github.ci.name == "github-workflow"
    assert set(dev_oidc_issuers("http://h/oidc")) == {"http://h/oidc", "http://h/oidc/github"}
    with pytest.raises(InputError, match="also the dev OIDC issuer"):
        IssuerSet.from_config(
            {"oidc-issuers": {"http://h/oidc": {"type": "email"}}}, dev_oidc_url="http://h/oidc"
        )


def test_jsonpath() -> None:
    assert parse_jsonpath("$.federated_claims.connector_id") == (
        "federated_claims",
        "connector_id",
    )
    assert parse_jsonpath("$['a.b'][\"c\"].d") == ("a.b", "c", "d")
    for bad in ("$", "$..a", "$.a[0]", "a.b"):
        with pytest.raises(InputError):
            parse_jsonpath(bad)


def test_templates() -> None:
    data = {"a": "1", "ref_type": "branch", "ref": "main", "k/x": "v"}
    assert render_value("a", data) == "1"
    assert render_value("{{.a}}-{{ .ref }}", data) == "1-main"
    assert render_value('{{ index . "k/x" }}', data) == "v"
    assert render_value('{{ index . "missing" }}', data) == ""
    assert render_value('{{if eq .ref_type "branch"}}heads{{else}}tags{{end}}', data) == "heads"
    assert render_value('{{if eq .a "2"}}yes{{end}}', data) == ""
    assert render_value('x{{"lit"}}y', data) == "xlity"
    for bad in ("{{ .a ", "{{ printf .a }}", "{{if .a}}x", "{{ end }}", "{{ eq .a }}", "{{ . }}"):
        with pytest.raises(TemplateError):
            Template.parse(bad).render(data)
    with pytest.raises(TemplateError, match="'nope' is missing"):
        render_value("{{ .nope }}", data)
    with pytest.raises(TemplateError, match="'nope' is missing"):
        render_value("nope", data)
