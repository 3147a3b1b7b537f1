"""The detached CMS SignedData that gitsign writes for a commit or tag, built and parsed.

Layout (RFC 5652, as gitsign's fork of ietf-cms produces it, checked against real gitsign
signatures in tests/vectors/git): SignedData v1, digest SHA-256 (no parameters), detached
``id-data`` content, the Fulcio leaf only in ``certificates``, one SignerInfo v1 identified
by issuer and serial number, signed attributes content-type, signing-time (UTCTime) and
message-digest in DER order, ``ecdsa-with-SHA256``, and unsigned attributes: the Rekor
``TransparencyLogEntry`` (OID 1.3.6.1.4.1.57264.3.1, an OCTET STRING holding the protobuf)
and any RFC 3161 tokens (``id-aa-signatureTimeStampToken``).

The ECDSA signature covers the DER of the signed attributes (tag SET), and that is also
what the log entry is about: a ``hashedrekord`` of SHA-256(signed attributes).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as ax509

from sceau.client.errors import BundleError

OID_TLOG_ENTRY = "1.3.6.1.4.1.57264.3.1"
ARMOR_LABEL = "SIGNED MESSAGE"
BEGIN = b"-----BEGIN SIGNED MESSAGE-----"
END = b"-----END SIGNED MESSAGE-----"
MAX_SIGNATURE = 1 << 18
# AlgorithmIdentifier{sha256} with parameters absent, as Go writes it (asn1crypto would add
# a NULL, which is also valid but not gitsign's bytes).
SHA256_NO_PARAMS = bytes.fromhex("300b0609608648016503040201")  # a gitsign signature is ~3 KiB


@dataclass(frozen=True)
class ParsedSignature:
    """What a CMS signature says, with the exact signed-attribute bytes that were signed."""

    certificates: tuple[bytes, ...]
    signer_certificate: bytes
    signed_attributes: bytes  # DER, tag SET: what the signature and the log entry cover
    content_type: str
    message_digest: bytes
    signing_time: datetime | None
    digest_algorithm: str
    signature_algorithm: str
    signature: bytes
    tlog_entry: bytes | None  # the serialised TransparencyLogEntry, if present
    timestamp_tokens: tuple[bytes, ...] = field(default=())  # TimeStampToken ContentInfo DER


# -- building ---------------------------------------------------------------------------


def signed_attributes(content_digest: bytes, when: datetime) -> cms.CMSAttributes:
    """content-type id-data, signing-time, message-digest (DER SET: sorted on encoding)."""
    return cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute(
                {
                    "type": "signing_time",
                    "values": [cms.Time({"utc_time": core.UTCTime(when.astimezone(UTC))})],
                }
            ),
            cms.CMSAttribute({"type": "message_digest", "values": [content_digest]}),
        ]
    )


def tlog_attribute(entry: bytes) -> cms.CMSAttribute:
    value = core.Any.load(core.OctetString(entry).dump())
    return cms.CMSAttribute({"type": OID_TLOG_ENTRY, "values": cms.SetOfAny([value])})


def timestamp_attribute(responses: Sequence[bytes]) -> cms.CMSAttribute:
    """RFC 3161 tokens (the ContentInfo inside each TimeStampResp) as one attribute."""
    tokens = []
    for der in responses:
        token = tsp.TimeStampResp.load(der)["time_stamp_token"]
        tokens.append(cms.ContentInfo.load(token.dump()))
    return cms.CMSAttribute({"type": "signature_time_stamp_token", "values": tokens})


def assemble(
    certificate: bytes,
    attrs: cms.CMSAttributes,
    signature: bytes,
    unsigned: Sequence[cms.CMSAttribute] = (),
) -> bytes:
    """DER ContentInfo(SignedData) around one signer, content detached."""
    cert = ax509.Certificate.load(certificate)
    sha256 = algos.DigestAlgorithm.load(SHA256_NO_PARAMS)
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {"issuer": cert.issuer, "serial_number": cert.serial_number}
                    )
                }
            ),
            "digest_algorithm": sha256,
            "signed_attrs": attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
            "signature": signature,
        }
    )
    if unsigned:
        signer["unsigned_attrs"] = cms.CMSAttributes(list(unsigned))
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [sha256],
            "encap_content_info": {"content_type": "data"},
            "certificates": [cert],
            "signer_infos": [signer],
        }
    )
    info = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return bytes(info.dump())


def armor(der: bytes) -> bytes:
    """PEM ``SIGNED MESSAGE`` (64-column base64), as gitsign and smimesign write it."""
    text = base64.b64encode(der)
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return BEGIN + b"\n" + b"\n".join(lines) + b"\n" + END + b"\n"


# -- parsing ----------------------------------------------------------------------------


def dearmor(signature: bytes) -> bytes:
    """DER from a PEM ``SIGNED MESSAGE`` (or raw DER, which git may also hand over)."""
    if len(signature) > MAX_SIGNATURE:
        raise BundleError(f"signature is {len(signature)} bytes (limit {MAX_SIGNATURE})")
    text = signature.strip()
    if text.startswith(b"-----BEGIN PGP"):
        raise BundleError("this is an OpenPGP signature, not an X.509 (gitsign) signature")
    if not text.startswith(b"-----BEGIN"):
        return signature
    start = text.find(b"\n")
    end = text.find(END)
    if not text.startswith(BEGIN) or start < 0 or end < 0:
        raise BundleError("signature is not a PEM 'SIGNED MESSAGE' block")
    try:
        return base64.b64decode(b"".join(text[start:end].split()), validate=True)
    except binascii.Error:
        raise BundleError("signature PEM block is not valid base64") from None


def parse(signature: bytes) -> ParsedSignature:
    """Parse an armored or DER CMS signature strictly enough that every later check sees
    well-formed values; anything else is one :class:`BundleError` line."""
    der = dearmor(signature)
    try:
        return _parse(der)
    except (ValueError, TypeError, KeyError) as e:
        raise BundleError(f"signature is not a valid CMS SignedData ({e})") from None


def _parse(der: bytes) -> ParsedSignature:
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        raise BundleError("signature is CMS but not SignedData")
    sd = info["content"]
    if _present(sd["encap_content_info"]["content"]):
        raise BundleError("signature is not detached (it encapsulates content)")
    certs = (
        [c.chosen for c in sd["certificates"] if c.name == "certificate"]
        if _present(sd["certificates"])
        else []
    )
    if not certs:
        raise BundleError("signature carries no certificate")
    signers = list(sd["signer_infos"])
    if len(signers) != 1:
        raise BundleError(f"signature has {len(signers)} signers; exactly one is expected")
    si = signers[0]
    sid = si["sid"]
    if sid.name != "issuer_and_serial_number":
        raise BundleError("signer is not identified by issuer and serial number")
    ias = sid.chosen
    signer_cert = next(
        (
            c
            for c in certs
            if c.serial_number == ias["serial_number"].native and c.issuer == ias["issuer"]
        ),
        None,
    )
    if signer_cert is None:
        raise BundleError("the signer's certificate is not in the signature")
    attrs_field = si["signed_attrs"]
    if not attrs_field.contents:
        raise BundleError("signature has no signed attributes")
    attrs = _attributes(attrs_field)
    # The signature covers the attributes with their SET tag, byte for byte as sent.
    # Presence and bytes come from the encoding: ``.native`` would decode (and re-encode)
    # whole nested structures such as timestamp tokens, at a cost of seconds.
    signed = b"\x31" + _der_length(len(attrs_field.contents)) + attrs_field.contents
    content_type = _single(attrs, "content_type")
    digest = _single(attrs, "message_digest")
    when = attrs.get("signing_time")
    unsigned = _attributes(si["unsigned_attrs"]) if _present(si["unsigned_attrs"]) else {}
    tlog = unsigned.get(OID_TLOG_ENTRY)
    tlog_bytes = None
    if tlog is not None:
        if len(tlog) != 1:
            raise BundleError("signature has more than one transparency log entry attribute")
        value = core.OctetString.load(tlog[0].dump(), strict=True)
        tlog_bytes = bytes(value.native)
    tokens = tuple(t.dump() for t in unsigned.get("signature_time_stamp_token", []))
    return ParsedSignature(
        certificates=tuple(c.dump() for c in certs),
        signer_certificate=signer_cert.dump(),
        signed_attributes=bytes(signed),
        content_type=str(content_type.native),
        message_digest=bytes(digest.native),
        signing_time=when[0].native if when and len(when) == 1 else None,
        digest_algorithm=str(si["digest_algorithm"]["algorithm"].native),
        signature_algorithm=str(si["signature_algorithm"]["algorithm"].native),
        signature=bytes(si["signature"].native),
        tlog_entry=tlog_bytes,
        timestamp_tokens=tokens,
    )


def _present(value: core.Asn1Value) -> bool:
    return not isinstance(value, core.Void) and bool(value.contents)


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _attributes(attrs: cms.CMSAttributes) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for attr in attrs:
        name = attr["type"].native
        if name in out:
            raise BundleError(f"signature repeats the {name} attribute")
        out[name] = list(attr["values"])
    return out


def _single(attrs: dict[str, list[Any]], name: str) -> core.Asn1Value:
    values = attrs.get(name)
    if not values or len(values) != 1:
        raise BundleError(f"signature lacks a single {name.replace('_', '-')} attribute")
    value = values[0]
    assert isinstance(value, core.Asn1Value)
    return value


def token_response(token: bytes) -> bytes:
    """Wrap a TimeStampToken in a granted TimeStampResp (what bundles carry)."""
    resp = tsp.TimeStampResp(
        {"status": {"status": "granted"}, "time_stamp_token": cms.ContentInfo.load(token)}
    )
    return bytes(resp.dump())
