"""The trusted root: which CAs, logs, CT logs and TSAs a verifier believes, and when.

Parsed strictly from ``trusted_root.json`` (or the ``trustedRoot`` of a ClientTrustConfig)
into ready-to-use objects: certificates and public keys are loaded once, so one
:class:`TrustedRoot` serves many verifications. No I/O here except :func:`load_trusted_root`
reading a file the caller named, and the shipped public-good roots.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature

from sceau.client._json import Obj, loads
from sceau.client.errors import TrustRootError
from sceau.errors import VerificationError

TRUSTED_ROOT_MEDIA_TYPES = frozenset(
    {
        "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "application/vnd.dev.sigstore.trustedroot.v0.2+json",
    }
)
CLIENT_TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"

HASH_ALGORITHMS = frozenset({"SHA2_256", "SHA2_384", "SHA2_512", "SHA3_256", "SHA3_384"})
# Key details sigstore-python's keyring loads; any other key is skipped (never trusted).
SUPPORTED_KEY_DETAILS = frozenset(
    {
        "PKCS1_RSA_PKCS1V5",
        "PKIX_RSA_PKCS1V15_2048_SHA256",
        "PKIX_RSA_PKCS1V15_3072_SHA256",
        "PKIX_RSA_PKCS1V15_4096_SHA256",
        "PKIX_ECDSA_P256_SHA_256",
        "PKIX_ECDSA_P384_SHA_384",
        "PKIX_ECDSA_P521_SHA_512",
        "PKIX_ED25519",
    }
)
KEY_DETAILS = SUPPORTED_KEY_DETAILS | frozenset(
    {
        "PKCS1_RSA_PSS", "PKIX_RSA_PKCS1V5", "PKIX_RSA_PSS",
        "PKIX_RSA_PSS_2048_SHA256", "PKIX_RSA_PSS_3072_SHA256", "PKIX_RSA_PSS_4096_SHA256",
        "PKIX_ECDSA_P256_HMAC_SHA_256", "PKIX_ED25519_PH", "PKIX_ECDSA_P384_SHA_256",
        "PKIX_ECDSA_P521_SHA_256", "LMS_SHA256", "LMOTS_SHA256", "ML_DSA_65", "ML_DSA_87",
    }
)  # fmt: skip


@dataclass(frozen=True)
class TimeRange:
    """A closed validity window ``[start, end]``; ``end`` None means open-ended."""

    start: datetime
    end: datetime | None = None

    def contains(self, when: datetime) -> bool:
        return self.start <= when and (self.end is None or when <= self.end)


@dataclass(frozen=True)
class LogInstance:
    """A Rekor log or a CT log with its key."""

    base_url: str
    log_id: bytes
    checkpoint_key_id: bytes | None
    key_details: str
    public_key: Any  # a cryptography public key; None when the key type is unsupported
    valid_for: TimeRange | None
    operator: str | None = None
    public_key_der: bytes | None = None  # the SPKI as published (kept for unsupported keys)

    @property
    def name(self) -> str:
        """The signer name of its checkpoints: host[:port] of the base URL."""
        return urlsplit(self.base_url).netloc or self.base_url

    def ids(self) -> tuple[bytes, ...]:
        return (self.log_id,) if self.checkpoint_key_id in (None, self.log_id) else (
            self.log_id, self.checkpoint_key_id)  # fmt: skip

    @cached_property
    def note_verifier(self) -> Any:
        """Checkpoint verifier (C2SP key-ID rule by key type), built once."""
        from sceau import note

        return note.note_verifier(self.name, self.public_key)

    def started(self, now: datetime) -> bool:
        return self.valid_for is None or self.valid_for.start <= now

    @cached_property
    def _verifier(self) -> Any:
        from sceau.keys import Verifier

        return Verifier(self.public_key)

    @cached_property
    def _ecdsa(self) -> Any:
        """``ec.ECDSA(hash)`` for an ECDSA key (the hash :class:`sceau.keys.Verifier` picks
        by curve), else None: the per-signature fast path of :meth:`verify`."""
        from cryptography.hazmat.primitives.asymmetric import ec

        from sceau.keys._core import _ec_hash

        if not isinstance(self.public_key, ec.EllipticCurvePublicKey):
            return None
        return ec.ECDSA(_ec_hash(self.public_key.curve))

    def verify(self, signature: bytes, message: bytes) -> bool:
        if self.public_key is None:
            return False
        ecdsa = self._ecdsa
        if ecdsa is not None:
            try:
                self.public_key.verify(signature, message, ecdsa)
            except (InvalidSignature, ValueError):
                return False
            return True
        try:
            self._verifier.verify(signature, message)
        except VerificationError:
            return False
        return True


@dataclass(frozen=True)
class Authority:
    """A certificate authority (Fulcio) or a timestamp authority: chain leaf→root."""

    chain: tuple[Any, ...]  # cryptography x509.Certificate objects
    valid_for: TimeRange
    uri: str | None = None
    organization: str = ""
    common_name: str = ""
    operator: str | None = None


class TrustedRoot:
    """Everything a verifier trusts. Build with :meth:`from_json` or the presets."""

    def __init__(
        self,
        tlogs: Sequence[LogInstance],
        ctlogs: Sequence[LogInstance],
        certificate_authorities: Sequence[Authority],
        timestamp_authorities: Sequence[Authority],
        media_type: str = "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    ) -> None:
        self.tlogs = tuple(tlogs)
        self.ctlogs = tuple(ctlogs)
        self.certificate_authorities = tuple(certificate_authorities)
        self.timestamp_authorities = tuple(timestamp_authorities)
        self.media_type = media_type
        self._by_log_id = {i: t for t in self.tlogs for i in t.ids()}
        self._ct_by_log_id = {t.log_id: t for t in self.ctlogs}
        self._stores: dict[tuple[int, ...], Any] = {}
        self._anchors: dict[tuple[int, ...], frozenset[Any]] = {}

    def to_dict(self) -> dict[str, Any]:
        """The trusted root as protobuf JSON — what the server publishes and
        :meth:`from_json` reads back to an equal root (one model for both sides)."""
        return {
            "mediaType": self.media_type,
            "tlogs": [log_document(t) for t in self.tlogs],
            "certificateAuthorities": [authority_document(a) for a in self.certificate_authorities],
            "ctlogs": [log_document(t) for t in self.ctlogs],
            "timestampAuthorities": [authority_document(a) for a in self.timestamp_authorities],
        }

    @classmethod
    def from_json(cls, data: bytes | str) -> TrustedRoot:
        """Parse ``trusted_root.json`` bytes; results are cached by content."""
        if isinstance(data, str):
            data = data.encode()
        return _cached_root(data)

    @classmethod
    def from_trust_config(cls, data: bytes | str) -> TrustedRoot:
        """The trusted root of a ClientTrustConfig (``sigstore --trust-config`` file)."""
        doc = loads(data, "trust config", TrustRootError)
        top = Obj(
            doc, "trust config", ("mediaType", "trustedRoot", "signingConfig"), TrustRootError
        )
        if top.req_str("mediaType") != CLIENT_TRUST_CONFIG_MEDIA_TYPE:
            raise TrustRootError(f"unsupported trust config media type {top.raw('mediaType')!r}")
        top.raw("signingConfig")  # required by the schema; not needed to verify
        return parse_trusted_root(top.raw("trustedRoot"))

    @classmethod
    def production(cls) -> TrustedRoot:
        """The public-good production root shipped with sceau (offline, may be stale)."""
        return cls.from_json(_packaged("production"))

    @classmethod
    def staging(cls) -> TrustedRoot:
        return cls.from_json(_packaged("staging"))

    # -- look-ups -------------------------------------------------------------------------

    def tlog(self, log_id: bytes) -> LogInstance | None:
        return self._by_log_id.get(log_id)

    def ctlog(self, log_id: bytes) -> LogInstance | None:
        return self._ct_by_log_id.get(log_id)

    def fulcio_store(self, when: datetime) -> Any:
        """A pyca ``Store`` of every CA certificate whose CA was valid at ``when``."""
        key = tuple(
            i for i, ca in enumerate(self.certificate_authorities) if ca.valid_for.contains(when)
        )
        store = self._stores.get(key)
        if store is None:
            from cryptography.x509.verification import Store

            certs = [c for i in key for c in self.certificate_authorities[i].chain]
            if not certs:
                from sceau.client.errors import CertificateError

                raise CertificateError(
                    "no certificate authority in the trusted root is valid at "
                    f"{when:%Y-%m-%dT%H:%M:%SZ}"
                )
            store = self._stores[key] = Store(certs)
        return store

    def ca_certificates_at(self, when: datetime) -> frozenset[Any]:
        """Certificates of every CA valid at ``when`` (the anchors of :meth:`fulcio_store`)."""
        key = tuple(
            i for i, ca in enumerate(self.certificate_authorities) if ca.valid_for.contains(when)
        )
        certs = self._anchors.get(key)
        if certs is None:
            certs = self._anchors[key] = frozenset(
                c for i in key for c in self.certificate_authorities[i].chain
            )
        return certs

    @cached_property
    def fulcio_certificates(self) -> tuple[Any, ...]:
        return tuple(c for ca in self.certificate_authorities for c in ca.chain)


def load_trusted_root(path: str | Path) -> TrustedRoot:
    """Read a ``trusted_root.json`` file, or a ClientTrustConfig (told apart by media type)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise TrustRootError(f"cannot read trusted root {path}: {e.strerror}") from None
    doc = loads(data, "trusted root", TrustRootError)
    if isinstance(doc, dict) and doc.get("mediaType") == CLIENT_TRUST_CONFIG_MEDIA_TYPE:
        return TrustedRoot.from_trust_config(data)
    return TrustedRoot.from_json(data)


