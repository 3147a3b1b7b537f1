"""Just enough DER to cut a precertificate's TBS the way RFC 6962 §3.2 wants it.

The log signs the precert's TBSCertificate *without* the poison extension; pyca exposes
this only for certificates that already carry an SCT list, so the log (and the CA's
self-check) remove the poison here, byte-exactly: every other byte of the TBS is kept as
signed, only the enclosing lengths are recomputed.
"""

from __future__ import annotations

from sceau.services.ct.rfc6962 import CodecError

# DER of OID 1.3.6.1.4.1.11129.2.4.3 (CT poison) and .2 (SCT list)
POISON_OID_DER = bytes.fromhex("060a2b06010401d679020403")
SCT_LIST_OID_DER = bytes.fromhex("060a2b06010401d679020402")

_SEQUENCE = 0x30
_EXTENSIONS = 0xA3  # [3] EXPLICIT in TBSCertificate


def read_tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """``(tag, content_start, end)`` of the TLV at ``pos`` (definite lengths only)."""
    if pos + 2 > len(data):
        raise CodecError("DER: truncated")
    tag, first = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise CodecError("DER: multi-byte tags are not expected here")
    if first < 0x80:
        start, length = pos + 2, first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + 2 + n > len(data):
            raise CodecError("DER: bad length")
        start, length = pos + 2 + n, int.from_bytes(data[pos + 2 : pos + 2 + n], "big")
    if start + length > len(data):
        raise CodecError("DER: truncated")
    return tag, start, start + length


def _encode(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """``(tag, pos, content_start, end)`` of each TLV between ``start`` and ``end``."""
    out, pos = [], start
    while pos < end:
        tag, cstart, cend = read_tlv(data, pos)
        out.append((tag, pos, cstart, cend))
        pos = cend
    if pos != end:
        raise CodecError("DER: children overrun their parent")
    return out


def tbs_certificate(cert_der: bytes) -> bytes:
    """The TBSCertificate TLV of a DER certificate."""
    tag, start, end = read_tlv(cert_der, 0)
    if tag != _SEQUENCE or end != len(cert_der):
        raise CodecError("not a DER certificate")
    tbs_tag, tbs_pos, _, tbs_end = _children(cert_der, start, end)[0]
    if tbs_tag != _SEQUENCE:
        raise CodecError("not a DER certificate")
    return cert_der[tbs_pos:tbs_end]


def _extension_oids(tbs: bytes) -> tuple[list[tuple[int, int, int, int]], int, int, int]:
    tag, start, end = read_tlv(tbs, 0)
    if tag != _SEQUENCE or end != len(tbs):
        raise CodecError("not a DER TBSCertificate")
    fields = _children(tbs, start, end)
    if not fields or fields[-1][0] != _EXTENSIONS:
        raise CodecError("TBSCertificate has no extensions")
    _, ext_pos, ext_start, ext_end = fields[-1]
    seq_tag, seq_start, seq_end = read_tlv(tbs, ext_start)
    if seq_tag != _SEQUENCE or seq_end != ext_end:
        raise CodecError("malformed extensions")
    return _children(tbs, seq_start, seq_end), start, ext_pos, ext_end


def has_extension(tbs: bytes, oid_der: bytes) -> bool:
    exts = _extension_oids(tbs)[0]
    return any(tbs[cstart : cstart + len(oid_der)] == oid_der for _, _, cstart, _ in exts)


def remove_extension(tbs: bytes, oid_der: bytes) -> bytes:
    """``tbs`` with the one extension whose OID is ``oid_der`` removed (CodecError if absent)."""
    exts, start, ext_pos, ext_end = _extension_oids(tbs)
    kept = [
        tbs[pos:end]
        for _, pos, cstart, end in exts
        if tbs[cstart : cstart + len(oid_der)] != oid_der
    ]
    if len(kept) != len(exts) - 1:
        raise CodecError("extension to remove is absent or repeated")
    head = tbs[start:ext_pos]
    if kept:
        head += _encode(_EXTENSIONS, _encode(_SEQUENCE, b"".join(kept)))
    return _encode(_SEQUENCE, head + tbs[ext_end:])


def precert_tbs(precert_der: bytes) -> bytes:
    """What an SCT for ``precert_der`` signs: its TBS without the poison extension."""
    return remove_extension(tbs_certificate(precert_der), POISON_OID_DER)
