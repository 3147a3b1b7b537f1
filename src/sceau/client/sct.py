"""Embedded SCT verification (RFC 6962 §3.2) for Fulcio leaf certificates.

The SCT signs a ``digitally-signed`` struct over the *precertificate*: the leaf's TBS
without the SCT list extension, bound to the issuer's key hash. We rebuild it and verify it
with the CT log key the SCT names. Like sigstore-python we require exactly one embedded SCT;
SCT extensions (Static CT's leaf index) are covered by the signature and passed through.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.certificate_transparency import LogEntryType
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from sceau.client._x509 import extension_value
from sceau.client.errors import SCTError
from sceau.client.trust import TrustedRoot

# verified issuer chain -> SHA-256 of the precertificate issuer's SPKI
_KEY_HASHES: dict[tuple[Any, ...], bytes] = {}


def _issuer(chain: Sequence[Any]) -> Any:
    """The certificate that signed the precertificate (skipping a CT pre-issuer)."""

    if not chain:
        raise SCTError("SCT: no issuer certificate in the verified chain")
    issuer = chain[0]
    eku = extension_value(issuer, ExtensionOID.EXTENDED_KEY_USAGE)
    if eku is not None and ExtendedKeyUsageOID.CERTIFICATE_TRANSPARENCY in eku and len(chain) > 1:
        issuer = chain[1]
    return issuer


def _issuer_key_hash(chain: Sequence[Any]) -> bytes:
    """SHA-256 of the precertificate issuer's SPKI, remembered per verified chain (the
    chains are the few trusted-root CA paths, so this is a cache of trust material)."""
    key = tuple(chain)
    key_hash = _KEY_HASHES.get(key)
    if key_hash is None:
        issuer_key = _issuer(chain).public_key()
        spki = issuer_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        key_hash = hashlib.sha256(spki).digest()
        if len(_KEY_HASHES) > 64:
            _KEY_HASHES.clear()
        _KEY_HASHES[key] = key_hash
    return key_hash


def signed_struct(
    sct: Any, cert: Any, issuer_key_hash: bytes, when: datetime | None = None
) -> bytes:
    """RFC 6962 §3.2 ``digitally-signed`` input for a precert_entry SCT (``when``: the SCT's
    timestamp as an aware datetime, if the caller has it already)."""

    if sct.entry_type != LogEntryType.PRE_CERTIFICATE:
        raise SCTError("SCT: embedded SCT is not for a precertificate")
    tbs: bytes = cert.tbs_precertificate_bytes
    if len(tbs) >= 1 << 24:
        raise SCTError("SCT: certificate too large")
    ext: bytes = sct.extension_bytes
    if when is None:
        when = sct.timestamp.replace(tzinfo=UTC)
    millis = int(when.timestamp() * 1000)
    return (
        struct.pack("!BBQH", sct.version.value, 0, millis, sct.entry_type.value)
        + issuer_key_hash
        + len(tbs).to_bytes(3, "big")
        + tbs
        + struct.pack("!H", len(ext))
        + ext
    )


def verify_sct(cert: Any, chain: Sequence[Any], trusted_root: TrustedRoot) -> Any:
    """Verify the leaf's single embedded SCT; return the CT log instance that signed it."""

    scts = extension_value(cert, ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS)
    if scts is None:
        raise SCTError("certificate does not contain an embedded SCT")
    if len(scts) != 1:
        raise SCTError(f"expected exactly one embedded SCT, found {len(scts)}")
    sct = scts[0]
    log = trusted_root.ctlog(sct.log_id)
    if log is None or log.public_key is None:
        raise SCTError(f"SCT is from a CT log not in the trusted root ({sct.log_id.hex()[:16]}…)")
    if not isinstance(sct.signature_hash_algorithm, hashes.SHA256):
        raise SCTError("SCT: only SHA-256 signatures are supported")
    when = sct.timestamp.replace(tzinfo=UTC)
    if log.valid_for is not None and not log.valid_for.contains(when):
        raise SCTError("SCT time is outside the CT log key's validity in the trusted root")
    data = signed_struct(sct, cert, _issuer_key_hash(chain), when)
    if not log.verify(sct.signature, data):
        raise SCTError("SCT signature does not verify with the CT log key")
    return log