_CACHE: dict[bytes, TrustedRoot] = {}


def _cached_root(data: bytes) -> TrustedRoot:
    key = hashlib.sha256(data).digest()
    root = _CACHE.get(key)
    if root is None:
        root = parse_trusted_root(loads(data, "trusted root", TrustRootError))
        if len(_CACHE) > 16:
            _CACHE.clear()
        _CACHE[key] = root
    return root


def _packaged(name: str) -> bytes:
    # A plain path next to the package: importlib.resources costs ~15 ms of imports.
    return (
        Path(__file__).resolve().parents[1] / "data" / "public-good" / name / "trusted_root.json"
    ).read_bytes()


# -- writing ------------------------------------------------------------------------------


def _rfc3339(when: datetime) -> str:
    """UTC RFC 3339 with a ``Z`` (milliseconds only when there are any)."""
    when = when.astimezone(UTC)
    if when.microsecond:
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _range_document(r: TimeRange) -> dict[str, str]:
    out = {"start": _rfc3339(r.start)}
    if r.end is not None:
        out["end"] = _rfc3339(r.end)
    return out


def log_document(log: LogInstance) -> dict[str, Any]:
    """A transparency or CT log as a trusted root lists it."""
    from cryptography.hazmat.primitives import serialization

    der = log.public_key_der
    if der is None and log.public_key is not None:
        der = log.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    key: dict[str, Any] = {"keyDetails": log.key_details}
    if der is not None:
        key = {"rawBytes": base64.b64encode(der).decode(), **key}
    if log.valid_for is not None:
        key["validFor"] = _range_document(log.valid_for)
    out: dict[str, Any] = {
        "baseUrl": log.base_url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": key,
        "logId": {"keyId": base64.b64encode(log.log_id).decode()},
    }
    if log.checkpoint_key_id is not None:
        out["checkpointKeyId"] = {"keyId": base64.b64encode(log.checkpoint_key_id).decode()}
    if log.operator is not None:
        out["operator"] = log.operator
    return out


