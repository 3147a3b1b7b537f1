"""The sequencer of one log: appends wait in a pool; a task takes a batch and, in the
writer thread, under the storage's sequencer lease, dedups, integrates, signs and commits
it, then answers every waiting caller (see :mod:`sceau.log.engine` for the rules)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial

from sceau.errors import InputError, InternalError, Overloaded
from sceau.log.integrate import MAX_ENTRY_SIZE, TileKey, TreeEdge, TreeHasher, integrate
from sceau.log.model import (
    AppendResult,
    LogConfig,
    TreeState,
    batch_write,
    resign_write,
    tile_loader,
)
from sceau.log.storage import DuplicateLeaves, Lease, Storage, TreeHead
from sceau.merkle import leaf_hash, verify_inclusion
from sceau.telemetry.metrics import BATCH_SIZE, INTEGRATION_SECONDS

log = logging.getLogger("sceau.log")


@dataclass(frozen=True)
class Batching:
    """When a batch goes, and how much may wait (see :class:`~sceau.log.LogEngine`)."""

    interval: float = 0.05
    idle: float = 0.002  # 0: always wait the whole interval
    size: int = 2048
    max_pending: int = 50_000


@dataclass(slots=True)
class _Pending:
    entry: bytes
    leaf_hash: bytes
    keys: Sequence[str]
    future: asyncio.Future[AppendResult]
    arrived: float  # loop time, for the integration latency metric
    # later appends of the same entry while it waits: answered as duplicates of the first
    repeats: list[asyncio.Future[AppendResult]] | None = None

    def futures(self) -> list[asyncio.Future[AppendResult]]:
        return [self.future, *self.repeats] if self.repeats else [self.future]


class Sequencer:
    """Owns the append pool and the only code that moves :class:`TreeState` forward."""

    def __init__(
        self,
        storage: Storage,
        config: LogConfig,
        state: TreeState,
        writer: Executor,
        batching: Batching,
    ) -> None:
        self._storage, self.config, self.state = storage, config, state
        self.name = config.name
        self._writer, self._batching = writer, batching
        self._load_tile = tile_loader(partial(storage.read_tiles, config.name))
        self._pool: dict[bytes, _Pending] = {}
        self._in_flight = 0
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._first_arrival = 0.0

    # -- life -------------------------------------------------------------------------

    def start(self) -> None:
        self._closing = False
        self._task = asyncio.create_task(self._run(), name=f"sequencer-{self.name}")

    async def stop(self) -> None:
        """Sequence what is pending, then end the task."""
        self._closing = True
        self._wake.set()
        self._full.set()
        if self._task is not None:
            await self._task
            self._task = None

    # -- appending --------------------------------------------------------------------

    async def append(self, entry: bytes, keys: Sequence[str] = ()) -> AppendResult:
        """Add ``entry``; resolves once it is durable in a signed checkpoint."""
        if not isinstance(entry, bytes | bytearray):
            raise TypeError("entry must be bytes")
        if len(entry) > MAX_ENTRY_SIZE:
            raise InputError(f"log entry of {len(entry)} bytes exceeds {MAX_ENTRY_SIZE} bytes")
        if self._closing or self._task is None:
            raise Overloaded(f"log {self.name} is not accepting entries", retry_after=1)
        if len(self._pool) + self._in_flight >= self._batching.max_pending:
            raise Overloaded(f"log {self.name} is overloaded, retry later", retry_after=1)
        entry = bytes(entry)
        lh = leaf_hash(entry)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[AppendResult] = loop.create_future()
        pool = self._pool
        pending = pool.get(lh)
        if pending is None:
            pool[lh] = _Pending(entry, lh, tuple(keys) if keys else (), fut, loop.time())
            if len(pool) == 1:
                self._first_arrival = loop.time()
                self._wake.set()
            if len(pool) >= self._batching.size:
                self._full.set()
        elif pending.repeats is None:
            pending.repeats = [fut]
        else:
            pending.repeats.append(fut)
        return await fut

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            if not self._pool:
                self._wake.clear()
                if self._closing:
                    return
                continue
            await self._gather(loop, self._batching.interval)
            self._full.clear()
            batch = self._take_batch()
            self._in_flight = len(batch)
            try:
                results = await loop.run_in_executor(self._writer, self._sequence, batch)
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
                    await loop.run_in_executor(self._writer, self._reload)
                except Exception as e2:  # storage unreachable: keep the sequencer alive; the
                    # next batch re-reads the head under its lease (the edge only ever moves
                    # after a commit, so it is still right for the head it was built on)
                    log.error("log %s: reload after a failed batch failed: %s", self.name, e2)
            else:
                self._observe(batch, loop.time())
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

    @property
    def pending(self) -> int:
        """Entries waiting or being sequenced (the write queue's depth)."""
        return len(self._pool) + self._in_flight

    def _observe(self, batch: list[_Pending], now: float) -> None:
        BATCH_SIZE.labels(self.name).observe(len(batch))
        INTEGRATION_SECONDS.labels(self.name).observe(now - batch[0].arrived)  # oldest first

    async def _gather(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        """Wait until the pool should go: ``size`` entries, ``interval`` after the first one
        arrived (so a batch that waited while the previous one was committing goes at
        once), or — with ``idle`` — once no entry has arrived for that long.

        The last rule is for the quiet times: one signer alone (a CT entry, then a Rekor
        entry) then waits milliseconds for each, not the whole interval. Under load entries
        keep arriving and batches stay as large as before."""
        idle = self._batching.idle
        while not self._closing and len(self._pool) < self._batching.size:
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
        size = self._batching.size
        if len(self._pool) <= size:
            batch = list(self._pool.values())
            self._pool = {}
        else:
            keys = list(self._pool)[:size]
            batch = [self._pool.pop(k) for k in keys]
        return batch

    async def resign(self) -> int:
        """Re-sign the stored head with the signers of the current config (a rotation), in
        the writer thread between two batches; returns the tree size."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self._resign)

    # -- the writer thread ------------------------------------------------------------

    def _resign(self) -> int:
        with self._storage.sequencer_lease(self.name) as lease:
            stored = lease.head()
            if stored is None:
                raise InternalError(f"log {self.name!r} vanished from storage")
            if stored.size != self.state.edge.size:
                self._catch_up(stored, tile_loader(lease.read_tiles))
            if stored.size == 0:
                return 0
            write = resign_write(self.config, stored)
            lease.commit(write)
            self.state.adopt(self.state.edge, write.head)
            return stored.size

    def _reload(self) -> None:
        stored = self._storage.load_head(self.name)
        if stored is None:
            raise InternalError(f"log {self.name!r} vanished from storage")
        self._catch_up(stored, self._load_tile)  # edge-only: a failed batch must not re-read

    def _sequence(self, batch: list[_Pending]) -> list[AppendResult]:
        """Writer thread: under the sequencer lease, dedup, integrate, sign, commit."""
        with self._storage.sequencer_lease(self.name) as lease:
            stored = lease.head()
            if stored is None:
                raise InternalError(f"log {self.name!r} vanished from storage")
            load = tile_loader(lease.read_tiles)
            if stored.size != self.state.edge.size:
                self._catch_up(stored, load)
            existing: dict[bytes, int] = {}
            if not self._storage.detects_duplicates:
                existing = lease.find_leaves([p.leaf_hash for p in batch])
            try:
                return self._integrate_and_commit(batch, existing, lease, load)
            except DuplicateLeaves as dup:  # the driver found some inside the commit: redo
                existing.update(dup.existing)
                return self._integrate_and_commit(batch, existing, lease, load)

    def _catch_up(self, stored: TreeHead, load: Callable[[TileKey], bytes]) -> None:
        """Another process sequenced since our last batch (shared storage): load its edge.

        Only the right-edge tiles are read and checked against the stored root, so the cost
        does not grow with the log (the full check runs once, at start-up).
        """
        edge = TreeEdge.load(stored.size, load)
        tiles = {(lvl, i): h for lvl, (i, h) in edge.tiles.items()}
        if TreeHasher(stored.size, tiles, load).root() != stored.root_hash:
            raise InternalError(
                f"log {self.name!r}: stored tiles give a root that differs from the stored head"
            )
        self.state.adopt(edge, stored)

    def _integrate_and_commit(
        self,
        batch: list[_Pending],
        existing: dict[bytes, int],
        lease: Lease,
        load: Callable[[TileKey], bytes],
    ) -> list[AppendResult]:
        state = self.state
        fresh = [p for p in batch if p.leaf_hash not in existing]
        old_size = state.edge.size
        integ = integrate(state.edge, [p.leaf_hash for p in fresh], [p.entry for p in fresh], load)
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
            write = batch_write(self.config, state.head, integ, leaves, keys)
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
            lease.commit(write)  # raises StaleHead if another sequencer moved the head
            state.adopt(integ.edge, write.head)
        head = state.head
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
