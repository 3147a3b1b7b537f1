"""A small strict reader for protobuf-JSON documents (bundles, trusted roots).

It applies the rules of ``sigstore-models`` (what sigstore-python 4.x parses with): unknown
keys are errors, strings must be strings, 64-bit integers are decimal strings, bytes are
base64, enums are their names, ``oneof`` groups hold exactly one member. Both the JSON name
(``logIndex``) and the proto name (``log_index``) are accepted, as protobuf-JSON parsers and
pydantic's ``validate_by_name`` do. It is hand-written rather than pydantic because
importing pydantic and the models costs more than a whole ``sceau verify`` may take.
Differential tests hold it to ``sigstore-models`` on every vector.
"""

from __future__ import annotations

import binascii
import builtins
import json
import re
from binascii import a2b_base64
from datetime import UTC, datetime
from typing import Any

from sceau.errors import VerificationError

_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_U64_MAX = 2**64 - 1


_ALIASES: dict[tuple[str, ...], tuple[frozenset[str], dict[str, str]]] = {}


def _aliases(fields: tuple[str, ...]) -> tuple[frozenset[str], dict[str, str]]:
    """The JSON names, and JSON name and proto (snake_case) name → JSON name; computed once
    per field set."""
    entry = _ALIASES.get(fields)
    if entry is None:
        table = {f: f for f in fields}
        for f in fields:
            table[re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), f)] = f
        entry = _ALIASES[fields] = (frozenset(fields), table)
    return entry


def loads(data: bytes | str, what: str, error: type[VerificationError]) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise error(f"{what} is not valid JSON: {e}") from None


class Obj:
    """One JSON object read against a fixed set of field names (camelCase)."""

    __slots__ = ("_data", "_error", "_where")

    def __init__(
        self,
        value: Any,
        where: str,
        fields: tuple[str, ...],
        error: type[VerificationError],
    ) -> None:
        if not isinstance(value, dict):
            raise error(f"{where}: expected a JSON object")
        self._error = error
        self._where = where
        names, allowed = _aliases(fields)
        if value.keys() <= names:
            # The common case: JSON names only, so no unknown key and no name given twice.
            if None in value.values():
                value = {k: v for k, v in value.items() if v is not None}
            self._data: dict[str, Any] = value
            return
        data: dict[str, Any] = {}
        for key, item in value.items():
            name = allowed.get(key)
            if name is None:
                raise error(f"{where}: unknown field {key!r}")
            if name in data:
                raise error(f"{where}: field {name!r} given twice")
            if item is not None:  # JSON null is the absent value in protobuf-JSON
                data[name] = item
        self._data = data

    def fail(self, message: str) -> VerificationError:
        return self._error(f"{self._where}: {message}")

    def has(self, name: str) -> bool:
        return name in self._data

    def raw(self, name: str, required: bool = True) -> Any:
        if name not in self._data:
            if required:
                raise self.fail(f"missing field {name!r}")
            return None
        return self._data[name]

    def obj(self, name: str, fields: tuple[str, ...], required: bool = True) -> Obj | None:
        value = self.raw(name, required)
        if value is None:
            return None
        return Obj(value, f"{self._where}.{name}", fields, self._error)

    def str(self, name: str, required: bool = True) -> str | None:
        value = self.raw(name, required)
        if value is not None and not isinstance(value, str):
            raise self.fail(f"{name!r} must be a string")
        return value

    def req_str(self, name: builtins.str) -> builtins.str:
        value = self._data.get(name)
        if type(value) is str:  # the common case, checked inline
            return value
        value = self.str(name)
        assert value is not None
        return value

    def bytes(self, name: builtins.str, required: bool = True) -> builtins.bytes | None:
        value = self.str(name, required)
        if value is None:
            return None
        return b64decode(value, f"{self._where}.{name}", self._error)

    def req_bytes(self, name: builtins.str) -> builtins.bytes:
        value = self._data.get(name)
        if type(value) is str:  # canonical base64, decoded inline; anything else below
            try:
                return a2b_base64(value, strict_mode=True)
            except (binascii.Error, ValueError):
                pass
        value = self.bytes(name)
        assert value is not None
        return value

    def u64(self, name: builtins.str, required: bool = True) -> builtins.int | None:
        value = self.raw(name, required)
        if value is None:
            return None
        if not isinstance(value, str) or not (value.isascii() and value.isdigit()):
            raise self.fail(f"{name!r} must be a decimal string (protobuf int64)")
        n = int(value)
        if n > _U64_MAX:
            raise self.fail(f"{name!r} is out of range")
        return n

    def int(self, name: builtins.str, required: bool = True) -> builtins.int | None:
        value = self.raw(name, required)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise self.fail(f"{name!r} must be an integer")
        return value

    def list(self, name: builtins.str, required: bool = True) -> builtins.list[Any]:
        value = self.raw(name, required)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(f"{name!r} must be a list")
        return value

    def enum(
        self, name: builtins.str, allowed: frozenset[builtins.str], required: bool = True
    ) -> builtins.str | None:
        value = self.str(name, required)
        if value is not None and value not in allowed:
            raise self.fail(f"{name!r} has an unknown value {value!r}")
        return value

    def time(self, name: builtins.str, required: bool = True) -> datetime | None:
        value = self.str(name, required)
        if value is None:
            return None
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise self.fail(f"{name!r} is not an RFC 3339 time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when


def b64decode(value: str, where: str, error: type[VerificationError]) -> bytes:
    """Standard base64; padding may be omitted (protobuf-JSON); URL-safe is accepted too.
    Line breaks are ignored, as Go's decoder (and Python's lenient one) ignore them."""
    try:
        return binascii.a2b_base64(value, strict_mode=True)  # the common, canonical case
    except (binascii.Error, ValueError):
        pass
    if "\n" in value or "\r" in value:
        value = value.replace("\r", "").replace("\n", "")
    if "-" in value or "_" in value:
        value = value.replace("-", "+").replace("_", "/")
    if not _B64.fullmatch(value):
        raise error(f"{where}: invalid base64")
    value += "=" * (-len(value) % 4)
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError):
        raise error(f"{where}: invalid base64") from None
