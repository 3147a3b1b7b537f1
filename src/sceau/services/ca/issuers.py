"""Which OIDC issuers the CA trusts, and what kind of identity each one vouches for.

The configuration has Fulcio's shape (``fulcio: pkg/config/config.go``, YAML keys), so an
operator can carry a Fulcio ``config.yaml`` over (parse it to a dict first; YAML ``define``
anchors are accepted and ignored)::

    oidc-issuers:        # exact issuer URLs
      https://accounts.example.com: {client-id: sigstore, type: email}
    meta-issuers:        # wildcard URLs: '*' = one [-_a-zA-Z0-9]+ label/segment
      https://token.actions.githubusercontent.com/*:
        {type: ci-provider, ci-provider: github-workflow}
    ci-issuer-metadata:  # optional; built in: github, gitlab, buildkite, circleci, codefresh
      my-ci: {default-template-values: {...}, extension-templates: {...},
              subject-alternative-name-template: "..."}

Per issuer: ``issuer-url``, ``client-id`` (the required ``aud``, default ``sigstore``),
``type`` (``email``, ``ci-provider``, ``github-workflow``, ``gitlab-pipeline``,
``buildkite-job``, ``codefresh-workflow``, ``circleci-job``, ``spiffe``, ``kubernetes``, ``uri``,
``username``), ``ci-provider``, ``issuer-claim`` (JSONPath like
``$.federated_claims.connector_id``, email only), ``subject-domain`` (uri, username),
``spiffe-trust-domain``, ``challenge-claim``, ``skip-email-verification``; ``contact`` and
``description`` are accepted and ignored. The dedicated CI types (``github-workflow``, …)
behave as ``ci-provider`` with the metadata of the same name.

**The development issuer.** ``IssuerSet.from_config(cfg, dev_oidc_url=URL)`` adds two
exact issuers for the dev OIDC issuer (:mod:`sceau.services.oidc`), both served by one
key and one JWKS: ``URL`` (normally ``<instance>/oidc``) of type ``email``, and
``URL + "/github"`` of type ``ci-provider``/``github-workflow``, which mints
GitHub-Actions-shaped tokens. One issuer URL per identity type keeps each issuer's
meaning fixed, exactly as Fulcio requires of real issuers.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sceau.errors import InputError
from sceau.services.ca.ident_ci_metadata import BUILTIN_CI_METADATA, EXTENSION_ARCS
from sceau.services.ca.ident_template import TemplateError, check_template

DEFAULT_CLIENT_ID = "sigstore"
DEV_GITHUB_SUFFIX = "/github"

EMAIL = "email"
CI_PROVIDER = "ci-provider"
SPIFFE = "spiffe"
KUBERNETES = "kubernetes"
URI = "uri"
USERNAME = "username"
# Fulcio's older dedicated CI types; each maps to the ci-issuer-metadata of the same name.
DEDICATED_CI_TYPES = frozenset(
    {"github-workflow", "gitlab-pipeline", "buildkite-job", "codefresh-workflow", "circleci-job"}
)
ISSUER_TYPES = frozenset({EMAIL, CI_PROVIDER, SPIFFE, KUBERNETES, URI, USERNAME}) | (
    DEDICATED_CI_TYPES
)

_ISSUER_KEYS = {
    "issuer-url",
    "client-id",
    "type",
    "ci-provider",
    "issuer-claim",
    "subject-domain",
    "spiffe-trust-domain",
    "challenge-claim",
    "skip-email-verification",
    "contact",
    "description",
}
_TOP_KEYS = {"oidc-issuers", "meta-issuers", "ci-issuer-metadata", "define"}
_META_KEYS = {"default-template-values", "extension-templates", "subject-alternative-name-template"}
_TRUST_DOMAIN = re.compile(r"[a-z0-9._-]+")
_JSONPATH_STEP = re.compile(r"""\.([A-Za-z0-9_-]+)|\[\s*(?:'([^']*)'|"([^"]*)")\s*\]""")


