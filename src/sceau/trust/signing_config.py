"""Build ``signing_config.v0.2.json``: which services a signer should call.

sigstore-python 4.x keeps, per operator, the service with the highest supported API
version whose ``validFor`` contains now, then applies the selector (docs/protocols.md §5.2).
So with Rekor v1 and v2 under one operator, clients write to v2 by default and
``--rekor-version 1`` picks v1. sigstore-js supports only the ``ANY`` selector.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sigstore_models.trustroot.v1 import SigningConfig

from sceau.errors import InputError
from sceau.trust._wire import strict_round_trip, time_range

SIGNING_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
TSA_PATH = "/api/v1/timestamp"


def tsa_endpoint(url: str) -> str:
    """The full RFC 3161 endpoint: clients POST to the TSA URL verbatim."""
    if urlsplit(url).path.rstrip("/").endswith("/timestamp"):
        return url
    return url.rstrip("/") + TSA_PATH


def build_signing_config(
    *,
    ca_url: str,
    oidc_url: str | None,
    rekor_v1_url: str | None,
    rekor_v2_url: str | None,
    tsa_url: str | None,
    valid_from: datetime,
    operator: str,
) -> dict[str, Any]:
    """Return a SigningConfig v0.2 document that sigstore-python accepts as is.

    ``ca_url`` must be the CA's origin (python drops any path); Rekor URLs are bases (the
    client appends ``/api/v1`` or ``/api/v2``); ``tsa_url`` may be the base or the full
    endpoint. Rekor v2 is listed first (newest first, as the public instance does).
    """
    if rekor_v1_url is None and rekor_v2_url is None:
        raise InputError("a signing config needs at least one Rekor URL")
    if rekor_v2_url is not None and tsa_url is None:
        raise InputError("Rekor v2 gives no signed time: a TSA URL is required with it")
    if not operator:
        raise InputError("operator must not be empty")
    valid_for = time_range(valid_from, None, "signing config")

    def service(url: str, version: int) -> dict[str, Any]:
        if urlsplit(url).scheme not in ("http", "https"):
            raise InputError(f"service URL must be http(s): {url!r}")
        return {"url": url, "majorApiVersion": version, "validFor": valid_for, "operator": operator}

    rekors = []
    if rekor_v2_url is not None:
        rekors.append(service(rekor_v2_url.rstrip("/"), 2))
    if rekor_v1_url is not None:
        rekors.append(service(rekor_v1_url.rstrip("/"), 1))
    doc: dict[str, Any] = {
        "mediaType": SIGNING_CONFIG_MEDIA_TYPE,
        "caUrls": [service(ca_url.rstrip("/"), 1)],
        "oidcUrls": [service(oidc_url.rstrip("/"), 1)] if oidc_url else [],
        "rekorTlogUrls": rekors,
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaUrls": [service(tsa_endpoint(tsa_url), 1)] if tsa_url else [],
        "tsaConfig": {"selector": "ANY"},
    }
    return strict_round_trip(SigningConfig, doc, "signing config")
