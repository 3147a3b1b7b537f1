"""The log engine: a batching sequencer over tiled Merkle trees, one or more logs at a time.

Appends join a per-log pool. A sequencer task takes the pool ``batch_interval`` seconds
after its first entry arrived — sooner if ``batch_size`` entries wait, or if no entry has
arrived for ``batch_idle`` (a quiet log answers in milliseconds) — and in one writer
thread:

1. drops entries whose leaf hash the log already holds (best-effort dedup),
2. assigns contiguous indexes and integrates the leaves into tiles (pure, in memory),
3. signs one checkpoint for the new tree head,
4. commits tiles, entry bundles, leaf index, search keys and the head in **one
   transaction** (one fsync; SQLite keeps its leaf index beside it, derived from the
   level-0 tiles: see :mod:`sceau.log.leafindex`), and only then
5. releases every waiting caller with its index, inclusion proof and the checkpoint.

An index is acknowledged only after step 4, so a crash loses nothing acknowledged; a
restart reloads the last durable head and its right-edge tiles (checked) and continues.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sceau.errors import InputError, InternalError, NotFound, Overloaded
from sceau.log.integrate import (
    ENTRIES,
    MAX_ENTRY_SIZE,
    Integration,
    TileKey,
    TreeEdge,
    TreeHasher,
    bundle_entry,
    bundle_offset,
    integrate,
    join_bundle,
    split_bundle,
    split_hashes,
)
from sceau.log.storage import BatchWrite, DuplicateLeaves, Storage, TreeHead
from sceau.merkle import leaf_hash, verify_inclusion
from sceau.merkle.tiles import TILE_HEIGHT, TILE_WIDTH, fold_complete, tile_width_at
from sceau.note import Checkpoint, NoteError, NoteSigner, open_checkpoint, sign_note

_T = TypeVar("_T")

log = logging.getLogger("sceau.log")
_MASK = TILE_WIDTH - 1


@dataclass(frozen=True)
class LogConfig:
    """One log: its checkpoint origin, the keys that sign its checkpoints, its genesis."""

    name: str
    origin: str
    note_signers: Sequence[NoteSigner]
    genesis: bytes | None = None  # written as leaf 0 when the log is created


@dataclass(frozen=True)
class SignedCheckpoint:
    size: int
    root_hash: bytes
    timestamp_ms: int
    note: str  # the full signed note text


@dataclass(slots=True)  # not frozen: a frozen __init__ costs 0.6 µs per entry at 40k/s
class AppendResult:
    index: int
    leaf_hash: bytes
    proof: list[bytes]
    checkpoint: SignedCheckpoint
    timestamp_ms: int  # integration time of the batch that holds the entry
    duplicate: bool = False


@dataclass(slots=True)
class _Pending:
    entry: bytes
    leaf_hash: bytes
    keys: Sequence[str]
    future: asyncio.Future[AppendResult]
    # later appends of the same entry while it waits: answered as duplicates of the first
    repeats: list[asyncio.Future[AppendResult]] | None = None

    def futures(self) -> list[asyncio.Future[AppendResult]]:
        return [self.future, *self.repeats] if self.repeats else [self.future]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class _TileCache:
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


class Log:
    """One named log inside a :class:`LogEngine`. Obtain it with ``engine.add_log``."""

    def __init__(self, engine: LogEngine, config: LogConfig) -> None:
        self.engine = engine
        self.config = config
        self.name = config.name
        self.origin = config.origin
        self._storage = engine.storage
        self._pool: dict[bytes, _Pending] = {}
        self._in_flight = 0
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._edge = TreeEdge()
        self._head: SignedCheckpoint | None = None
        self._seen: SignedCheckpoint | None = None  # newest head another process committed
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._first_arrival = 0.0

    # -- start-up ---------------------------------------------------------------------

    def _open(self, create: bool) -> None:
        """Load (or create) the log; runs in the writer thread. Raises if state is damaged."""
        stored = self._storage.load_head(self.name)
        if stored is None:
            if not create:
                raise InternalError(
                    f"log {self.name!r} does not exist in storage (run `sceau init`)"
                )
            # The first head: the genesis entry if there is one, else the empty tree; either
            # way a signed checkpoint exists from the start (the read path always has one).
            genesis = [] if self.config.genesis is None else [self.config.genesis]
            hashes = [leaf_hash(e) for e in genesis]
            integ = integrate(TreeEdge(), hashes, genesis, self._load_tile)
            first = self._batch_write(integ, [(h, 0) for h in hashes], [])
            self._storage.create_log(self.name, self.origin, first)
            stored = self._storage.load_head(self.name)
            assert stored is not None
        origin = self._storage.log_origin(self.name)
        if origin != self.origin:
            raise InternalError(
                f"log {self.name!r} was created with origin {origin!r}, config says {self.origin!r}"
            )
        self._edge = self._check_stored(stored)
        self._head = SignedCheckpoint(
            stored.size, stored.root_hash, stored.timestamp_ms, stored.note
        )

    def _check_stored(self, head: TreeHead) -> TreeEdge:
        """Refuse to serve a log whose tiles or head disagree (truncated or corrupt state)."""
        what = f"log {self.name!r} is damaged"
        for level, idx, nbytes in self._storage.tile_sizes(self.name):
            if level == ENTRIES:
                continue
            want = tile_width_at(level, idx, head.size)
            if nbytes % 32 or nbytes // 32 < want or nbytes > TILE_WIDTH * 32:
                raise InternalError(
                    f"{what}: tile {level}/{idx} has {nbytes} bytes, expected {want} hashes"
                )
        try:
            edge = TreeEdge.load(head.size, self._load_tile)
        except InternalError as e:
            raise InternalError(f"{what}: {e.message}") from e
        if head.size == 0:
            return edge  # a new log: nothing stored yet, no checkpoint signed yet
        self._check_tile_tree(head.size, edge, what)
        root = TreeHasher(
            head.size, {(lvl, i): h for lvl, (i, h) in edge.tiles.items()}, self._load_tile
        ).root()
        if root != head.root_hash:
            raise InternalError(f"{what}: tiles give a root hash that differs from the stored head")
        try:
            cp = open_checkpoint(head.note, [s.verifier() for s in self.config.note_signers])
        except NoteError as e:
            raise InternalError(f"{what}: stored checkpoint does not verify: {e.message}") from e
        if (cp.size, cp.root_hash, cp.origin) != (head.size, head.root_hash, self.origin):
            raise InternalError(f"{what}: stored checkpoint does not match the tree head")
        idx, data = edge.bundle
        entries = split_bundle(data)
        first = idx << TILE_HEIGHT
        tile0 = edge.tiles[0][1]
        for i, entry in enumerate(entries):
            if leaf_hash(entry) != tile0[(first + i) & (TILE_WIDTH - 1)]:
                raise InternalError(f"{what}: entry {first + i} does not match its leaf hash")
        if self.engine.verify_entries:
            self._check_leaf_index(first, tile0[: len(entries)], what)
        return edge

    def _check_leaf_index(self, first: int, hashes: list[bytes], what: str) -> None:
        """(``sceau check``) The leaf index finds each leaf at its own index, or at an earlier
        copy of the same leaf."""
        found = self._storage.find_leaves(self.name, hashes)
        for k, lh in enumerate(hashes, first):
            at = found.get(lh)
            if at is None or at > k:
                raise InternalError(f"{what}: the leaf index does not find entry {k}")
            if at != k and split_hashes(self._load_tile((0, at >> TILE_HEIGHT)))[at & _MASK] != lh:
                raise InternalError(f"{what}: the leaf index maps entry {k} to entry {at}")

    def _check_tile_tree(self, size: int, edge: TreeEdge, what: str) -> None:
        """Every full tile must hash to its parent's entry, up to the edge (≈1 hash/leaf).

        With ``engine.verify_entries`` every full entry bundle is also re-hashed against its
        level-0 tile (reads the whole log: ``sceau check``, not every start).
        """
        level, stored = 0, size
        while stored >> TILE_HEIGHT:
            parents = stored >> TILE_HEIGHT  # full tiles at this level
            for first in range(0, parents, 256):
                keys = [(level, i) for i in range(first, min(first + 256, parents))]
                tiles = self._storage.read_tiles(self.name, keys)
                parent_key = (level + 1, first >> TILE_HEIGHT)
                parent = split_hashes(self._load_tile(parent_key))
                for lvl, i in keys:
                    data = tiles.get((lvl, i))
                    if data is None or len(data) != TILE_WIDTH * 32:
                        raise InternalError(f"{what}: tile {lvl}/{i} is missing or short")
                    hashes = split_hashes(data)
                    if fold_complete(hashes) != parent[i & (TILE_WIDTH - 1)]:
                        raise InternalError(f"{what}: tile {lvl}/{i} does not hash to its parent")
                    if lvl == 0 and self.engine.verify_entries:
                        bundle = self._load_tile((ENTRIES, i))
                        if [leaf_hash(e) for e in split_bundle(bundle)] != hashes:
                            raise InternalError(
                                f"{what}: entry bundle {i} does not match tile 0/{i}"
                            )
                        self._check_leaf_index(i << TILE_HEIGHT, hashes, what)
            stored >>= TILE_HEIGHT
            level += 1

    def _load_tile(self, key: TileKey) -> bytes:
        data = self._storage.read_tiles(self.name, [key]).get(key)
        if data is None:
            raise InternalError(f"tile {key[0]}/{key[1]} is missing")
        return data

    # -- appending --------------------------------------------------------------------

    async def append(self, entry: bytes, keys: Sequence[str] = ()) -> AppendResult:
        """Add ``entry``; resolves once it is durable in a signed checkpoint."""
        if not isinstance(entry, bytes | bytearray):
            raise TypeError("entry must be bytes")
        if len(entry) > MAX_ENTRY_SIZE:
            raise InputError(f"log entry of {len(entry)} bytes exceeds {MAX_ENTRY_SIZE} bytes")
        if self._closing or self._task is None:
            raise Overloaded(f"log {self.name} is not accepting entries", retry_after=1)
        if len(self._pool) + self._in_flight >= self.engine.max_pending:
            raise Overloaded(f"log {self.name} is overloaded, retry later", retry_after=1)
        entry = bytes(entry)
        lh = leaf_hash(entry)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[AppendResult] = loop.create_future()
        pool = self._pool
        pending = pool.get(lh)
        if pending is None:
            pool[lh] = _Pending(entry, lh, tuple(keys) if keys else (), fut)
            if len(pool) == 1:
                self._first_arrival = loop.time()
                self._wake.set()
            if len(pool) >= self.engine.batch_size:
                self._full.set()
        elif pending.repeats is None:
            pending.repeats = [fut]
        else:
            pending.repeats.append(fut)
        return await fut

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.engine.batch_interval
        while True:
            await self._wake.wait()
            if not self._pool:
                self._wake.clear()
                if self._closing:
                    return
                continue
            await self._gather(loop, interval)
            self._full.clear()
            batch = self._take_batch()
            self._in_flight = len(batch)
            try:
                results = await loop.run_in_executor(self.engine._writer, self._sequence, batch)
            except Exception as e:  # a failed batch: nothing was acknowledged; recover
                log.error("log %s: batch of %d failed: %s", self.name, len(batch), e)
                error = (
                    e
                    if isinstance(e, Overloaded)
                    else Overloaded(
                        f"log {self.name}: could not sequence the entry, retry", retry_after=1
                    )
                )
                for p in batch:
                    for f in p.futures():
                        if not f.done():
                            f.set_exception(error)
                try:
                    await loop.run_in_executor(self.engine._writer, self._reload)
                except Exception as e2:  # storage unreachable: keep the sequencer alive; the
                    # next batch re-reads the head under its lease (the edge only ever moves
                    # after a commit, so it is still right for the head it was built on)
                    log.error("log %s: reload after a failed batch failed: %s", self.name, e2)
            else:
                for p, r in zip(batch, results, strict=True):
                    if not p.future.done():
                        p.future.set_result(r)
                    for f in p.repeats or ():
                        if not f.done():
                            f.set_result(dataclasses.replace(r, duplicate=True))
            finally:
                self._in_flight = 0
            if not self._pool:
                self._wake.clear()
                if self._closing:
                    return

    async def _gather(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        """Wait until the pool should go: ``batch_size`` entries, ``interval`` after the
        first one arrived (so a batch that waited while the previous one was committing
        goes at once), or — with ``batch_idle`` — once no entry has arrived for that long.

        The last rule is for the quiet times: one signer alone (a CT entry, then a Rekor
        entry) then waits milliseconds for each, not the whole interval. Under load entries
        keep arriving and batches stay as large as before."""
        idle = self.engine.batch_idle
        while not self._closing and len(self._pool) < self.engine.batch_size:
            remaining = self._first_arrival + interval - loop.time()
            if remaining <= 0:
                return
            size = len(self._pool)
            step = min(remaining, idle) if idle > 0 else remaining
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), timeout=step)
            if idle > 0 and len(self._pool) == size:
                return  # quiet for `idle`: nobody else is coming soon

    def _take_batch(self) -> list[_Pending]:
        size = self.engine.batch_size
        if len(self._pool) <= size:
            batch = list(self._pool.values())
            self._pool = {}
        else:
            keys = list(self._pool)[:size]
            batch = [self._pool.pop(k) for k in keys]
        return batch

    def _reload(self) -> None:
        stored = self._storage.load_head(self.name)
        if stored is None:
            raise InternalError(f"log {self.name!r} vanished from storage")
        self._catch_up(stored)  # edge-only check: a failed batch must not re-read the log

    def _batch_write(
        self, integ: Integration, leaves: list[tuple[bytes, int]], keys: list[tuple[str, int]]
    ) -> BatchWrite:
        prev = self._head.timestamp_ms if self._head else 0
        ts = max(_now_ms(), prev)
        root = integ.root
        body = Checkpoint(self.origin, integ.edge.size, root).body()
        note = sign_note(body, self.config.note_signers)
        return BatchWrite(
            self.name,
            integ.old_size,
            TreeHead(integ.edge.size, root, note, ts),
            integ.writes,
            leaves,
            keys,
        )

    def _sequence(self, batch: list[_Pending]) -> list[AppendResult]:
        """Writer thread: under the sequencer lease, dedup, integrate, sign, commit."""
        with self._storage.sequencer_lease(self.name):
            stored = self._storage.load_head(self.name)
            if stored is None:
                raise InternalError(f"log {self.name!r} vanished from storage")
            if stored.size != self._edge.size:
                self._catch_up(stored)
            return self._sequence_leased(batch)

    def _catch_up(self, stored: TreeHead) -> None:
        """Another process sequenced since our last batch (shared storage): load its edge.

        Only the right-edge tiles are read and checked against the stored root, so the cost
        does not grow with the log (the full check runs once, at start-up).
        """
        edge = TreeEdge.load(stored.size, self._load_tile)
        tiles = {(lvl, i): h for lvl, (i, h) in edge.tiles.items()}
        if TreeHasher(stored.size, tiles, self._load_tile).root() != stored.root_hash:
            raise InternalError(
                f"log {self.name!r}: stored tiles give a root that differs from the stored head"
            )
        self._edge = edge
        self._head = SignedCheckpoint(
            stored.size, stored.root_hash, stored.timestamp_ms, stored.note
        )

    def _sequence_leased(self, batch: list[_Pending]) -> list[AppendResult]:
        existing: dict[bytes, int] = {}
        if not self._storage.detects_duplicates:
            existing = self._storage.find_leaves(self.name, [p.leaf_hash for p in batch])
        try:
            return self._integrate_and_commit(batch, existing)
        except DuplicateLeaves as dup:  # the driver found some inside the commit: redo once
            existing.update(dup.existing)
            return self._integrate_and_commit(batch, existing)

    def _integrate_and_commit(
        self, batch: list[_Pending], existing: dict[bytes, int]
    ) -> list[AppendResult]:
        fresh = [p for p in batch if p.leaf_hash not in existing]
        old_size = self._edge.size
        integ = integrate(
            self._edge, [p.leaf_hash for p in fresh], [p.entry for p in fresh], self._load_tile
        )
        for lh, idx in existing.items():  # a damaged leaf index must not alias two entries
            if integ.hasher.node(0, idx) != lh:
                raise InternalError(
                    f"log {self.name}: the leaf index maps {lh.hex()} to entry {idx}, "
                    "whose leaf hash differs (the leaf index is damaged)"
                )
        index_of = dict(existing)
        leaves: list[tuple[bytes, int]] = []
        keys: list[tuple[str, int]] = []
        for i, p in enumerate(fresh):
            idx = old_size + i
            index_of[p.leaf_hash] = idx
            leaves.append((p.leaf_hash, idx))
            if p.keys:
                keys.extend([(k, idx) for k in p.keys])
        if fresh:
            write = self._batch_write(integ, leaves, keys)
            # Self-check before anything is acknowledged: the proofs we hand out must verify.
            for i in {old_size, integ.edge.size - 1}:
                verify_inclusion(
                    i,
                    integ.edge.size,
                    integ.hasher.node(0, i),
                    integ.hasher.inclusion_proof(i),
                    write.head.root_hash,
                )
            # Commit point. Before it returns nothing of this batch is visible or acknowledged;
            # after it, tiles, bundles, leaf index and head are durable together.
            self._storage.commit(write)  # raises StaleHead if another sequencer moved the head
            self._edge = integ.edge
            h = write.head
            self._head = SignedCheckpoint(h.size, h.root_hash, h.timestamp_ms, h.note)
        head = self._head
        assert head is not None
        out: list[AppendResult] = []
        for p in batch:
            idx = index_of[p.leaf_hash]
            dup = p.leaf_hash in existing
            ts = head.timestamp_ms if not dup else (self._storage.batch_time(self.name, idx) or 0)
            out.append(
                AppendResult(idx, p.leaf_hash, integ.hasher.inclusion_proof(idx), head, ts, dup)
            )
        return out

    # -- reading ----------------------------------------------------------------------

    async def latest(self) -> SignedCheckpoint:
        """The newest durable checkpoint (re-read from storage when other processes write)."""
        if self._head is None:
            raise InternalError(f"log {self.name} is not open")
        if self._storage.shared:
            stored = await self._read(self._storage.load_head, self.name)
            if stored is not None and stored.size > self.size:
                self._seen = SignedCheckpoint(
                    stored.size, stored.root_hash, stored.timestamp_ms, stored.note
                )
        seen = self._seen
        return seen if seen is not None and seen.size > self._head.size else self._head

    @property
    def size(self) -> int:
        """The newest size this process knows (its own commits, or another's it has read)."""
        own = self._head.size if self._head else 0
        return max(own, self._seen.size) if self._seen else own

    async def _read(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self.engine._readers, fn, *args)

    def _read_tile_sync(self, key: TileKey, width: int) -> bytes:
        """The first ``width`` hashes (or entries) of tile ``key``, from cache or storage."""
        level, idx = key
        cache_key = (self.name, level, idx)
        data = self.engine._cache.get(cache_key)
        if data is not None and level == ENTRIES:
            # Only full bundles are cached, checked when they were: cut, don't re-split.
            return data if width == TILE_WIDTH else data[: bundle_offset(data, width)]
        if data is None:
            data = self._storage.read_tiles(self.name, [key]).get(key)
            if data is None:
                raise InternalError(f"log {self.name}: tile {level}/{idx} is missing from storage")
        if level == ENTRIES:
            entries = split_bundle(data)
            if len(entries) < width:
                raise InternalError(f"log {self.name}: entry bundle {idx} is short")
            if len(entries) == TILE_WIDTH:
                self.engine._cache.put(cache_key, data)
            return data if len(entries) == width else join_bundle(entries[:width])
        if len(data) < width * 32:
            raise InternalError(f"log {self.name}: tile {level}/{idx} is short")
        if len(data) == TILE_WIDTH * 32:
            self.engine._cache.put(cache_key, data)
        return data[: width * 32]

    def _hasher(self, size: int) -> TreeHasher:
        tiles: dict[TileKey, list[bytes]] = {}
        if size == self._edge.size:
            tiles = {(lvl, i): h for lvl, (i, h) in self._edge.tiles.items()}

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
        """One entry, read out of its bundle without splitting the bundle (the explorer
        and the APIs' reads by index)."""
        if index >= self.size:
            await self.latest()
        size = self.size
        if not 0 <= index < size:
            raise NotFound(f"no entries in [{index}, {index + 1}) for tree size {size}")
        b = index >> TILE_HEIGHT

        def read() -> bytes:
            data = self._read_tile_sync((ENTRIES, b), tile_width_at(ENTRIES, b, size))
            return bundle_entry(data, index - (b << TILE_HEIGHT))

        return await self._read(read)

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


class LogEngine:
    """Hosts several named logs over one storage driver, each with its own sequencer."""

    def __init__(
        self,
        storage: Storage,
        *,
        batch_interval: float = 0.05,
        batch_idle: float = 0.002,
        batch_size: int = 2048,
        max_pending: int = 50_000,
        reader_threads: int = 4,
        verify_entries: bool = False,
    ) -> None:
        if batch_interval < 0 or batch_idle < 0:
            raise ValueError("batch_interval and batch_idle must not be negative")
        self.storage = storage
        self.batch_interval = batch_interval
        self.batch_idle = batch_idle  # 0: always wait the whole interval
        self.batch_size = batch_size
        self.max_pending = max_pending
        self.verify_entries = verify_entries  # start-up re-hashes every entry bundle
        self._logs: dict[str, Log] = {}
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sceau-log-writer")
        self._readers = ThreadPoolExecutor(reader_threads, thread_name_prefix="sceau-log-reader")
        self._cache = _TileCache()
        self._started = False

    def add_log(self, config: LogConfig) -> Log:
        if config.name in self._logs:
            raise ValueError(f"log {config.name!r} already added")
        if self._started:
            raise RuntimeError("add logs before start()")
        lg = self._logs[config.name] = Log(self, config)
        return lg

    def log(self, name: str) -> Log:
        try:
            return self._logs[name]
        except KeyError:
            raise NotFound(f"no log named {name!r}") from None

    @property
    def logs(self) -> dict[str, Log]:
        return dict(self._logs)

    async def start(self, *, create: bool = True) -> None:
        """Open (or, with ``create``, create) every log and start its sequencer."""
        loop = asyncio.get_running_loop()
        for lg in self._logs.values():
            await loop.run_in_executor(self._writer, lg._open, create)
        for lg in self._logs.values():
            lg._closing = False
            lg._task = asyncio.create_task(lg._run(), name=f"sequencer-{lg.name}")
        self._started = True

    async def close(self) -> None:
        """Sequence what is pending, stop the sequencers, close storage."""
        for lg in self._logs.values():
            lg._closing = True
            lg._wake.set()
            lg._full.set()
        for lg in self._logs.values():
            if lg._task is not None:
                await lg._task
                lg._task = None
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self.storage.close()
        self._started = False
