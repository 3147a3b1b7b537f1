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

A :class:`Log` is three parts over one :class:`~sceau.log.model.TreeState`: the start-up
check (:mod:`sceau.log.opening`), the sequencer (:mod:`sceau.log.sequencer`, the only
writer of the state) and the read API (:mod:`sceau.log.reader`). The engine hands each
its executor and cache; nothing reaches into another's fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from sceau.errors import InternalError, NotFound
from sceau.log.model import AppendResult, LogConfig, SignedCheckpoint, TreeState
from sceau.log.opening import StartupCheck
from sceau.log.reader import LogReader, TileCache
from sceau.log.sequencer import Batching, Sequencer
from sceau.log.storage import Storage
from sceau.note import NoteSigner

__all__ = ["AppendResult", "Log", "LogConfig", "LogEngine", "SignedCheckpoint"]


class Log(LogReader):
    """One named log inside a :class:`LogEngine` (obtain it with ``engine.add_log``): the
    read API, plus :meth:`append` through its sequencer."""

    def __init__(
        self,
        storage: Storage,
        config: LogConfig,
        *,
        writer: ThreadPoolExecutor,
        readers: ThreadPoolExecutor,
        cache: TileCache,
        batching: Batching,
    ) -> None:
        state = TreeState()
        super().__init__(storage, config, state, readers, cache)
        self.sequencer = Sequencer(storage, config, state, writer, batching)

    def open(self, *, create: bool, verify_entries: bool) -> None:
        """Writer thread, before :meth:`Sequencer.start`: load or create, and check."""
        check = StartupCheck(self._storage, self.config, verify_entries=verify_entries)
        check.open(self.state, create=create)

    async def append(self, entry: bytes, keys: Sequence[str] = ()) -> AppendResult:
        """Add ``entry``; resolves once it is durable in a signed checkpoint."""
        return await self.sequencer.append(entry, keys)

    def use_signers(self, note_signers: Sequence[NoteSigner]) -> None:
        """Sign the checkpoints of the next batches with ``note_signers`` (a key rotation on
        a running instance). A batch being signed keeps the keys it started with."""
        config = dataclasses.replace(self.config, note_signers=tuple(note_signers))
        self.config = self.sequencer.config = config

    async def resign(self) -> int:
        """Re-sign the stored head with the current signers, so the newest checkpoint
        verifies with them even if no entry arrives; returns the tree size."""
        return await self.sequencer.resign()


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
        self.batching = Batching(batch_interval, batch_idle, batch_size, max_pending)
        self.verify_entries = verify_entries  # start-up re-hashes every entry bundle
        self._logs: dict[str, Log] = {}
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sceau-log-writer")
        self._readers = ThreadPoolExecutor(reader_threads, thread_name_prefix="sceau-log-reader")
        self._cache = TileCache()
        self._started = False
        self._rebuilt: dict[str, LogConfig] | None = None

    def add_log(self, config: LogConfig) -> Log:
        if self._rebuilt is not None:  # a reload: the services are built again, the logs stay
            return self._existing(config)
        if config.name in self._logs:
            raise ValueError(f"log {config.name!r} already added")
        if self._started:
            raise RuntimeError("add logs before start()")
        lg = self._logs[config.name] = Log(
            self.storage,
            config,
            writer=self._writer,
            readers=self._readers,
            cache=self._cache,
            batching=self.batching,
        )
        return lg

    @contextlib.contextmanager
    def rebuilding(self) -> Iterator[dict[str, LogConfig]]:
        """While services are built again over this running engine (``sceau.instance.live``):
        ``add_log`` returns the log already here, and the configs the new services asked for
        (their signers) are collected in the yielded dict for the caller to switch to."""
        self._rebuilt = {}
        try:
            yield self._rebuilt
        finally:
            self._rebuilt = None

    def _existing(self, config: LogConfig) -> Log:
        assert self._rebuilt is not None
        lg = self.log(config.name)
        if lg.config.origin != config.origin:
            raise InternalError(
                f"log {config.name!r}: its origin cannot change on a running instance "
                f"({lg.config.origin!r} → {config.origin!r})"
            )
        self._rebuilt[config.name] = config
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
            opener = partial(lg.open, create=create, verify_entries=self.verify_entries)
            await loop.run_in_executor(self._writer, opener)
        for lg in self._logs.values():
            lg.sequencer.start()
        self._started = True

    async def close(self) -> None:
        """Sequence what is pending, stop the sequencers, close storage."""
        await asyncio.gather(*(lg.sequencer.stop() for lg in self._logs.values()))
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self.storage.close()
        self._started = False
