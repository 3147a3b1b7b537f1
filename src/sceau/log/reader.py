"""The read API of one log: checkpoints, proofs, entries, tiles, lookups — served from the
reader threads, from a small cache of full (immutable) tiles and the storage."""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import Any, TypeVar

from sceau.errors import InputError, InternalError, NotFound
from sceau.log.integrate import ENTRIES, TileKey, TreeHasher, join_bundle, split_bundle
from sceau.log.model import LogConfig, SignedCheckpoint, TreeState
from sceau.log.storage import Storage
from sceau.merkle.tiles import TILE_HEIGHT, TILE_WIDTH, tile_width_at

_T = TypeVar("_T")


class TileCache:
    """A small LRU of immutable (full) tiles and bundles, shared by reader threads."""

    def __init__(self, capacity: int = 512) -> None:
        self._data: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
        self._capacity = capacity

    def get(self, key: tuple[str, int, int]) -> bytes | None:
        data = self._data.get(key)
        if data is not None:
            with contextlib.suppress(KeyError):
                self._data.move_to_end(key)
        return data

    def put(self, key: tuple[str, int, int], data: bytes) -> None:
        self._data[key] = data
        while len(self._data) > self._capacity:
            with contextlib.suppress(KeyError, StopIteration):
                self._data.popitem(last=False)