def authority_document(authority: Authority) -> dict[str, Any]:
    """A certificate or timestamp authority as a trusted root lists it."""
    from cryptography.hazmat.primitives import serialization

    certs = [
        {"rawBytes": base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()}
        for c in authority.chain
    ]
    out: dict[str, Any] = {
        "subject": {"organization": authority.organization, "commonName": authority.common_name}
    }
    if authority.uri is not None:
        out["uri"] = authority.uri
    out["certChain"] = {"certificates": certs}
    out["validFor"] = _range_document(authority.valid_for)
    if authority.operator is not None:
        out["operator"] = authority.operator
    return out


# -- parsing ------------------------------------------------------------------------------

_LOG = ("baseUrl", "hashAlgorithm", "publicKey", "logId", "checkpointKeyId", "operator")
_CA = ("subject", "uri", "certChain", "validFor", "operator")


def parse_trusted_root(doc: object) -> TrustedRoot:
    top = Obj(
        doc,
        "trusted root",
        ("mediaType", "tlogs", "certificateAuthorities", "ctlogs", "timestampAuthorities"),
        TrustRootError,
    )
    media_type = top.req_str("mediaType")
    if media_type not in TRUSTED_ROOT_MEDIA_TYPES:
        raise TrustRootError(f"unsupported trusted root media type {media_type!r}")
    tlogs = [_log(x, f"trusted root.tlogs[{i}]") for i, x in enumerate(top.list("tlogs"))]
    ctlogs = [_log(x, f"trusted root.ctlogs[{i}]") for i, x in enumerate(top.list("ctlogs"))]
    cas = [
        _authority(x, f"trusted root.certificateAuthorities[{i}]")
        for i, x in enumerate(top.list("certificateAuthorities"))
    ]
    tsas = [
        _authority(x, f"trusted root.timestampAuthorities[{i}]")
        for i, x in enumerate(top.list("timestampAuthorities", required=False))
    ]
    return TrustedRoot(tlogs, ctlogs, cas, tsas, media_type)


