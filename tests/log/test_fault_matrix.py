"""The engine over a storage whose calls fail, one at a time, before or after they take
effect (as Sunlight's tests do): whatever fails, every acknowledged entry is in the log
once, a new engine opens the storage (its start-up integrity check passes) and appends on.

The storage is the in-memory driver (``sceau.log.memory``), wrapped so that the n-th call
of one method raises — before doing anything, or after its effect is durable.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from sceau import merkle
from sceau.errors import SceauError
from sceau.keys import generate_signer
from sceau.log import LogConfig, LogEngine
from sceau.log.memory import MemoryStorage
from sceau.log.storage import LocalLease
from sceau.note import note_signer

ORIGIN = "faults.example.test"
KEY = generate_signer("ed25519")
METHODS = ("commit", "load_head", "read_tiles", "find_leaves", "batch_time")


class Injected(SceauError):
    """The fault the test injects (a storage error as the engine would see one)."""


class Faulty:
    """``inner`` with the ``nth`` call of ``method`` failing ``when`` = before/after."""

    shared = False

    def __init__(self, inner: MemoryStorage, method: str, nth: int, when: str) -> None:
        self.inner, self.method, self.nth, self.when = inner, method, nth, when
        # A driver without in-commit dedup gets the engine's find_leaves pre-check.
        self.detects_duplicates = method != "find_leaves"
        self.calls = 0
        self.fired = False

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.inner, name)
        if name != self.method:
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls != self.nth:
                return real(*args, **kwargs)
            self.fired = True
            if self.when == "before":
                raise Injected(f"{name} failed before taking effect")
            real(*args, **kwargs)
            raise Injected(f"{name} failed after taking effect")

        return call

    @contextlib.contextmanager
    def sequencer_lease(self, name: str) -> Iterator[LocalLease]:
        """The inner driver's lease, whose reads and commit go through the faults."""
        with self.inner.sequencer_lease(name):
            yield LocalLease(self, name)  # type: ignore[arg-type]  # a Storage by duck typing


def _engine(storage: Any) -> LogEngine:
    engine = LogEngine(storage, batch_interval=0.005, batch_idle=0.001)
    engine.add_log(LogConfig("main", ORIGIN, [note_signer(ORIGIN, KEY)]))
    return engine


async def _appends(engine: LogEngine, entries: list[bytes]) -> dict[bytes, int]:
    """Append in three concurrent waves; the acknowledged ones with their indexes."""
    acknowledged: dict[bytes, int] = {}
    log = engine.log("main")
    for wave in range(3):
        batch = entries[wave * 10 : (wave + 1) * 10]
        results = await asyncio.wait_for(
            asyncio.gather(*(log.append(e) for e in batch), return_exceptions=True), 30
        )
        for entry, r in zip(batch, results, strict=True):
            if not isinstance(r, BaseException):
                acknowledged[entry] = r.index
                # Reads too (tiles, entry bundles, batch times): a failing read fails
                # that read only.
                for read in (log.get_entry(r.index), log.entry_time(r.index),
                             log.inclusion_proof(r.index, r.checkpoint.size)):  # fmt: skip
                    try:
                        await read
                    except SceauError:
                        pass
    return acknowledged


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("nth", [1, 2, 3])
@pytest.mark.parametrize("method", METHODS)
def test_a_failing_storage_call_loses_nothing_acknowledged(
    method: str, nth: int, when: str
) -> None:
    storage = MemoryStorage()
    entries = [f"entry {i}".encode() for i in range(30)]

    async def first_life() -> dict[bytes, int]:
        setup = _engine(storage)  # the log exists, with entries, before faults start
        await setup.start(create=True)
        prior = {e: (await setup.log("main").append(e)).index for e in (b"a", b"b", b"c")}
        await setup.close()
        faulty = Faulty(storage, method, nth, when)
        engine = _engine(faulty)
        acknowledged: dict[bytes, int] = dict(prior)
        fired.append(faulty)
        try:
            await engine.start(create=False)
            acknowledged.update(await _appends(engine, entries))
        except SceauError:
            pass  # start-up or a wave failed: what was acknowledged must still hold
        finally:
            try:
                await engine.close()
            except SceauError:
                pass
        return acknowledged

    async def second_life() -> tuple[dict[bytes, int], int, list[bytes]]:
        engine = _engine(storage)
        await engine.start(create=False)  # the integrity check runs here
        log = engine.log("main")
        checkpoint = await log.latest()
        stored = await log.get_entries(0, checkpoint.size) if checkpoint.size else []
        for index, entry in enumerate(stored):
            proof = await log.inclusion_proof(index, checkpoint.size)
            merkle.verify_inclusion(index, checkpoint.size, merkle.leaf_hash(entry), proof,
                                    checkpoint.root_hash)  # fmt: skip
        more = await log.append(b"after the fault")
        await engine.close()
        return {e: i for i, e in enumerate(stored)}, more.index, stored

    fired: list[Faulty] = []
    acknowledged = asyncio.run(first_life())
    assert fired[0].fired, f"{method} was called {fired[0].calls} times: no fault injected"
    positions, next_index, stored = asyncio.run(second_life())
    assert len(stored) == len(set(stored)), "an entry was logged twice"
    for entry, index in acknowledged.items():
        assert positions.get(entry) == index, f"acknowledged {entry!r} at {index} is not there"
    assert next_index == len(stored)
