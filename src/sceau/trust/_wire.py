"""Shared helpers for the trust documents: times, keys, and a strict round trip.

Every builder assembles the protobuf-JSON shape by hand and then passes it through the
``sigstore-models`` pydantic model (strict, ``extra="forbid"``) and back. That round trip is
what makes the output byte-compatible with sigstore-python: a wrong key name, a number
where a string is due, or an unknown enum fails here, at build time, not in a client.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pydantic import ValidationError

from sceau.errors import InputError

M = TypeVar("M")

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
PublicKeyLike = PublicKey | bytes


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def rfc3339(when: datetime, what: str) -> str:
    """UTC RFC 3339 with a ``Z`` (milliseconds only when given); naive datetimes are refused."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise InputError(f"{what} must be timezone-aware")
    when = when.astimezone(UTC)
    if when.microsecond:
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def time_range(start: datetime, end: datetime | None, what: str) -> dict[str, str]:
    out = {"start": rfc3339(start, f"{what} valid_from")}
    if end is not None:
        if end <= start:
            raise InputError(f"{what}: valid_until must be after valid_from")
        out["end"] = rfc3339(end, f"{what} valid_until")
    return out


def load_public_key(key: PublicKeyLike) -> PublicKey:
    """Accept a ``cryptography`` public key, or DER/PEM SubjectPublicKeyInfo bytes."""
    if isinstance(key, bytes):
        try:
            if key.lstrip().startswith(b"-----"):
                loaded = serialization.load_pem_public_key(key)
            else:
                loaded = serialization.load_der_public_key(key)
        except (ValueError, TypeError) as e:
            raise InputError("public key is not a valid PEM or DER SubjectPublicKeyInfo") from e
        key = loaded  # type: ignore[assignment]
    if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise InputError(f"unsupported public key type {type(key).__name__}")
    return key


def spki(key: PublicKeyLike) -> bytes:
    return load_public_key(key).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def spki_log_id(key: PublicKeyLike) -> bytes:
    """SHA-256 of the DER SubjectPublicKeyInfo: the log ID of CT and Rekor v1 logs."""
    return hashlib.sha256(spki(key)).digest()


def key_details(key: PublicKeyLike) -> str:
    """The ``PublicKeyDetails`` enum name Sigstore clients expect for this key."""
    k = load_public_key(key)
    if isinstance(k, ed25519.Ed25519PublicKey):
        return "PKIX_ED25519"
    if isinstance(k, ec.EllipticCurvePublicKey):
        by_curve = {
            "secp256r1": "PKIX_ECDSA_P256_SHA_256",
            "secp384r1": "PKIX_ECDSA_P384_SHA_384",
            "secp521r1": "PKIX_ECDSA_P521_SHA_512",
        }
        if k.curve.name not in by_curve:
            raise InputError(f"unsupported elliptic curve {k.curve.name}")
        return by_curve[k.curve.name]
    size = k.key_size
    if size not in (2048, 3072, 4096):
        raise InputError(f"unsupported RSA key size {size}")
    return f"PKIX_RSA_PKCS1V15_{size}_SHA256"


def cert_der(cert: x509.Certificate | bytes) -> bytes:
    """DER bytes of a certificate given as an object, DER or PEM."""
    if isinstance(cert, x509.Certificate):
        return cert.public_bytes(serialization.Encoding.DER)
    try:
        if cert.lstrip().startswith(b"-----"):
            return x509.load_pem_x509_certificate(cert).public_bytes(serialization.Encoding.DER)
        x509.load_der_x509_certificate(cert)
    except ValueError as e:
        raise InputError("certificate is not valid PEM or DER X.509") from e
    return cert


def strict_round_trip(model: type[M], doc: dict[str, Any], what: str) -> dict[str, Any]:
    """Validate ``doc`` with the strict sigstore-models type and return its canonical dict."""
    try:
        parsed = model.from_json(json.dumps(doc))  # type: ignore[attr-defined]
    except ValidationError as e:
        raise InputError(f"{what} does not match the Sigstore schema: {e}") from e
    return parsed.to_dict()  # type: ignore[no-any-return]


def dumps(doc: dict[str, Any]) -> bytes:
    """The bytes sceau publishes for a trust document: stable, indented, newline-terminated."""
    return json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
