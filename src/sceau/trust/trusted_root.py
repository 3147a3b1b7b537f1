"""Build ``trusted_root.json``: the keys and certificates a verifier needs, offline.

The output is the protobuf-JSON of ``dev.sigstore.trustroot.v1.TrustedRoot`` with media
type ``…trustedroot+json;version=0.1`` — the only one sigstore-python 4.x accepts
(docs/protocols.md §0.2, §5.1). Certificate chains go leaf→root and include the root (js
needs it); log IDs are given by the caller because their rule depends on the log type
(SHA-256 of the SPKI for CT and Rekor v1, ``sceau.note.log_id`` for Ed25519 Rekor v2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from sigstore_models.trustroot.v1 import TrustedRoot

from sceau.errors import InputError
from sceau.trust._wire import (
    PublicKeyLike,
    b64,
    cert_der,
    key_details,
    load_public_key,
    spki,
    spki_log_id,
    strict_round_trip,
    time_range,
)

TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"


@dataclass(frozen=True)
class TlogEntry:
    """A transparency log (Rekor v1/v2 or CT) as verifiers see it.

    ``log_id`` defaults to SHA-256(SPKI), right for CT and Rekor v1; Ed25519 (Rekor v2)
    logs must pass ``sceau.note.log_id(name, key)`` explicitly.
    """

    base_url: str
    public_key: PublicKeyLike
    valid_from: datetime
    log_id: bytes | None = None
    valid_until: datetime | None = None
    key_details: str | None = None
    checkpoint_key_id: bytes | None = None
    operator: str | None = None


@dataclass(frozen=True)
class CAEntry:
    """A certificate authority: ``chain`` is leaf→root *including* the root.

    ``organization``/``common_name`` default to the root certificate's subject.
    """

    uri: str
    chain: Sequence[x509.Certificate | bytes]
    valid_from: datetime
    valid_until: datetime | None = None
    organization: str | None = None
    common_name: str | None = None
    operator: str | None = None


@dataclass(frozen=True)
class TSAEntry(CAEntry):
    """A timestamp authority: ``chain`` is the TSA signing cert first, then up to the root."""


def build_trusted_root(
    *,
    ca: Sequence[CAEntry],
    tlogs: Sequence[TlogEntry],
    ctlogs: Sequence[TlogEntry],
    tsas: Sequence[TSAEntry] = (),
) -> dict[str, Any]:
    """Return a TrustedRoot document (a JSON-ready dict) that sigstore-python accepts as is."""
    if not tlogs:
        raise InputError("a trusted root needs at least one transparency log")
    if not ca:
        raise InputError("a trusted root needs at least one certificate authority")
    if not ctlogs:
        raise InputError("a trusted root needs at least one CT log (clients check SCTs)")
    doc = {
        "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
        "tlogs": [_tlog(t, "tlog") for t in tlogs],
        "certificateAuthorities": [_authority(c, "certificate authority", 1) for c in ca],
        "ctlogs": [_tlog(t, "ctlog") for t in ctlogs],
        "timestampAuthorities": [_authority(t, "timestamp authority", 2) for t in tsas],
    }
    return strict_round_trip(TrustedRoot, doc, "trusted root")


def _tlog(entry: TlogEntry, what: str) -> dict[str, Any]:
    key = load_public_key(entry.public_key)
    details = entry.key_details or key_details(key)
    if entry.log_id is None:
        if details == "PKIX_ED25519":
            raise InputError(
                f"{what} {entry.base_url}: an Ed25519 log needs an explicit log_id "
                "(sceau.note.log_id(name, key))"
            )
        log_id = spki_log_id(key)
    else:
        log_id = entry.log_id
    if len(log_id) != 32:
        raise InputError(f"{what} {entry.base_url}: log_id must be 32 bytes")
    out: dict[str, Any] = {
        "baseUrl": entry.base_url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": b64(spki(key)),
            "keyDetails": details,
            "validFor": time_range(entry.valid_from, entry.valid_until, what),
        },
        "logId": {"keyId": b64(log_id)},
    }
    if entry.checkpoint_key_id is not None:
        out["checkpointKeyId"] = {"keyId": b64(entry.checkpoint_key_id)}
    if entry.operator is not None:
        out["operator"] = entry.operator
    return out


def _authority(entry: CAEntry, what: str, min_certs: int) -> dict[str, Any]:
    ders = [cert_der(c) for c in entry.chain]
    if len(ders) < min_certs:
        raise InputError(f"{what} {entry.uri}: chain needs at least {min_certs} certificate(s)")
    root = x509.load_der_x509_certificate(ders[-1])
    out: dict[str, Any] = {
        "subject": {
            "organization": entry.organization or _name_attr(root, NameOID.ORGANIZATION_NAME),
            "commonName": entry.common_name or _name_attr(root, NameOID.COMMON_NAME),
        },
        "uri": entry.uri,
        "certChain": {"certificates": [{"rawBytes": b64(d)} for d in ders]},
        "validFor": time_range(entry.valid_from, entry.valid_until, what),
    }
    if entry.operator is not None:
        out["operator"] = entry.operator
    return out


def _name_attr(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    attrs = cert.subject.get_attributes_for_oid(oid)
    value = attrs[0].value if attrs else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")
