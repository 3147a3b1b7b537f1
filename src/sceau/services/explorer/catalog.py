"""The logs the explorer shows, and the capped reads it makes of them.

Every read goes through :class:`~sceau.log.api.LogAPI` (the APIs' own read path), and
every lookup carries a limit, so a search costs a bounded number of index reads.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sceau import merkle
from sceau.errors import NotFound
from sceau.log.api import LogAPI
from sceau.services.ct.rfc6962 import (
    CodecError,
    EntryType,
    parse_extra_data,
    parse_merkle_tree_leaf,
)
from sceau.services.explorer.entries import Decoded, decode_ct, decode_rekor

LINK_LIMIT = 10  # entries linked from one certificate (CT ↔ Rekor)
CACHE_SIZE = 4096  # decoded entries kept: a log entry never changes once it is logged


@dataclass(frozen=True)
class LogView:
    """One log as the explorer presents it. ``family``: ``rekor`` or ``ct``; ``ct``: the
    CT log object, whose extra data holds precertificates."""

    name: str
    label: str
    family: str
    log: LogAPI
    ct: Any = None


@dataclass(frozen=True)
class Record:
    view: LogView
    index: int
    body: bytes
    leaf_hash: bytes
    time_ms: int | None
    decoded: Decoded

    @property
    def uuid(self) -> str:
        return self.leaf_hash.hex()


class Catalog:
    def __init__(self, views: list[LogView], cache_size: int = CACHE_SIZE) -> None:
        self.views = views
        self.by_name = {v.name: v for v in views}
        self._cache: OrderedDict[tuple[str, int, bool], Record] = OrderedDict()
        self._cache_size = cache_size

    def rekor(self) -> list[LogView]:
        return [v for v in self.views if v.family == "rekor"]

    async def size(self, view: LogView) -> int:
        return (await view.log.latest()).size

    async def find_uuid(
        self, leaf_hash: bytes, only: str | None = None
    ) -> list[tuple[LogView, int]]:
        """The entry whose leaf hash is ``leaf_hash``: the first log holding it (Rekor v1,
        v2, CT; their leaves differ in shape, so a leaf is in at most one of them)."""
        for view in self.views:
            if only is not None and view.name != only:
                continue
            index = await view.log.find_leaf(leaf_hash)
            if index is not None:
                return [(view, index)]
        return []

    async def record(self, view: LogView, index: int, full: bool = True) -> Record:
        """Entry ``index`` decoded (``full``: for its page; else for a result row)."""
        key = (view.name, index, full)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        if index >= await self.size(view):
            raise NotFound(f"{view.label} has no entry at index {index}")
        record = await self._load(view, index, full)
        self._cache[key] = record
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return record

    async def _load(self, view: LogView, index: int, full: bool) -> Record:
        body = await view.log.get_entry(index)
        try:
            time_ms: int | None = await view.log.entry_time(index)
        except NotFound:
            time_ms = None
        lh = merkle.leaf_hash(body)
        if view.family == "ct":
            decoded = decode_ct(body, await self._precert(view, lh, body), full)
        else:
            decoded = decode_rekor(body, full)
        return Record(view, index, body, lh, time_ms, decoded)

    async def _precert(self, view: LogView, lh: bytes, leaf: bytes) -> bytes | None:
        if view.ct is None:
            return None
        try:
            if parse_merkle_tree_leaf(leaf).entry_type is not EntryType.PRECERT:
                return None
            extra = await view.ct.extra_data(lh)
            return parse_extra_data(EntryType.PRECERT, extra)[0] if extra else None
        except CodecError:
            return None

    async def by_serial(self, serial_hex: str, families: set[str]) -> list[tuple[LogView, int]]:
        """Entries filed under a certificate serial (``serial:`` term), capped."""
        out = []
        for view in self.views:
            if view.family in families:
                for index in await view.log.lookup(f"serial:{serial_hex}", LINK_LIMIT):
                    out.append((view, index))
        return out
