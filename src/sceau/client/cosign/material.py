"""cosign's detached material and legacy bundles, parsed into plain values.

- a signature file: the base64 signature ``cosign sign-blob --output-signature`` writes;
- a certificate file: PEM (``--output-certificate``), base64 of that PEM, or DER;
- a certificate chain: PEM certificates, the leaf's issuer first;
- the legacy cosign bundle, ``{"base64Signature", "cert", "rekorBundle": {...}}``;
- a bare Rekor bundle, ``{"SignedEntryTimestamp", "Payload": {"body", "integratedTime",
  "logIndex", "logID"}}`` (what sigstore-python 1.x called an offline Rekor bundle).

Every failure is a one-line :class:`~sceau.client.errors.BundleError` naming the file.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sceau.client.bundle import TlogEntry
from sceau.client.errors import BundleError

MAX_FILE = 16 * 1024 * 1024
_PEM_CERT = b"-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class RekorBundle:
    """A Rekor v1 entry with its Signed Entry Timestamp and no inclusion proof."""

    signed_entry_timestamp: bytes
    body: bytes
    integrated_time: int
    log_index: int
    log_id: bytes

    def tlog_entry(self) -> TlogEntry:
        kind, version = _kind_version(self.body)
        return TlogEntry(
            log_index=self.log_index,
            log_id=self.log_id,
            kind=kind,
            version=version,
            integrated_time=self.integrated_time,
            inclusion_promise=self.signed_entry_timestamp,
            inclusion_proof=None,
            canonicalized_body=self.body,
        )


@dataclass(frozen=True)
class LegacyBundle:
    """What a cosign (legacy) bundle file holds; fields it lacks are None."""

    signature: bytes | None
    certificate: bytes | None  # DER
    rekor: RekorBundle
    public_key: bytes | None = None  # SPKI DER: cosign puts a key's PEM in "cert"


def read_file(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE + 1)
    except OSError as e:
        raise BundleError(f"cannot read {what} {path}: {e.strerror}") from None
    if len(data) > MAX_FILE:
        raise BundleError(f"{what} {path} is larger than {MAX_FILE} bytes")
    return data


def parse_signature(data: bytes, where: str) -> bytes:
    """A base64 signature (surrounding whitespace allowed), as cosign writes it."""
    text = b"".join(data.split())
    if not text:
        raise BundleError(f"{where}: signature file is empty")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BundleError(f"{where}: signature is not base64") from None


def read_signature(path: str) -> bytes:
    return parse_signature(read_file(path, "signature"), f"signature {path}")


def parse_certificates(data: bytes, where: str) -> list[bytes]:
    """DER certificates from PEM, base64 of PEM (cosign's bundle ``cert``), or DER."""
    from cryptography.x509 import load_der_x509_certificate, load_pem_x509_certificates

    stripped = data.strip()
    if not stripped.startswith(_PEM_CERT):
        try:
            decoded = base64.b64decode(b"".join(stripped.split()), validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if decoded.strip().startswith(_PEM_CERT):
            stripped = decoded.strip()
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        if stripped.startswith(_PEM_CERT):
            certs = load_pem_x509_certificates(stripped)
        else:
            certs = [load_der_x509_certificate(stripped)]
    except ValueError:
        raise BundleError(f"{where}: not a PEM or DER certificate") from None
    return [c.public_bytes(Encoding.DER) for c in certs]


def read_certificate(path: str) -> bytes:
    certs = parse_certificates(read_file(path, "certificate"), f"certificate {path}")
    if len(certs) != 1:
        raise BundleError(f"certificate {path}: holds {len(certs)} certificates, not one")
    return certs[0]


def read_chain(path: str) -> list[bytes]:
    return parse_certificates(read_file(path, "certificate chain"), f"certificate chain {path}")


def looks_like_cosign_bundle(doc: object) -> bool:
    """Recognised by shape, never by a failure to parse as something else."""
    return isinstance(doc, dict) and ("rekorBundle" in doc or "SignedEntryTimestamp" in doc)


def parse_legacy_bundle(doc: dict[str, Any], where: str) -> LegacyBundle:
    """A legacy cosign bundle, or a bare Rekor bundle (no signature, no certificate)."""
    if "SignedEntryTimestamp" in doc:
        return LegacyBundle(None, None, _rekor_bundle(doc, where))
    unknown = set(doc) - {"base64Signature", "cert", "rekorBundle", "Payload"}
    if unknown:
        raise BundleError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    sig = doc.get("base64Signature")
    if not isinstance(sig, str) or not sig:
        raise BundleError(f"{where}: base64Signature is missing")
    signature = parse_signature(sig.encode(), where)
    certificate = public_key = None
    cert = doc.get("cert")
    if cert is not None and cert != "":
        if not isinstance(cert, str):
            raise BundleError(f"{where}: cert must be a string")
        public_key = _public_key(cert)
        if public_key is None:
            certificate = parse_certificates(cert.encode(), f"{where} cert")[0]
    rekor = doc.get("rekorBundle")
    if not isinstance(rekor, dict):
        raise BundleError(f"{where}: rekorBundle must be an object")
    rekor_bundle = _rekor_bundle(rekor, f"{where} rekorBundle")
    return LegacyBundle(signature, certificate, rekor_bundle, public_key)


def _public_key(cert: str) -> bytes | None:
    """SPKI DER if ``cert`` is base64 of a PUBLIC KEY PEM (what cosign writes for a key)."""
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_pem_public_key,
    )

    try:
        pem = base64.b64decode(cert, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not pem.lstrip().startswith(b"-----BEGIN PUBLIC KEY-----"):
        return None
    try:
        key = load_pem_public_key(pem)
    except ValueError:
        raise BundleError("legacy bundle: cert holds a malformed public key") from None
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _rekor_bundle(doc: dict[str, Any], where: str) -> RekorBundle:
    set_b64 = doc.get("SignedEntryTimestamp")
    payload = doc.get("Payload")
    if not isinstance(set_b64, str) or not isinstance(payload, dict):
        raise BundleError(f"{where}: needs SignedEntryTimestamp and Payload")
    body, log_id = payload.get("body"), payload.get("logID")
    itime, index = payload.get("integratedTime"), payload.get("logIndex")
    if not isinstance(body, str) or not isinstance(log_id, str):
        raise BundleError(f"{where}: Payload needs body and logID")
    for name, value in (("integratedTime", itime), ("logIndex", index)):
        if type(value) is not int or value < 0:
            raise BundleError(f"{where}: Payload.{name} must be a non-negative integer")
    assert isinstance(itime, int) and isinstance(index, int)
    try:
        signed = base64.b64decode(set_b64, validate=True)
        raw_body = base64.b64decode(body, validate=True)
        log = bytes.fromhex(log_id)
    except (binascii.Error, ValueError):
        raise BundleError(f"{where}: SignedEntryTimestamp/body must be base64, logID hex") from None
    return RekorBundle(signed, raw_body, itime, index, log)


def _kind_version(body: bytes) -> tuple[str, str]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BundleError("Rekor entry body is not JSON") from None
    kind = doc.get("kind") if isinstance(doc, dict) else None
    version = doc.get("apiVersion") if isinstance(doc, dict) else None
    if not isinstance(kind, str) or not isinstance(version, str):
        raise BundleError("Rekor entry body has no kind/apiVersion")
    return kind, version


def load_json(data: bytes, where: str) -> object:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise BundleError(f"{where}: not JSON") from None


def read_path(path: str | Path) -> bytes:
    return read_file(str(path), "bundle")