@dataclass(frozen=True)
class CIProviderMetadata:
    """How a CI provider's claims become the SAN and extensions (Fulcio ``IssuerMetadata``)."""

    name: str
    defaults: Mapping[str, str]
    extension_templates: Mapping[str, str]  # extension name (EXTENSION_ARCS) -> template
    san_template: str

    @classmethod
    def from_config(cls, name: str, raw: Any) -> CIProviderMetadata:
        where = f"ci-issuer-metadata {name!r}"
        if not isinstance(raw, Mapping):
            raise InputError(f"{where} must be a mapping")
        _check_keys(raw, _META_KEYS, where)
        defaults = _str_map(raw.get("default-template-values", {}), f"{where} defaults")
        templates = _str_map(raw.get("extension-templates", {}), f"{where} extension-templates")
        for ext_name, template in templates.items():
            if ext_name not in EXTENSION_ARCS:
                raise InputError(f"{where}: unknown extension {ext_name!r}")
            _check_template(template, f"{where} {ext_name}")
        san = raw.get("subject-alternative-name-template")
        if not isinstance(san, str) or not san.strip():
            raise InputError(f"{where}: subject-alternative-name-template is required")
        _check_template(san, f"{where} subject-alternative-name-template")
        return cls(name, defaults, templates, san)


@dataclass(frozen=True)
class IssuerConfig:
    """One trusted issuer. For a wildcard match, ``url`` is the concrete token issuer."""

    url: str
    type: str
    client_id: str = DEFAULT_CLIENT_ID
    wildcard: str | None = None  # the meta-issuer pattern this came from
    ci: CIProviderMetadata | None = None
    issuer_claim: tuple[str, ...] | None = None  # parsed JSONPath
    subject_domain: str | None = None
    spiffe_trust_domain: str | None = None
    challenge_claim: str | None = None
    skip_email_verification: bool = False

    @property
    def challenge(self) -> str:
        """The claim the proof of possession signs (``issuerToChallengeClaim``)."""
        return self.challenge_claim or ("email" if self.type == EMAIL else "sub")

    @property
    def is_ci(self) -> bool:
        return self.type == CI_PROVIDER or self.type in DEDICATED_CI_TYPES

    def configuration_entry(self) -> dict[str, str]:
        """This issuer as a ``/api/v2/configuration`` ``OIDCIssuer`` (proto3 JSON)."""
        entry = {"wildcardIssuerUrl": self.wildcard} if self.wildcard else {"issuerUrl": self.url}
        entry["audience"] = self.client_id
        if self.spiffe_trust_domain:
            entry["spiffeTrustDomain"] = self.spiffe_trust_domain
        entry["challengeClaim"] = self.challenge
        return entry


@dataclass(frozen=True)
class IssuerSet:
    """The trusted issuers: exact URLs first, then wildcard patterns in config order."""

    exact: Mapping[str, IssuerConfig] = field(default_factory=dict)
    meta: tuple[tuple[re.Pattern[str], IssuerConfig], ...] = ()

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], *, dev_oidc_url: str | None = None
    ) -> IssuerSet:
        """Build and validate from Fulcio-shaped config; raise :class:`InputError` if bad."""
        if not isinstance(config, Mapping):
            raise InputError("issuer configuration must be a mapping")
        _check_keys(config, _TOP_KEYS, "issuer configuration")
        metadata = dict(BUILTIN_CI_METADATA)
        raw_meta = config.get("ci-issuer-metadata") or {}
        if not isinstance(raw_meta, Mapping):
            raise InputError("ci-issuer-metadata must be a mapping")
        metadata.update(raw_meta)
        parsed_meta = {
            name: CIProviderMetadata.from_config(str(name), raw) for name, raw in metadata.items()
        }
        exact: dict[str, IssuerConfig] = {}
        for url, raw in _mapping(config.get("oidc-issuers"), "oidc-issuers").items():
            exact[url] = _issuer_from_config(url, raw, parsed_meta, wildcard=False)
        meta = []
        for pattern, raw in _mapping(config.get("meta-issuers"), "meta-issuers").items():
            cfg = _issuer_from_config(pattern, raw, parsed_meta, wildcard=True)
            meta.append((meta_regex(pattern), cfg))
        if dev_oidc_url is not None:
            for url, cfg in dev_oidc_issuers(dev_oidc_url, parsed_meta).items():
                if url in exact:
                    raise InputError(f"issuer {url} is configured and also the dev OIDC issuer")
                exact[url] = cfg
        return cls(exact, tuple(meta))

    def lookup(self, issuer_url: str) -> IssuerConfig | None:
        """The configuration for a token's ``iss``, or None if it is not trusted."""
        found = self.exact.get(issuer_url)
        if found is not None:
            return found
        for regex, cfg in self.meta:
            if regex.fullmatch(issuer_url):
                return dataclasses.replace(cfg, url=issuer_url)
        return None

    def __iter__(self) -> Iterator[IssuerConfig]:
        yield from self.exact.values()
        for _, cfg in self.meta:
            yield cfg

    def __len__(self) -> int:
        return len(self.exact) + len(self.meta)

    def configuration_json(self) -> dict[str, Any]:
        """The body of ``GET /api/v2/configuration``."""
        return {"issuers": [cfg.configuration_entry() for cfg in self]}