def _time_range(obj: Obj | None) -> TimeRange | None:
    if obj is None:
        return None
    start, end = obj.time("start"), obj.time("end", required=False)
    assert start is not None
    return TimeRange(start, end)


def _log(raw: object, where: str) -> LogInstance:
    o = Obj(raw, where, _LOG, TrustRootError)
    o.enum("hashAlgorithm", HASH_ALGORITHMS)
    pk = o.obj("publicKey", ("rawBytes", "keyDetails", "validFor"))
    log_id = o.obj("logId", ("keyId",))
    cp = o.obj("checkpointKeyId", ("keyId",), required=False)
    assert pk is not None and log_id is not None
    details = pk.enum("keyDetails", KEY_DETAILS)
    assert details is not None
    raw_key = pk.bytes("rawBytes", required=False)
    valid_for = _time_range(pk.obj("validFor", ("start", "end"), required=False))
    public_key = None
    if raw_key and details in SUPPORTED_KEY_DETAILS:
        public_key = _load_key(raw_key, details)
    return LogInstance(
        base_url=o.req_str("baseUrl"),
        log_id=log_id.req_bytes("keyId"),
        checkpoint_key_id=cp.req_bytes("keyId") if cp is not None else None,
        key_details=details,
        public_key=public_key,
        valid_for=valid_for,
        operator=o.str("operator", required=False),
        public_key_der=raw_key or None,
    )


def _load_key(der: bytes, details: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        key = load_der_public_key(der)
    except (ValueError, TypeError):
        return None  # python logs and skips keys it cannot load; so do we
    want = (
        ed25519.Ed25519PublicKey if details == "PKIX_ED25519"
        else ec.EllipticCurvePublicKey if "ECDSA" in details
        else rsa.RSAPublicKey
    )  # fmt: skip
    return key if isinstance(key, want) else None


def _authority(raw: object, where: str) -> Authority:
    from cryptography.x509 import load_der_x509_certificate

    o = Obj(raw, where, _CA, TrustRootError)
    subject = o.obj("subject", ("organization", "commonName"))
    chain = o.obj("certChain", ("certificates",))
    assert subject is not None and chain is not None
    certs = []
    for i, c in enumerate(chain.list("certificates")):
        cert = Obj(c, f"{where}.certChain.certificates[{i}]", ("rawBytes",), TrustRootError)
        try:
            certs.append(load_der_x509_certificate(cert.req_bytes("rawBytes")))
        except ValueError:
            raise TrustRootError(f"{where}: certificate {i} is not valid DER X.509") from None
    if not certs:
        raise TrustRootError(f"{where}: empty certificate chain")
    valid_for = _time_range(o.obj("validFor", ("start", "end")))
    assert valid_for is not None
    return Authority(
        chain=tuple(certs),
        valid_for=valid_for,
        uri=o.str("uri", required=False),
        organization=subject.req_str("organization"),
        common_name=subject.req_str("commonName"),
        operator=o.str("operator", required=False),
    )
