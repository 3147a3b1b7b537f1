"""Strict field access, base64 and RFC 8785 canonical JSON for Rekor entries.

Every entry type reads its request through these helpers so that a bad field always
becomes an :class:`~sceau.errors.InputError` naming the field (``spec.signature.content:
not valid base64``) and never a ``KeyError`` or a 500. Canonical bodies are produced by
the ``rfc8785`` package, the same JCS that real Rekor applies after ``json.Marshal``.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import rfc8785

from sceau.errors import InputError

_STD_B64 = re.compile(rb"^[A-Za-z0-9+/]*={0,2}$")
_ANY_B64 = re.compile(rb"^[A-Za-z0-9+/_-]*={0,2}$")


_SAFE_STR = re.compile(r"^[ !#-\[\]-~]*$")  # printable ASCII without '"' and '\\'


class _NotSimple(Exception):
    pass


def _fast(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        if not _SAFE_STR.match(value):
            raise _NotSimple
        out.append(f'"{value}"')
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key in sorted(value):  # ASCII keys: code-point order is UTF-16 order
            if not isinstance(key, str) or not _SAFE_STR.match(key):
                raise _NotSimple
            out.append(f'"{key}":' if first else f',"{key}":')
            first = False
            _fast(value[key], out)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _fast(item, out)
        out.append("]")
    elif value is True or value is False or value is None:
        out.append({True: "true", False: "false", None: "null"}[value])
    elif isinstance(value, int) and -(2**53) < value < 2**53:
        out.append(str(value))
    else:
        raise _NotSimple


def jcs(value: Any) -> bytes:
    """RFC 8785 canonical JSON: the exact bytes Rekor stores as a leaf.

    Rekor bodies hold only ASCII base64/hex/enum strings, small integers, objects and
    arrays; for those, JCS is plain sorted-key compact JSON without escapes, which the
    fast path writes directly (the ``rfc8785`` package costs ~70 µs per body, a third of
    an entry's budget). Anything else — non-ASCII, escapes, floats — goes to ``rfc8785``.
    """
    out: list[str] = []
    try:
        _fast(value, out)
    except _NotSimple:
        return rfc8785.dumps(value)
    return "".join(out).encode("ascii")


def obj(container: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    """``container[key]`` as a JSON object, or a 400 naming ``path``."""
    value = container.get(key)
    if value is None:
        raise InputError(f"{path}: missing")
    if not isinstance(value, dict):
        raise InputError(f"{path}: must be a JSON object")
    return value


def string(container: dict[str, Any], key: str, path: str) -> str:
    """``container[key]`` as a non-empty JSON string, or a 400 naming ``path``."""
    value = container.get(key)
    if value is None or value == "":
        raise InputError(f"{path}: missing")
    if not isinstance(value, str):
        raise InputError(f"{path}: must be a string")
    return value


def array(container: dict[str, Any], key: str, path: str) -> list[Any]:
    """``container[key]`` as a non-empty JSON array, or a 400 naming ``path``."""
    value = container.get(key)
    if value is None or value == []:
        raise InputError(f"{path}: missing")
    if not isinstance(value, list):
        raise InputError(f"{path}: must be an array")
    return value


def b64decode_std(value: str, path: str) -> bytes:
    """Decode standard padded base64 (Go's ``StdEncoding``, what Rekor v1 accepts)."""
    raw = value.encode("ascii", "replace")
    if len(raw) % 4 or not _STD_B64.match(raw):
        raise InputError(f"{path}: not valid base64")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InputError(f"{path}: not valid base64") from e


def b64decode_proto(value: str, path: str) -> bytes:
    """Decode protobuf-JSON ``bytes``: standard or URL-safe alphabet, padding optional."""
    raw = value.encode("ascii", "replace")
    if not _ANY_B64.match(raw):
        raise InputError(f"{path}: not valid base64")
    raw = raw.rstrip(b"=").replace(b"-", b"+").replace(b"_", b"/")
    if len(raw) % 4 == 1:
        raise InputError(f"{path}: not valid base64")
    try:
        return base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError) as e:
        raise InputError(f"{path}: not valid base64") from e


def b64(data: bytes) -> str:
    """Standard padded base64, as Go's ``json.Marshal`` and ``protojson`` emit it."""
    return base64.b64encode(data).decode("ascii")
