"""SigningConfig v0.2: which CA, OIDC issuer, logs and TSAs a signer uses (docs/protocols.md §5.2).

Parsed strictly (the ``sigstore-models`` rules, as for bundles and trusted roots), then
narrowed the way sigstore-python narrows it so both clients pick the same services:
keep services whose ``majorApiVersion`` we speak and whose ``validFor`` contains now, keep
one per operator — the highest API version — and apply the selector (ALL, ANY = first,
EXACT = first ``count``). A ``rekor_version`` forces one Rekor API version before that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sceau.client._json import Obj, loads
from sceau.client.errors import TrustRootError
from sceau.client.trust import CLIENT_TRUST_CONFIG_MEDIA_TYPE, TimeRange

SIGNING_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
REKOR_VERSIONS = (1, 2)
TSA_VERSIONS = (1,)
CA_VERSIONS = (1,)
OIDC_VERSIONS = (1,)
SELECTORS = frozenset({"ALL", "ANY", "EXACT"})


class SigningConfigError(TrustRootError):
    """The signing config is malformed or offers no usable service."""


@dataclass(frozen=True)
class Service:
    url: str
    major_api_version: int
    valid_for: TimeRange | None
    operator: str = ""

    def valid_at(self, now: datetime) -> bool:
        return self.valid_for is None or self.valid_for.contains(now)


@dataclass(frozen=True)
class Selector:
    selector: str = "ALL"
    count: int = 0


@dataclass(frozen=True)
class Services:
    """The services one signing operation uses."""

    ca: Service
    tlog: Service  # sigstore-python signs with the first selected log only
    tsas: tuple[Service, ...]
    oidc: Service | None


@dataclass(frozen=True)
class SigningConfig:
    ca_urls: tuple[Service, ...]
    oidc_urls: tuple[Service, ...]
    rekor_tlog_urls: tuple[Service, ...]
    tsa_urls: tuple[Service, ...]
    rekor_tlog_config: Selector | None = None
    tsa_config: Selector | None = None

    @classmethod
    def from_json(cls, data: bytes | str) -> SigningConfig:
        return parse_signing_config(loads(data, "signing config", SigningConfigError))

    @classmethod
    def from_trust_config(cls, data: bytes | str) -> SigningConfig:
        """The ``signingConfig`` member of a ClientTrustConfig."""
        doc = loads(data, "trust config", SigningConfigError)
        top = Obj(
            doc, "trust config", ("mediaType", "trustedRoot", "signingConfig"), SigningConfigError
        )
        if top.req_str("mediaType") != CLIENT_TRUST_CONFIG_MEDIA_TYPE:
            raise SigningConfigError(
                f"unsupported trust config media type {top.raw('mediaType')!r}"
            )
        return parse_signing_config(top.raw("signingConfig"))

    def with_overrides(
        self,
        *,
        rekor_url: str | None = None,
        rekor_version: int | None = None,
        ca_url: str | None = None,
        tsa_url: str | None = None,
        oidc_url: str | None = None,
    ) -> SigningConfig:
        """This config with some services replaced by one URL each (cosign's ``--rekor-url``,
        ``--fulcio-url``, ``--timestamp-server-url``, ``--oidc-issuer``).

        A replaced log keeps the API version the config gives that URL; an unknown URL is
        Rekor ``rekor_version`` (default 1, as cosign's flag means). What the services
        answer is still verified against the trusted root: an override changes where to
        ask, not what to trust.
        """

        def one(url: str, known: Sequence[Service], default_version: int) -> tuple[Service, ...]:
            url = url.rstrip("/")
            versions = [s.major_api_version for s in known if s.url.rstrip("/") == url]
            version = versions[0] if versions and rekor_version is None else default_version
            return (Service(url, version, None),)

        changed = self
        if rekor_url:
            logs = one(rekor_url, self.rekor_tlog_urls, rekor_version or 1)
            changed = replace(changed, rekor_tlog_urls=logs, rekor_tlog_config=None)
        if ca_url:
            changed = replace(changed, ca_urls=one(ca_url, self.ca_urls, 1))
        if tsa_url:
            changed = replace(changed, tsa_urls=one(tsa_url, self.tsa_urls, 1), tsa_config=None)
        if oidc_url:
            changed = replace(changed, oidc_urls=one(oidc_url, self.oidc_urls, 1))
        return changed

    def select(self, *, rekor_version: int | None = None, now: datetime | None = None) -> Services:
        """The services to sign with now; raises :class:`SigningConfigError` if there are none."""
        now = now or datetime.now(UTC)
        if rekor_version is not None and rekor_version not in REKOR_VERSIONS:
            raise SigningConfigError(f"unsupported Rekor API version {rekor_version}")
        versions = REKOR_VERSIONS if rekor_version is None else (rekor_version,)
        tlogs = _select(self.rekor_tlog_urls, versions, self.rekor_tlog_config, now, "Rekor log")
        if not tlogs:
            which = f"Rekor v{rekor_version} log" if rekor_version else "Rekor log"
            raise SigningConfigError(f"no valid {which} in the signing config")
        cas = _select(self.ca_urls, CA_VERSIONS, None, now, "CA")
        if not cas:
            raise SigningConfigError("no valid certificate authority in the signing config")
        tsas = _select(self.tsa_urls, TSA_VERSIONS, self.tsa_config, now, "TSA")
        oidcs = _select(self.oidc_urls, OIDC_VERSIONS, None, now, "OIDC")
        return Services(cas[0], tlogs[0], tuple(tsas), oidcs[0] if oidcs else None)

    def select_tlog(
        self, *, rekor_version: int | None = None, now: datetime | None = None
    ) -> tuple[Service, tuple[Service, ...]]:
        """Log and TSAs only — what key-based signing needs (no CA)."""
        now = now or datetime.now(UTC)
        versions = REKOR_VERSIONS if rekor_version is None else (rekor_version,)
        tlogs = _select(self.rekor_tlog_urls, versions, self.rekor_tlog_config, now, "Rekor log")
        if not tlogs:
            raise SigningConfigError("no valid Rekor log in the signing config")
        tsas = _select(self.tsa_urls, TSA_VERSIONS, self.tsa_config, now, "TSA")
        return tlogs[0], tuple(tsas)


def load_signing_config(path: str | Path) -> SigningConfig:
    """Read ``signing_config.v0.2.json`` or a ClientTrustConfig (detected by media type)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise SigningConfigError(f"cannot read signing config {path}: {e.strerror}") from None
    if b"clienttrustconfig" in data[:400] and b'"signingConfig"' in data:
        return SigningConfig.from_trust_config(data)
    return SigningConfig.from_json(data)


def _select(
    services: Sequence[Service],
    versions: Sequence[int],
    config: Selector | None,
    now: datetime,
    what: str,
) -> list[Service]:
    by_operator: dict[str, list[Service]] = {}
    for s in services:
        if s.major_api_version in versions and s.valid_at(now):
            by_operator.setdefault(s.operator, []).append(s)
    # One per operator, the highest API version (stable: first listed wins a tie).
    result = [max(group, key=lambda s: s.major_api_version) for group in by_operator.values()]
    if config is None or config.selector == "ALL":
        return result
    count = config.count if config.selector == "EXACT" and config.count else 1
    if config.selector == "EXACT" and len(result) < count:
        raise SigningConfigError(
            f"signing config asks for exactly {count} {what}(s), only {len(result)} usable"
        )
    return result[:count]


# -- parsing ------------------------------------------------------------------------------

_SERVICE = ("url", "majorApiVersion", "validFor", "operator")


def parse_signing_config(doc: object) -> SigningConfig:
    top = Obj(
        doc,
        "signing config",
        (
            "mediaType",
            "caUrls",
            "oidcUrls",
            "rekorTlogUrls",
            "rekorTlogConfig",
            "tsaUrls",
            "tsaConfig",
        ),
        SigningConfigError,
    )
    media_type = top.req_str("mediaType")
    if media_type != SIGNING_CONFIG_MEDIA_TYPE:
        raise SigningConfigError(f"unsupported signing config media type {media_type!r}")

    def services(name: str) -> tuple[Service, ...]:
        return tuple(
            _service(raw, f"signing config.{name}[{i}]")
            for i, raw in enumerate(top.list(name, required=False))
        )

    return SigningConfig(
        ca_urls=services("caUrls"),
        oidc_urls=services("oidcUrls"),
        rekor_tlog_urls=services("rekorTlogUrls"),
        tsa_urls=services("tsaUrls"),
        rekor_tlog_config=_selector(top, "rekorTlogConfig"),
        tsa_config=_selector(top, "tsaConfig"),
    )


def _service(raw: object, where: str) -> Service:
    o = Obj(raw, where, _SERVICE, SigningConfigError)
    url = o.req_str("url")
    if not url.startswith(("http://", "https://")):
        raise o.fail(f"url must be http(s), got {url!r}")
    version = o.int("majorApiVersion")
    if version is None or version < 0:
        raise o.fail("majorApiVersion must be a non-negative integer")
    vf = o.obj("validFor", ("start", "end"), required=False)
    valid_for = None
    if vf is not None:
        start = vf.time("start")
        assert start is not None
        valid_for = TimeRange(start, vf.time("end", required=False))
    return Service(url, version, valid_for, o.str("operator", required=False) or "")


def _selector(top: Obj, name: str) -> Selector | None:
    o = top.obj(name, ("selector", "count"), required=False)
    if o is None:
        return None
    selector = o.enum("selector", SELECTORS, required=False) or "ALL"
    count = o.int("count", required=False) or 0
    if count < 0:
        raise o.fail("count must be non-negative")
    return Selector(selector, count)
