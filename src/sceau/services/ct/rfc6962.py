"""RFC 6962 wire structures in TLS presentation language: pure, strict, no I/O.

Both halves of the certificate pipeline speak these bytes: the CT log signs them, the CA
embeds and checks them. The SCT signature input (§3.2) and the Merkle tree leaf (§3.4)
share one encoding — ``version ‖ type ‖ timestamp ‖ entry_type ‖ signed_entry ‖
extensions`` with both leading bytes zero — so one function builds both.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import enum
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sceau.errors import InputError

V1 = 0
SIGNATURE_TYPE_CERTIFICATE_TIMESTAMP = 0
SIGNATURE_TYPE_TREE_HASH = 1
LEAF_TYPE_TIMESTAMPED_ENTRY = 0

HASH_SHA256 = 4
SIG_RSA = 1
SIG_ECDSA = 3

_U24_MAX = (1 << 24) - 1


class CodecError(InputError):
    """Bytes that claim to be an RFC 6962 structure but are not."""


class EntryType(enum.IntEnum):
    X509 = 0
    PRECERT = 1


def u24(data: bytes) -> bytes:
    """``opaque <0..2^24-1>``: a 3-byte big-endian length, then the bytes."""
    if len(data) > _U24_MAX:
        raise CodecError("value too long for a 24-bit length")
    return len(data).to_bytes(3, "big") + data


def u16(data: bytes) -> bytes:
    """``opaque <0..2^16-1>``."""
    if len(data) > 0xFFFF:
        raise CodecError("value too long for a 16-bit length")
    return len(data).to_bytes(2, "big") + data


class Reader:
    """A cursor over TLS-encoded bytes that refuses short reads and trailing garbage."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise CodecError(f"{self.what}: truncated")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def int(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def vec(self, length_bytes: builtins.int) -> bytes:
        return self.take(self.int(length_bytes))

    def done(self) -> bool:
        return self.pos == len(self.data)

    def end(self) -> None:
        if not self.done():
            raise CodecError(f"{self.what}: {len(self.data) - self.pos} trailing bytes")


@dataclass(frozen=True)
class DigitallySigned:
    """``DigitallySigned``: hash and signature algorithm codes, then the signature."""

    signature: bytes
    hash_alg: int = HASH_SHA256
    sig_alg: int = SIG_ECDSA

    def encode(self) -> bytes:
        return bytes([self.hash_alg, self.sig_alg]) + u16(self.signature)

    @classmethod
    def decode(cls, data: bytes) -> DigitallySigned:
        r = Reader(data, "DigitallySigned")
        out = cls._read(r)
        r.end()
        return out

    @classmethod
    def _read(cls, r: Reader) -> DigitallySigned:
        hash_alg, sig_alg = r.int(1), r.int(1)
        return cls(signature=r.vec(2), hash_alg=hash_alg, sig_alg=sig_alg)


@dataclass(frozen=True)
class SCT:
    """A v1 SignedCertificateTimestamp (§3.2) as the log returns it."""

    log_id: bytes
    timestamp_ms: int
    signature: DigitallySigned
    extensions: bytes = b""
    version: int = V1

    def encode(self) -> bytes:
        """The ``SerializedSCT`` bytes that go inside an SCT list."""
        return (
            bytes([self.version])
            + self.log_id
            + struct.pack(">Q", self.timestamp_ms)
            + u16(self.extensions)
            + self.signature.encode()
        )

    @classmethod
    def decode(cls, data: bytes) -> SCT:
        r = Reader(data, "SCT")
        version = r.int(1)
        if version != V1:
            raise CodecError(f"SCT: unsupported version {version}")
        log_id = r.take(32)
        ts = r.int(8)
        ext = r.vec(2)
        sig = DigitallySigned._read(r)
        r.end()
        return cls(log_id=log_id, timestamp_ms=ts, signature=sig, extensions=ext)

    def to_json(self) -> dict[str, Any]:
        """The ``add-chain`` / ``add-pre-chain`` response body (§4.1)."""
        return {
            "sct_version": self.version,
            "id": base64.b64encode(self.log_id).decode(),
            "timestamp": self.timestamp_ms,
            "extensions": base64.b64encode(self.extensions).decode(),
            "signature": base64.b64encode(self.signature.encode()).decode(),
        }

    @classmethod
    def from_json(cls, obj: object) -> SCT:
        """Parse an ``add-chain`` response strictly (types, lengths, base64)."""
        if not isinstance(obj, dict):
            raise CodecError("SCT response is not a JSON object")
        version, ts = obj.get("sct_version"), obj.get("timestamp")
        if type(version) is not int or version != V1:
            raise CodecError("SCT response: sct_version must be 0")
        if type(ts) is not int or not 0 <= ts < 1 << 64:
            raise CodecError("SCT response: timestamp must be a uint64")
        log_id = b64decode(obj.get("id"), "SCT response id")
        if len(log_id) != 32:
            raise CodecError("SCT response: id must be 32 bytes")
        ext = b64decode(obj.get("extensions", ""), "SCT response extensions")
        sig = DigitallySigned.decode(b64decode(obj.get("signature"), "SCT response signature"))
        return cls(log_id=log_id, timestamp_ms=ts, signature=sig, extensions=ext)