def dev_oidc_issuers(
    dev_oidc_url: str, metadata: Mapping[str, CIProviderMetadata] | None = None
) -> dict[str, IssuerConfig]:
    """The two issuers a dev OIDC issuer at ``dev_oidc_url`` stands for (module docstring)."""
    url = dev_oidc_url.rstrip("/")
    _check_url(url, "dev OIDC issuer URL", wildcard=False)
    github = (metadata or {}).get("github-workflow") or CIProviderMetadata.from_config(
        "github-workflow", BUILTIN_CI_METADATA["github-workflow"]
    )
    return {
        url: IssuerConfig(url=url, type=EMAIL),
        url + DEV_GITHUB_SUFFIX: IssuerConfig(
            url=url + DEV_GITHUB_SUFFIX, type=CI_PROVIDER, ci=github
        ),
    }


def meta_regex(pattern: str) -> re.Pattern[str]:
    """Fulcio's ``metaRegex``: quote everything, ``*`` → ``[-_a-zA-Z0-9]+`` (matched whole)."""
    return re.compile("[-_a-zA-Z0-9]+".join(re.escape(part) for part in pattern.split("*")))


def parse_jsonpath(path: str) -> tuple[str, ...]:
    """``$.a.b`` / ``$['a']["b"]`` → ``("a", "b")``: the JSONPath subset issuer-claim needs."""
    if not path.startswith("$"):
        raise InputError(f"issuer-claim {path!r} must be a JSONPath starting with '$'")
    steps: list[str] = []
    pos = 1
    while pos < len(path):
        m = _JSONPATH_STEP.match(path, pos)
        if not m:
            raise InputError(f"issuer-claim {path!r}: unsupported JSONPath at {path[pos:]!r}")
        steps.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
    if not steps:
        raise InputError(f"issuer-claim {path!r} selects the whole token")
    return tuple(steps)


