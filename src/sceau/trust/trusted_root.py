"""Build ``trusted_root.json``: the keys and certificates a verifier needs, offline.

The output is the protobuf-JSON of ``dev.sigstore.trustroot.v1.TrustedRoot`` with media
type ``…trustedroot+json;version=0.1`` — the only one sigstore-python 4.x accepts
(docs/protocols.md §0.2, §5.1). Certificate chains go leaf→root and include the root (js
needs it); log IDs are given by the caller because their rule depends on the log type
(SHA-256 of the SPKI for CT and Rekor v1, ``sceau.note.log_id`` for Ed25519 Rekor v2).

One model for both sides: the entries are the client's own values
(:class:`~sceau.client.trust.LogInstance`, :class:`~sceau.client.trust.Authority`), built
here with the server's defaults and checks, and the document is
:meth:`sceau.client.trust.TrustedRoot.to_dict` — checked once more against
``sigstore-models`` before it is published.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from sigstore_models.trustroot.v1 import TrustedRoot as TrustedRootModel

from sceau.client.trust import Authority, LogInstance, TimeRange, TrustedRoot
from sceau.errors import InputError
from sceau.trust._wire import (
    PublicKeyLike,
    cert_der,
    load_public_key,
    rfc3339,
    spki,
    spki_log_id,
    strict_round_trip,
)
from sceau.trust._wire import (
    key_details as derive_key_details,
)

TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"


def _validity(start: datetime, end: datetime | None, what: str) -> TimeRange:
    rfc3339(start, f"{what} valid_from")  # refuses naive datetimes
    if end is not None:
        rfc3339(end, f"{what} valid_until")
        if end <= start:
            raise InputError(f"{what}: valid_until must be after valid_from")
    return TimeRange(start, end)


def tlog_entry(
    base_url: str,
    public_key: PublicKeyLike,
    valid_from: datetime,
    *,
    log_id: bytes | None = None,
    valid_until: datetime | None = None,
    key_details: str | None = None,
    checkpoint_key_id: bytes | None = None,
    operator: str | None = None,
) -> LogInstance:
    """A transparency log (Rekor v1/v2 or CT) as verifiers see it.

    ``log_id`` defaults to SHA-256(SPKI), right for CT and Rekor v1; Ed25519 (Rekor v2)
    logs must pass ``sceau.note.log_id(name, key)`` explicitly.
    """
    key = load_public_key(public_key)
    details = key_details or derive_key_details(key)
    if log_id is None:
        if details == "PKIX_ED25519":
            raise InputError(
                f"log {base_url}: an Ed25519 log needs an explicit log_id "
                "(sceau.note.log_id(name, key))"
            )
        log_id = spki_log_id(key)
    if len(log_id) != 32:
        raise InputError(f"log {base_url}: log_id must be 32 bytes")
    return LogInstance(
        base_url=base_url,
        log_id=log_id,
        checkpoint_key_id=checkpoint_key_id,
        key_details=details,
        public_key=key,
        valid_for=_validity(valid_from, valid_until, f"log {base_url}"),
        operator=operator,
        public_key_der=spki(key),
    )


def ca_entry(
    uri: str,
    chain: Sequence[x509.Certificate | bytes],
    valid_from: datetime,
    *,
    valid_until: datetime | None = None,
    organization: str | None = None,
    common_name: str | None = None,
    operator: str | None = None,
    min_certs: int = 1,
) -> Authority:
    """A certificate authority: ``chain`` is leaf→root *including* the root.

    ``organization``/``common_name`` default to the root certificate's subject.
    """
    what = f"authority {uri}"
    certs = [x509.load_der_x509_certificate(cert_der(c)) for c in chain]
    if len(certs) < min_certs:
        raise InputError(f"{what}: chain needs at least {min_certs} certificate(s)")
    root = certs[-1]
    return Authority(
        chain=tuple(certs),
        valid_for=_validity(valid_from, valid_until, what),
        uri=uri,
        organization=organization or _name_attr(root, NameOID.ORGANIZATION_NAME),
        common_name=common_name or _name_attr(root, NameOID.COMMON_NAME),
        operator=operator,
    )


def tsa_entry(
    uri: str,
    chain: Sequence[x509.Certificate | bytes],
    valid_from: datetime,
    **kwargs: Any,
) -> Authority:
    """A timestamp authority: ``chain`` is the TSA signing cert first, then up to the root."""
    return ca_entry(uri, chain, valid_from, min_certs=2, **kwargs)


def build_trusted_root(
    *,
    ca: Sequence[Authority],
    tlogs: Sequence[LogInstance],
    ctlogs: Sequence[LogInstance],
    tsas: Sequence[Authority] = (),
) -> dict[str, Any]:
    """Return a TrustedRoot document (a JSON-ready dict) that sigstore-python accepts as is."""
    if not tlogs:
        raise InputError("a trusted root needs at least one transparency log")
    if not ca:
        raise InputError("a trusted root needs at least one certificate authority")
    if not ctlogs:
        raise InputError("a trusted root needs at least one CT log (clients check SCTs)")
    doc = TrustedRoot(tlogs, ctlogs, ca, tsas, TRUSTED_ROOT_MEDIA_TYPE).to_dict()
    return strict_round_trip(TrustedRootModel, doc, "trusted root")


def _name_attr(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    attrs = cert.subject.get_attributes_for_oid(oid)
    value = attrs[0].value if attrs else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")
