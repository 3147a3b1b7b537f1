"""The SQLite driver's leaf index: in-memory runs, background merges, rebuild from tiles."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from sceau.errors import InternalError, Overloaded
from sceau.log import LogConfig, LogEngine
from sceau.log.leafindex import MAX_SEALED
from sceau.log.sqlite import SQLiteStorage
from sceau.merkle import leaf_hash
from sceau.note import note_signer

from .conftest import ORIGIN

RUN = 300  # entries per run: a few thousand appends seal and merge many runs


def _engine(path: Path, log_key, **kw) -> LogEngine:
    engine = LogEngine(SQLiteStorage(path, leaf_run=RUN), batch_interval=0.005, **kw)
    engine.add_log(LogConfig("main", ORIGIN, [note_signer(ORIGIN, log_key)], genesis=b"g"))
    return engine


def _upto(path: Path) -> int:
    with sqlite3.connect(path.with_name(f"{path.stem}-leaves{path.suffix}")) as c:
        return c.execute("SELECT upto FROM leaf_index").fetchone()[0]


async def _append_all(engine: LogEngine, entries: list[bytes]) -> dict[bytes, int]:
    lg = engine.log("main")
    out: dict[bytes, int] = {}
    for start in range(0, len(entries), 250):  # several batches, several runs
        for r in await asyncio.gather(*(lg.append(e) for e in entries[start : start + 250])):
            out[r.leaf_hash] = r.index
    return out


def test_every_leaf_is_found_while_runs_merge_and_after_restart(tmp_path, log_key):
    db = tmp_path / "log.sqlite"
    entries = [b"entry-%d" % i for i in range(2000)]

    async def first():
        engine = _engine(db, log_key)
        await engine.start()
        lg = engine.log("main")
        stop = False
        misses: list[int] = []

        async def reader(acked: dict[bytes, int]) -> None:  # looks up while merges run
            while not stop:
                for lh, idx in list(acked.items())[-500:]:
                    if await lg.find_leaf(lh) != idx:
                        misses.append(idx)
                await asyncio.sleep(0)

        acked: dict[bytes, int] = {}
        task = asyncio.create_task(reader(acked))
        for start in range(0, len(entries), 250):
            batch = entries[start : start + 250]
            for r in await asyncio.gather(*(lg.append(e) for e in batch)):
                acked[r.leaf_hash] = r.index
        stop = True
        await task
        # Duplicates of merged and of in-memory entries alike get their first index.
        dups = await asyncio.gather(lg.append(entries[0]), lg.append(entries[-1]))
        await engine.close()
        return acked, misses, dups

    acked, misses, dups = asyncio.run(first())
    assert not misses
    assert sorted(acked.values()) == list(range(1, 2001))  # index 0 is the genesis
    assert [(d.duplicate, d.index) for d in dups] == [(True, 1), (True, 2000)]
    assert _upto(db) == 2001  # close merged everything

    async def second():
        engine = _engine(db, log_key)
        await engine.start(create=False)
        found = engine.storage.find_leaves("main", [*acked, leaf_hash(b"g")])
        await engine.close()
        return found

    found = asyncio.run(second())
    assert found == {**acked, leaf_hash(b"g"): 0}


@pytest.mark.parametrize("loss", ["unmerged runs", "deleted index file", "old layout"])
def test_the_index_is_rebuilt_from_the_tiles(tmp_path, log_key, loss):
    """A crash loses runs, an operator deletes the file, or a database predates the file."""
    db = tmp_path / "log.sqlite"
    index = tmp_path / "log-leaves.sqlite"

    async def fill():
        engine = _engine(db, log_key)
        await engine.start()
        if loss == "unmerged runs":  # as if killed: close without merging
            engine.storage.leaf_index.flush = lambda: None
        acked = await _append_all(engine, [b"e-%d" % i for i in range(1100)])
        await engine.close()
        return acked

    acked = asyncio.run(fill())
    if loss == "unmerged runs":
        assert _upto(db) < 1101
    else:
        index.unlink()
        for suffix in ("-wal", "-shm"):
            Path(f"{index}{suffix}").unlink(missing_ok=True)
        if loss == "old layout":
            with sqlite3.connect(db) as c:
                c.execute("CREATE TABLE leaves (log INTEGER, hash BLOB, idx INTEGER)")

    async def reopen():
        engine = _engine(db, log_key)
        await engine.start(create=False)
        found = engine.storage.find_leaves("main", list(acked))
        dup = await engine.log("main").append(b"e-7")
        await engine.close()
        return found, dup

    found, dup = asyncio.run(reopen())
    assert found == acked
    assert dup.duplicate and dup.index == acked[leaf_hash(b"e-7")]
    assert _upto(db) == 1101
    with sqlite3.connect(db) as c:
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "leaves" not in tables  # the index lives in its own file only


def test_failing_merges_refuse_batches_and_lose_nothing(tmp_path, log_key):
    db = tmp_path / "log.sqlite"

    async def run():
        engine = _engine(db, log_key, batch_size=RUN)
        await engine.start()
        lg = engine.log("main")
        index = engine.storage.leaf_index
        real = index._merge_rows

        def broken(*a, **kw):
            raise sqlite3.OperationalError("disk I/O error")

        index._merge_rows = broken
        # Enough for MAX_SEALED full runs, none of which can be merged.
        acked = await _append_all(engine, [b"a-%d" % i for i in range(RUN * (MAX_SEALED + 1))])
        assert len(index._logs[1].sealed) == MAX_SEALED
        with pytest.raises(Overloaded):  # the runs are full and cannot be merged
            await lg.append(b"refused")
        size_while_broken = lg.size
        index._merge_rows = real
        later = await lg.append(b"accepted")
        found = engine.storage.find_leaves("main", [*acked, leaf_hash(b"refused")])
        await engine.close()
        return acked, size_while_broken, later, found

    acked, size_while_broken, later, found = asyncio.run(run())
    assert size_while_broken == RUN * (MAX_SEALED + 1) + 1  # nothing of the refused batch
    assert later.index == size_while_broken and not later.duplicate
    assert found == acked  # and "refused" was never logged


def test_a_damaged_leaf_index_is_caught_not_served(tmp_path, log_key):
    """Two rows swapped in the index file: lookups, dedup and `sceau check` all refuse."""
    db = tmp_path / "log.sqlite"

    async def fill():
        engine = _engine(db, log_key)
        await engine.start()
        acked = await _append_all(engine, [b"d-%d" % i for i in range(600)])
        await engine.close()  # merges everything into the index file
        return acked

    acked = asyncio.run(fill())
    a, b = leaf_hash(b"d-10"), leaf_hash(b"d-20")
    with sqlite3.connect(tmp_path / "log-leaves.sqlite") as c:
        c.execute("UPDATE leaves SET idx=? WHERE hash=?", (acked[b], a))
        c.execute("UPDATE leaves SET idx=? WHERE hash=?", (acked[a], b))

    async def use():
        engine = _engine(db, log_key)
        await engine.start(create=False)  # the ordinary start does not read the whole index
        lg = engine.log("main")
        with pytest.raises(InternalError, match="leaf index"):
            await lg.find_leaf(a)
        with pytest.raises(Overloaded):  # the batch is refused, nothing aliased
            await lg.append(b"d-10")
        assert await lg.find_leaf(leaf_hash(b"d-11")) == acked[leaf_hash(b"d-11")]
        await engine.close()
        checked = _engine(db, log_key)
        checked.verify_entries = True  # what `sceau check` does
        with pytest.raises(InternalError, match="leaf index"):
            await checked.start(create=False)

    asyncio.run(use())