def _issuer_from_config(
    key: str, raw: Any, metadata: Mapping[str, CIProviderMetadata], *, wildcard: bool
) -> IssuerConfig:
    where = f"issuer {key!r}"
    if not isinstance(raw, Mapping):
        raise InputError(f"{where} must be a mapping")
    _check_keys(raw, _ISSUER_KEYS, where)
    url = _opt_str(raw, "issuer-url", where) or key
    if not wildcard and url != key:
        raise InputError(f"{where}: issuer-url {url!r} differs from its key")
    if wildcard:
        url = key
    _check_url(url, where, wildcard=wildcard)
    itype = _opt_str(raw, "type", where)
    if itype not in ISSUER_TYPES:
        raise InputError(f"{where}: unsupported type {itype!r}")
    client_id = _opt_str(raw, "client-id", where) or DEFAULT_CLIENT_ID
    skip = raw.get("skip-email-verification", False)
    if not isinstance(skip, bool):
        raise InputError(f"{where}: skip-email-verification must be true or false")
    cfg = IssuerConfig(
        url=url,
        type=itype,
        client_id=client_id,
        wildcard=key if wildcard else None,
        subject_domain=_opt_str(raw, "subject-domain", where),
        spiffe_trust_domain=_opt_str(raw, "spiffe-trust-domain", where),
        challenge_claim=_opt_str(raw, "challenge-claim", where),
        skip_email_verification=skip,
    )
    claim = _opt_str(raw, "issuer-claim", where)
    if claim is not None:
        if itype != EMAIL:
            raise InputError(f"{where}: only email issuers can use issuer-claim")
        cfg = dataclasses.replace(cfg, issuer_claim=parse_jsonpath(claim))
    if cfg.is_ci:
        provider = itype if itype in DEDICATED_CI_TYPES else _opt_str(raw, "ci-provider", where)
        if provider is None:
            raise InputError(f"{where}: type ci-provider needs ci-provider")
        if provider not in metadata:
            raise InputError(f"{where}: no ci-issuer-metadata named {provider!r}")
        cfg = dataclasses.replace(cfg, ci=metadata[provider])
    _validate_type_settings(cfg, where, wildcard=wildcard)
    return cfg


def _validate_type_settings(cfg: IssuerConfig, where: str, *, wildcard: bool) -> None:
    """Fulcio's ``validateConfig``: settings a type needs, and domain ownership rules."""
    if cfg.type == SPIFFE:
        if wildcard:
            raise InputError(f"{where}: SPIFFE meta issuers are not supported")
        td = cfg.spiffe_trust_domain
        if not td or not _TRUST_DOMAIN.fullmatch(td):
            raise InputError(f"{where}: spiffe issuer needs a valid spiffe-trust-domain")
    if cfg.type in (URI, USERNAME):
        domain = cfg.subject_domain
        if not domain:
            raise InputError(f"{where}: {cfg.type} issuer needs subject-domain")
        issuer = urlsplit(cfg.url.replace("*", "x"))
        if cfg.type == URI:
            sub = urlsplit(domain)
            if not sub.scheme or not sub.hostname:
                raise InputError(f"{where}: subject-domain for uri must be a URL with a scheme")
            if sub.scheme != issuer.scheme:
                raise InputError(f"{where}: subject-domain and issuer URL schemes differ")
            _check_same_domain(sub.hostname, issuer.hostname or "", where)
        else:
            if "://" in domain or "/" in domain:
                raise InputError(f"{where}: subject-domain for username must not have a scheme")
            _check_same_domain(domain.lower(), issuer.hostname or "", where)


def _check_same_domain(subject_host: str, issuer_host: str, where: str) -> None:
    """Fulcio's ``validateAllowedDomain``: equal, or same top- and second-level labels."""
    if subject_host == issuer_host:
        return
    s, i = subject_host.split("."), issuer_host.split(".")
    if len(s) < 2 or len(i) < 2 or s[-2:] != i[-2:]:
        raise InputError(
            f"{where}: subject domain {subject_host!r} is not under the issuer's domain "
            f"{issuer_host!r}"
        )


def _check_url(url: str, where: str, *, wildcard: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise InputError(f"{where}: issuer URL must be an http(s) URL")
    if parts.query or parts.fragment:
        raise InputError(f"{where}: issuer URL must not have a query or fragment")
    if not wildcard and "*" in url:
        raise InputError(f"{where}: '*' is only allowed in meta-issuers")


def _check_template(template: str, where: str) -> None:
    try:
        check_template(template)
    except TemplateError as e:
        raise InputError(f"{where}: {e}") from e


def _check_keys(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise InputError(f"{where}: unknown setting(s) {', '.join(unknown)}")


def _mapping(raw: Any, where: str) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) for k in raw):
        raise InputError(f"{where} must be a mapping of URL to settings")
    return raw


def _opt_str(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InputError(f"{where}: {key} must be a non-empty string")
    return value


def _str_map(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise InputError(f"{where} must map strings to strings")
    return dict(raw)
