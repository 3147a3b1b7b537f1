"""A signing certificate decoded for a person: identities, issuer, Fulcio extensions by
name, validity, serial, fingerprint and embedded SCTs.

Decoding never fails the page: an extension that cannot be read is shown as such.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sceau.client.errors import PolicyError
from sceau.client.policy import cert_identities, cert_issuer, der_utf8

FULCIO_ARC = "1.3.6.1.4.1.57264.1."
OID_SCT_LIST = "1.3.6.1.4.1.11129.2.4.2"
RAW_ARCS = frozenset({1, 2, 3, 4, 5, 6})  # raw bytes, not DER UTF8String

# Fulcio's OID registry (fulcio: docs/oid-info.md), by last arc.
FULCIO_NAMES: dict[int, str] = {
    1: "Issuer (legacy)",
    2: "GitHub Workflow Trigger",
    3: "GitHub Workflow SHA",
    4: "GitHub Workflow Name",
    5: "GitHub Workflow Repository",
    6: "GitHub Workflow Ref",
    8: "Issuer",
    9: "Build Signer URI",
    10: "Build Signer Digest",
    11: "Runner Environment",
    12: "Source Repository URI",
    13: "Source Repository Digest",
    14: "Source Repository Ref",
    15: "Source Repository Identifier",
    16: "Source Repository Owner URI",
    17: "Source Repository Owner Identifier",
    18: "Build Config URI",
    19: "Build Config Digest",
    20: "Build Trigger",
    21: "Run Invocation URI",
    22: "Source Repository Visibility At Signing",
    23: "Deployment Environment",
    24: "Token Subject",
}


@dataclass(frozen=True)
class Sct:
    log_id: str  # hex
    time: str


@dataclass(frozen=True)
class CertView:
    subject: str
    issuer: str
    identities: list[str]
    oidc_issuer: str | None
    extensions: list[tuple[str, str, str]]  # (OID, name, value)
    not_before: str
    not_after: str
    serial: str  # hex, no leading zeros
    fingerprint: str  # SHA-256 of the DER, hex
    scts: list[Sct] = field(default_factory=list)
    pem: str = ""
    der: bytes = b""


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_ms(ms: int) -> str:
    return iso(datetime.fromtimestamp(ms / 1000, UTC))


def _ext_text(arc: int, value: bytes) -> str:
    try:
        return value.decode() if arc in RAW_ARCS else der_utf8(value)
    except (PolicyError, UnicodeDecodeError):
        return f"(unreadable: {value[:32].hex()})"


def _fulcio_extensions(cert: x509.Certificate) -> list[tuple[str, str, str]]:
    out = []
    for ext in cert.extensions:
        oid = ext.oid.dotted_string
        if not oid.startswith(FULCIO_ARC) or not isinstance(ext.value, x509.UnrecognizedExtension):
            continue
        tail = oid[len(FULCIO_ARC) :]
        if not tail.isdigit():
            continue
        arc = int(tail)
        name = FULCIO_NAMES.get(arc, "Fulcio extension")
        out.append((oid, name, _ext_text(arc, ext.value.value)))
    return out


def _scts(cert: x509.Certificate) -> list[Sct]:
    try:
        ext = cert.extensions.get_extension_for_class(
            x509.PrecertificateSignedCertificateTimestamps
        )
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [Sct(s.log_id.hex(), iso(s.timestamp.replace(tzinfo=UTC))) for s in ext.value]


def _safe(fn: object, *args: object) -> object:
    try:
        return fn(*args)  # type: ignore[operator]
    except (PolicyError, ValueError):
        return None


def describe(der: bytes) -> CertView | None:
    """The certificate ``der`` for display, or None when it is not a certificate."""
    try:
        cert = x509.load_der_x509_certificate(der)
        subject, issuer = cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
    except ValueError:
        return None
    identities = _safe(cert_identities, cert)
    oidc = _safe(cert_issuer, cert)
    return CertView(
        subject=subject,
        issuer=issuer,
        identities=identities if isinstance(identities, list) else [],
        oidc_issuer=oidc if isinstance(oidc, str) else None,
        extensions=_fulcio_extensions(cert),
        not_before=iso(cert.not_valid_before_utc),
        not_after=iso(cert.not_valid_after_utc),
        serial=format(cert.serial_number, "x"),
        fingerprint=hashlib.sha256(der).hexdigest(),
        scts=_scts(cert),
        pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        der=der,
    )


def pem_to_der(pem: bytes) -> bytes | None:
    try:
        return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    except ValueError:
        return None


def identities_of(der: bytes) -> list[str]:
    """Only the SAN identities: what a result row shows, at a fraction of ``describe``."""
    try:
        found = cert_identities(x509.load_der_x509_certificate(der))
    except (PolicyError, ValueError):
        return []
    return list(found)
