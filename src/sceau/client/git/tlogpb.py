"""Protobuf wire encoding of ``dev.sigstore.rekor.v1.TransparencyLogEntry``.

gitsign stores the log entry in its signature as this message, serialised (field numbers
from protobuf-specs ``sigstore_rekor.proto``). Only the handful of fields of that one
message are needed, so a small codec here beats a protobuf runtime dependency. Values are
the bundle's protobuf-JSON form (int64 as strings, bytes as base64).
"""

from __future__ import annotations

import base64
from typing import Any

from sceau.client.errors import BundleError

MAX_SIZE = 1 << 16  # an entry with a 64-hash proof and a checkpoint is ~4 KiB

# message -> field number -> (JSON name, kind); kind is "int", "bytes", "str" or a message
_SCHEMA: dict[str, dict[int, tuple[str, str]]] = {
    "entry": {
        1: ("logIndex", "int"),
        2: ("logId", "logId"),
        3: ("kindVersion", "kindVersion"),
        4: ("integratedTime", "int"),
        5: ("inclusionPromise", "promise"),
        6: ("inclusionProof", "proof"),
        7: ("canonicalizedBody", "bytes"),
    },
    "logId": {1: ("keyId", "bytes")},
    "kindVersion": {1: ("kind", "str"), 2: ("version", "str")},
    "promise": {1: ("signedEntryTimestamp", "bytes")},
    "proof": {
        1: ("logIndex", "int"),
        2: ("rootHash", "bytes"),
        3: ("treeSize", "int"),
        4: ("hashes", "bytes*"),
        5: ("checkpoint", "checkpoint"),
    },
    "checkpoint": {1: ("envelope", "str")},
}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _encode(message: str, value: dict[str, Any]) -> bytes:
    out = bytearray()
    for number, (name, kind) in sorted(_SCHEMA[message].items()):
        if name not in value or value[name] is None:
            continue
        v = value[name]
        if kind == "int":
            n = int(v)
            if n:
                out += _varint(number << 3) + _varint(n)
            continue
        items = v if kind == "bytes*" else [v]
        for item in items:
            if kind in ("bytes", "bytes*"):
                data = base64.b64decode(item, validate=True)
            elif kind == "str":
                data = str(item).encode()
            else:
                data = _encode(kind, item)
            if not data and kind != "bytes*":
                continue
            out += _varint(number << 3 | 2) + _varint(len(data)) + data
    return bytes(out)


def encode_entry(entry: dict[str, Any], *, keep_body: bool) -> bytes:
    """Serialise a bundle ``TransparencyLogEntry`` (JSON form). gitsign clears the body:
    it is rebuilt from the signature at verification (``keep_body=False``)."""
    value = dict(entry)
    if not keep_body:
        value.pop("canonicalizedBody", None)
    return _encode("entry", value)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise BundleError("log entry attribute: truncated or oversized varint")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def _decode(message: str, data: bytes, depth: int = 0) -> dict[str, Any]:
    schema = _SCHEMA[message]
    out: dict[str, Any] = {}
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            n, pos = _read_varint(data, pos)
            if number in schema and schema[number][1] == "int":
                if n >= 1 << 63:
                    raise BundleError("log entry attribute: negative integer")
                out[schema[number][0]] = str(n)
            continue
        if wire == 2:
            length, pos = _read_varint(data, pos)
            if pos + length > len(data):
                raise BundleError("log entry attribute: truncated field")
            chunk, pos = data[pos : pos + length], pos + length
            if number not in schema:
                continue  # an unknown field, as protobuf allows
            name, kind = schema[number]
            if kind == "bytes":
                out[name] = base64.b64encode(chunk).decode()
            elif kind == "bytes*":
                out.setdefault(name, []).append(base64.b64encode(chunk).decode())
            elif kind == "str":
                try:
                    out[name] = chunk.decode()
                except UnicodeDecodeError:
                    raise BundleError(f"log entry attribute: {name} is not UTF-8") from None
            elif kind == "int":
                raise BundleError(f"log entry attribute: {name} has the wrong wire type")
            else:
                out[name] = _decode(kind, chunk, depth + 1)
            continue
        if wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise BundleError(f"log entry attribute: unsupported wire type {wire}")
        if pos > len(data):
            raise BundleError("log entry attribute: truncated field")
    return out


def decode_entry(data: bytes) -> dict[str, Any]:
    """Parse the attribute's bytes into a bundle ``TransparencyLogEntry`` (JSON form)."""
    if len(data) > MAX_SIZE:
        raise BundleError(f"log entry attribute is {len(data)} bytes (limit {MAX_SIZE})")
    entry = _decode("entry", data)
    entry.setdefault("logIndex", "0")
    proof = entry.get("inclusionProof")
    if isinstance(proof, dict):
        proof.setdefault("logIndex", "0")
        proof.setdefault("hashes", [])
    return entry