class LogReader:
    """Every read of one log. It never moves the tree; it only notes heads that other
    processes committed (``state.seen``) when the storage is shared."""

    def __init__(
        self,
        storage: Storage,
        config: LogConfig,
        state: TreeState,
        readers: Executor,
        cache: TileCache,
    ) -> None:
        self._storage, self.config, self.state = storage, config, state
        self.name = config.name
        self.origin = config.origin
        self._readers, self._cache = readers, cache

    async def latest(self) -> SignedCheckpoint:
        """The newest durable checkpoint (re-read from storage when other processes write)."""
        state = self.state
        if state.head is None:
            raise InternalError(f"log {self.name} is not open")
        if self._storage.shared:
            stored = await self._read(self._storage.load_head, self.name)
            if stored is not None and stored.size > state.size:
                state.seen = SignedCheckpoint.of(stored)
        seen = state.seen
        return seen if seen is not None and seen.size > state.head.size else state.head

    @property
    def size(self) -> int:
        """The newest size this process knows (its own commits, or another's it has read)."""
        return self.state.size

    async def _read(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._readers, fn, *args)

    def _read_tile_sync(self, key: TileKey, width: int) -> bytes:
        """The first ``width`` hashes (or entries) of tile ``key``, from cache or storage."""
        level, idx = key
        cache_key = (self.name, level, idx)
        data = self._cache.get(cache_key)
        if data is None:
            data = self._storage.read_tiles(self.name, [key]).get(key)
            if data is None:
                raise InternalError(f"log {self.name}: tile {level}/{idx} is missing from storage")
        if level == ENTRIES:
            entries = split_bundle(data)
            if len(entries) < width:
                raise InternalError(f"log {self.name}: entry bundle {idx} is short")
            if len(entries) == TILE_WIDTH:
                self._cache.put(cache_key, data)
            return data if len(entries) == width else join_bundle(entries[:width])
        if len(data) < width * 32:
            raise InternalError(f"log {self.name}: tile {level}/{idx} is short")
        if len(data) == TILE_WIDTH * 32:
            self._cache.put(cache_key, data)
        return data[: width * 32]

    def _hasher(self, size: int) -> TreeHasher:
        tiles: dict[TileKey, list[bytes]] = {}
        edge = self.state.edge
        if size == edge.size:
            tiles = {(lvl, i): h for lvl, (i, h) in edge.tiles.items()}

        def load(key: TileKey) -> bytes:
            return self._read_tile_sync(key, tile_width_at(key[0], key[1], size))

        return TreeHasher(size, tiles, load)

    async def _check_size(self, size: int) -> None:
        if size > self.size:
            await self.latest()  # shared storage: another process may have grown the tree
        if not 0 < size <= self.size:
            raise NotFound(f"tree size {size} is not between 1 and the current size {self.size}")

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        await self._check_size(size)
        if not 0 <= index < size:
            raise NotFound(f"index {index} is not in the tree of size {size}")
        return await self._read(lambda: self._hasher(size).inclusion_proof(index))

    async def inclusion_proofs(self, indexes: Iterable[int], size: int) -> list[list[bytes]]:
        """Proofs for many indexes at one tree size, sharing the hashing work."""
        await self._check_size(size)
        wanted = list(indexes)
        for index in wanted:
            if not 0 <= index < size:
                raise NotFound(f"index {index} is not in the tree of size {size}")

        def prove() -> list[list[bytes]]:
            hasher = self._hasher(size)
            return [hasher.inclusion_proof(i) for i in wanted]

        return await self._read(prove)

    async def consistency_proof(self, first: int, second: int) -> list[bytes]:
        await self._check_size(second)
        if not 0 <= first <= second:
            raise InputError(f"first size {first} must be between 0 and {second}")
        return await self._read(lambda: self._hasher(second).consistency_proof(first))

    async def root_at(self, size: int) -> bytes:
        await self._check_size(size)
        return await self._read(lambda: self._hasher(size).root())

    async def get_entries(self, start: int, end: int) -> list[bytes]:
        """Entries ``[start, end)``; ``end`` is clipped to the tree size."""
        if end > self.size:
            await self.latest()
        size = self.size
        end = min(end, size)
        if not 0 <= start < end:
            raise NotFound(f"no entries in [{start}, {end}) for tree size {size}")

        def read() -> list[bytes]:
            out: list[bytes] = []
            for b in range(start >> TILE_HEIGHT, ((end - 1) >> TILE_HEIGHT) + 1):
                entries = split_bundle(
                    self._read_tile_sync((ENTRIES, b), tile_width_at(ENTRIES, b, size))
                )
                base = b << TILE_HEIGHT
                out.extend(entries[max(start - base, 0) : end - base])
            return out

        return await self._read(read)

    async def get_entry(self, index: int) -> bytes:
        return (await self.get_entries(index, index + 1))[0]

    async def entry_time(self, index: int) -> int:
        if index >= self.size:
            await self.latest()
        if not 0 <= index < self.size:
            raise NotFound(f"index {index} is not in the log")
        t = await self._read(self._storage.batch_time, self.name, index)
        if t is None:
            raise InternalError(f"log {self.name}: no batch time for index {index}")
        return t

    async def find_leaf(self, lh: bytes) -> int | None:
        """Index of the entry whose leaf hash is ``lh``, checked against the tiles."""

        def find() -> int | None:
            index = self._storage.find_leaves(self.name, [lh]).get(lh)
            if index is not None:
                self._check_leaf(index, lh)
            return index

        return await self._read(find)

    def _check_leaf(self, index: int, lh: bytes) -> None:
        """The leaf index is a lookup structure, the tiles are the log: they must agree."""
        tile = self._read_tile_sync((0, index >> TILE_HEIGHT), (index & (TILE_WIDTH - 1)) + 1)
        if tile[-32:] != lh:
            raise InternalError(
                f"log {self.name}: the leaf index maps {lh.hex()} to entry {index}, "
                "whose leaf hash differs (the leaf index is damaged)"
            )

    async def lookup(self, key: str, limit: int = 1000) -> list[int]:
        return await self._read(self._storage.lookup, self.name, key, limit)

    async def read_tile(self, level: int, index: int, width: int) -> bytes:
        """Tile ``(level, index)`` at ``width`` (256 = full); NotFound if it doesn't exist yet.

        Tiles only grow, so the tile as it was at ``width`` is a prefix of the stored one.
        """
        if tile_width_at(level, index, self.size) < width:
            await self.latest()
        if tile_width_at(level, index, self.size) < width:
            raise NotFound(f"tile {level}/{index} of width {width} does not exist")
        return await self._read(self._read_tile_sync, (level, index), width)

    async def read_path(self, path: str) -> tuple[bytes, str, str]:
        """C2SP read path: ``(body, content type, cache control)`` for ``checkpoint``/``tile/…``."""
        from sceau.log.readpath import read_path

        return await read_path(self, path)
