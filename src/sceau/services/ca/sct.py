"""Embedded SCTs: read them out of a leaf and verify them against CT log keys.

The CA uses this as a self-check before answering (a certificate whose SCT fails would
be refused by sigstore-python right after issuance), and tests use it as a second,
independent verifier beside sigstore-python's ``_internal.sct.verify_sct``.
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sceau.errors import VerificationError
from sceau.keys import Verifier
from sceau.services.ca.profile import OID_SCT_LIST
from sceau.services.ct.der import read_tlv
from sceau.services.ct.rfc6962 import (
    HASH_SHA256,
    SCT,
    CodecError,
    EntryType,
    key_hash,
    parse_sct_list,
    sct_signature_input,
    signed_entry,
)


def spki_der(key: object) -> bytes:
    der: bytes = key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def embedded_scts(cert: x509.Certificate) -> list[SCT]:
    """The SCTs in ``cert``'s SCT list extension (VerificationError if absent or garbled)."""
    try:
        ext = cert.extensions.get_extension_for_oid(OID_SCT_LIST)
        der = ext.value.public_bytes()
        tag, start, end = read_tlv(der, 0)
        if tag != 0x04 or end != len(der):
            raise CodecError("SCT list extension is not an OCTET STRING")
        return [SCT.decode(raw) for raw in parse_sct_list(der[start:end])]
    except x509.ExtensionNotFound as e:
        raise VerificationError("certificate has no SCT list extension") from e
    except CodecError as e:
        raise VerificationError(f"malformed SCT list: {e.message}") from e


def verify_embedded_sct(
    cert: x509.Certificate, issuer: x509.Certificate, ct_keys: Iterable[object]
) -> SCT:
    """Verify the one embedded (precert) SCT of ``cert`` against the CT key whose LogID matches.

    Mirrors the clients: exactly one SCT (python), SHA-256 only, issuer_key_hash over the
    issuing CA's SPKI, TBS = the final cert's TBS without the SCT list.
    """
    scts = embedded_scts(cert)
    if len(scts) != 1:
        raise VerificationError(f"expected exactly one SCT, found {len(scts)}")
    sct = scts[0]
    keys = {key_hash(spki_der(k)): k for k in ct_keys}
    key = keys.get(sct.log_id)
    if key is None:
        raise VerificationError("SCT was issued by an unknown CT log")
    if sct.signature.hash_alg != HASH_SHA256:
        raise VerificationError("SCT signature must use SHA-256")
    entry = signed_entry(
        EntryType.PRECERT,
        issuer_key_hash=key_hash(spki_der(issuer.public_key())),
        tbs_certificate=cert.tbs_precertificate_bytes,
    )
    message = sct_signature_input(sct.timestamp_ms, EntryType.PRECERT, entry, sct.extensions)
    Verifier(key).verify(sct.signature.signature, message)
    return sct