def b64decode(value: object, what: str) -> bytes:
    """Strict standard base64 of a JSON string."""
    if not isinstance(value, str):
        raise CodecError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise CodecError(f"{what} is not valid base64") from e


def signed_entry(
    entry_type: EntryType,
    *,
    cert_der: bytes = b"",
    issuer_key_hash: bytes = b"",
    tbs_certificate: bytes = b"",
) -> bytes:
    """The ``signed_entry`` select: ``ASN.1Cert`` or ``PreCert{issuer_key_hash, tbs}``."""
    if entry_type is EntryType.X509:
        return u24(cert_der)
    if len(issuer_key_hash) != 32:
        raise CodecError("issuer_key_hash must be 32 bytes")
    return issuer_key_hash + u24(tbs_certificate)


def timestamped_input(
    timestamp_ms: int, entry_type: EntryType, entry: bytes, extensions: bytes = b""
) -> bytes:
    """SCT signature input (§3.2) == MerkleTreeLeaf (§3.4): both start with two zero bytes."""
    return (
        bytes([V1, SIGNATURE_TYPE_CERTIFICATE_TIMESTAMP])
        + struct.pack(">QH", timestamp_ms, int(entry_type))
        + entry
        + u16(extensions)
    )


merkle_tree_leaf = timestamped_input
sct_signature_input = timestamped_input


@dataclass(frozen=True)
class TreeLeaf:
    timestamp_ms: int
    entry_type: EntryType
    signed_entry: bytes  # as encoded in the leaf
    extensions: bytes


def parse_merkle_tree_leaf(data: bytes) -> TreeLeaf:
    r = Reader(data, "MerkleTreeLeaf")
    if r.int(1) != V1 or r.int(1) != LEAF_TYPE_TIMESTAMPED_ENTRY:
        raise CodecError("MerkleTreeLeaf: unsupported version or leaf type")
    ts = r.int(8)
    raw_type = r.int(2)
    try:
        et = EntryType(raw_type)
    except ValueError as e:
        raise CodecError(f"MerkleTreeLeaf: unknown entry type {raw_type}") from e
    start = r.pos
    if et is EntryType.PRECERT:
        r.take(32)
    r.vec(3)
    entry = data[start : r.pos]
    ext = r.vec(2)
    r.end()
    return TreeLeaf(ts, et, entry, ext)


def sth_signature_input(timestamp_ms: int, tree_size: int, root_hash: bytes) -> bytes:
    """``TreeHeadSignature`` input (§3.5)."""
    if len(root_hash) != 32:
        raise CodecError("root hash must be 32 bytes")
    return struct.pack(">BBQQ", V1, SIGNATURE_TYPE_TREE_HASH, timestamp_ms, tree_size) + root_hash


def sct_list(scts: Sequence[bytes]) -> bytes:
    """``SignedCertificateTimestampList`` (§3.3): a u16 list of u16 SerializedSCTs."""
    return u16(b"".join(u16(s) for s in scts))


def parse_sct_list(data: bytes) -> list[bytes]:
    r = Reader(data, "SignedCertificateTimestampList")
    inner = Reader(r.vec(2), "SignedCertificateTimestampList")
    r.end()
    out = []
    while not inner.done():
        out.append(inner.vec(2))
    return out


def x509_extra_data(chain: Sequence[bytes]) -> bytes:
    """``get-entries`` extra_data of an x509 entry: ``ASN.1Cert certificate_chain<0..2^24-1>``."""
    return u24(b"".join(u24(c) for c in chain))


def precert_extra_data(precert: bytes, chain: Sequence[bytes]) -> bytes:
    """``PrecertChainEntry``: the precertificate, then its chain."""
    return u24(precert) + x509_extra_data(chain)


def parse_extra_data(entry_type: EntryType, data: bytes) -> tuple[bytes | None, list[bytes]]:
    """Inverse of the two functions above: ``(precert or None, chain)``."""
    r = Reader(data, "extra_data")
    precert = r.vec(3) if entry_type is EntryType.PRECERT else None
    chain_r = Reader(r.vec(3), "extra_data chain")
    r.end()
    chain = []
    while not chain_r.done():
        chain.append(chain_r.vec(3))
    return precert, chain


def key_hash(spki_der: bytes) -> bytes:
    """LogID and issuer_key_hash: SHA-256 of a DER SubjectPublicKeyInfo."""
    return hashlib.sha256(spki_der).digest()
