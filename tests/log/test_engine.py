"""The log engine: appends, proofs, dedup, pushback, restart, read path."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from sceau.errors import InternalError, NotFound, Overloaded
from sceau.log import LogEngine
from sceau.log.integrate import split_bundle
from sceau.merkle import leaf_hash, tree_root, verify_consistency, verify_inclusion
from sceau.merkle.tiles import TILE_WIDTH, tile_path
from sceau.note import open_checkpoint

from .conftest import ORIGIN


def run(coro):
    return asyncio.run(coro)


def test_append_returns_durable_index_proof_and_signed_checkpoint(make_engine, verifier):
    async def go():
        engine = make_engine(batch_interval=0.01)
        await engine.start()
        lg = engine.log("main")
        results = await asyncio.gather(*(lg.append(f"entry {i}".encode()) for i in range(50)))
        await engine.close()
        return results

    results = run(go())
    assert sorted(r.index for r in results) == list(range(50))
    latest = max(results, key=lambda r: r.checkpoint.size).checkpoint
    cp = open_checkpoint(latest.note, [verifier])
    assert (cp.origin, cp.size, cp.root_hash) == (ORIGIN, latest.size, latest.root_hash)
    for r in results:
        assert r.leaf_hash == leaf_hash(f"entry {results.index(r)}".encode())
        verify_inclusion(r.index, r.checkpoint.size, r.leaf_hash, r.proof, r.checkpoint.root_hash)
        assert r.timestamp_ms == r.checkpoint.timestamp_ms and not r.duplicate


def test_genesis_takes_index_zero_so_real_entries_start_at_one(make_engine):
    async def go():
        engine = make_engine(genesis=b"genesis", batch_interval=0.01)
        await engine.start()
        lg = engine.log("main")
        first = await lg.append(b"real")
        zero = await lg.get_entry(0)
        await engine.close()
        return first, zero

    first, zero = run(go())
    assert first.index == 1 and zero == b"genesis"


def test_duplicates_return_the_existing_index(make_engine):
    async def go():
        engine = make_engine(batch_interval=0.01)
        await engine.start()
        lg = engine.log("main")
        same_batch = await asyncio.gather(lg.append(b"x"), lg.append(b"x"))
        later = await lg.append(b"x")
        other = await lg.append(b"y")
        await engine.close()
        return same_batch, later, other

    (a, b), later, other = run(go())
    assert a.index == b.index == later.index
    assert not a.duplicate and b.duplicate and later.duplicate
    verify_inclusion(
        later.index, later.checkpoint.size, later.leaf_hash, later.proof, later.checkpoint.root_hash
    )
    assert other.index == a.index + 1


def test_a_quiet_log_answers_without_waiting_the_whole_interval(make_engine):
    """One signer alone: its entry goes once nothing else arrived for ``batch_idle``, not
    after ``batch_interval``; with ``batch_idle=0`` it waits the interval, as before."""

    async def one_append(**kw) -> float:
        engine = make_engine(batch_interval=0.6, **kw)
        await engine.start()
        lg = engine.log("main")
        await lg.append(b"warm-up")
        started = asyncio.get_running_loop().time()
        await lg.append(b"alone")
        elapsed = asyncio.get_running_loop().time() - started
        await engine.close()
        return elapsed

    assert run(one_append(batch_idle=0.002)) < 0.3
    assert run(one_append(batch_idle=0)) >= 0.55


def test_a_steady_trickle_still_shares_one_batch(make_engine):
    """Entries arriving closer together than ``batch_idle`` keep the batch open (up to
    ``batch_interval``): one commit and one checkpoint for all of them."""

    async def go():
        engine = make_engine(batch_interval=2.0, batch_idle=0.1)
        await engine.start()
        lg = engine.log("main")
        loop = asyncio.get_running_loop()
        tasks = []
        started = loop.time()
        for i in range(30):
            tasks.append(asyncio.ensure_future(lg.append(f"trickle {i}".encode())))
            await asyncio.sleep(0.01)
        results = await asyncio.gather(*tasks)
        elapsed = loop.time() - started
        await engine.close()
        return results, elapsed

    results, elapsed = run(go())
    assert {r.checkpoint.size for r in results} == {30}
    assert elapsed < 1.5  # went once the trickle stopped, not at the 2 s interval


def test_negative_batch_timings_are_refused(make_sqlite_engine):
    with pytest.raises(ValueError, match="must not be negative"):
        make_sqlite_engine(batch_idle=-1)


def test_pushback_when_too_much_is_pending(make_engine):
    async def go():
        engine = make_engine(batch_interval=0.2, max_pending=10)
        await engine.start()
        lg = engine.log("main")
        tasks = [asyncio.create_task(lg.append(b"e%d" % i)) for i in range(25)]
        done = await asyncio.gather(*tasks, return_exceptions=True)
        await engine.close()
        return done

    done = run(go())
    refused = [d for d in done if isinstance(d, Overloaded)]
    assert len(refused) == 15 and all(d.retry_after >= 1 for d in refused)
    assert "overloaded" in refused[0].message
    assert sum(1 for d in done if not isinstance(d, Exception)) == 10


def test_search_keys_and_entry_times(make_engine):
    async def go():
        engine = make_engine(batch_interval=0.01)
        await engine.start()
        lg = engine.log("main")
        a = await lg.append(b"a", keys=["email:alice@example.com", "sha256:aa"])
        b = await lg.append(b"b", keys=["email:alice@example.com"])
        hits = await lg.lookup("email:alice@example.com")
        none = await lg.lookup("email:bob@example.com")
        t = await lg.entry_time(b.index)
        found = await lg.find_leaf(leaf_hash(b"a"))
        await engine.close()
        return a, b, hits, none, t, found

    a, b, hits, none, t, found = run(go())
    assert hits == [a.index, b.index] and none == []
    assert t == b.timestamp_ms and found == a.index


def test_restart_keeps_everything_and_continues(make_engine, tmp_path, verifier):
    async def first():
        engine = make_engine(batch_interval=0.01)
        await engine.start()
        lg = engine.log("main")
        rs = await asyncio.gather(*(lg.append(b"%d" % i) for i in range(300)))
        await engine.close()
        return rs

    async def second():
        engine = make_engine(batch_interval=0.01)
        await engine.start(create=False)
        lg = engine.log("main")
        head = await lg.latest()
        r = await lg.append(b"after restart")
        proof = await lg.consistency_proof(head.size, r.checkpoint.size)
        entries = await lg.get_entries(0, 300)
        await engine.close()
        return head, r, proof, entries

    rs = run(first())
    head, r, proof, entries = run(second())
    assert head.size == 300 and r.index == 300
    verify_consistency(head.size, r.checkpoint.size, proof, head.root_hash, r.checkpoint.root_hash)
    assert entries == [b"%d" % i for i in range(300)]
    assert max(x.checkpoint.size for x in rs) == 300


def test_start_without_create_refuses_a_missing_log(make_engine, tmp_path):
    async def go():
        engine = make_engine(path=tmp_path / "empty.sqlite")
        try:
            await engine.start(create=False)
        finally:
            engine.storage.close()

    with pytest.raises(InternalError, match="does not exist"):
        run(go())


def _fill(make_engine, n: int) -> None:
    async def go():
        engine = make_engine(batch_interval=0.01)
        await engine.start()
        lg = engine.log("main")
        await asyncio.gather(*(lg.append(b"entry-%d" % i) for i in range(n)))
        await engine.close()

    run(go())


def _start_fails(make_engine) -> str:
    async def go():
        engine = make_engine()
        try:
            await engine.start(create=False)
        finally:
            engine.storage.close()

    with pytest.raises(InternalError) as e:
        run(go())
    return e.value.message


@pytest.mark.parametrize(
    "damage, expect",
    [
        ("UPDATE tiles SET data = substr(data, 1, 40) WHERE level = 0 AND idx = 1", "tile 0/1"),
        ("UPDATE tiles SET data = zeroblob(8192) WHERE level = 0 AND idx = 0", "tile 0/0"),
        ("DELETE FROM tiles WHERE level = 1", "missing"),
        ("UPDATE tiles SET data = substr(data, 1, 50) WHERE level = -1 AND idx = 1", "truncated"),
        ("UPDATE logs SET size = size + 1", "damaged"),
        ("UPDATE logs SET root = zeroblob(32)", "root hash"),
        ("UPDATE logs SET note = replace(note, 'log.example.test', 'evil')", "checkpoint"),
    ],
)
# SQLite-only: the damage is raw SQLite SQL; tests/log/test_postgres.py does the same to
# PostgreSQL tables.
def test_corrupt_state_on_disk_is_detected_at_start(make_sqlite_engine, tmp_path, damage, expect):
    make_engine = make_sqlite_engine
    _fill(make_engine, 300)
    db = sqlite3.connect(tmp_path / "log.sqlite")
    db.execute(damage)
    db.commit()
    db.close()
    message = _start_fails(make_engine)
    assert "damaged" in message and expect in message


def test_entry_swapped_in_the_edge_bundle_is_detected(make_sqlite_engine, tmp_path):
    make_engine = make_sqlite_engine  # SQLite-only, as above
    _fill(make_engine, 300)
    db = sqlite3.connect(tmp_path / "log.sqlite")
    (data,) = db.execute("SELECT data FROM tiles WHERE level=-1 AND idx=1").fetchone()
    entries = split_bundle(data)
    entries[3] = b"entry-999"
    db.execute(
        "UPDATE tiles SET data=? WHERE level=-1 AND idx=1",
        (b"".join(len(e).to_bytes(2, "big") + e for e in entries),),
    )
    db.commit()
    db.close()
    assert "does not match its leaf hash" in _start_fails(make_engine)


def test_full_check_finds_an_entry_changed_inside_the_log(make_sqlite_engine, tmp_path):
    """Entries behind the edge are re-hashed only on a full check (verify_entries)."""
    _fill(make_sqlite_engine, 600)
    db = sqlite3.connect(tmp_path / "log.sqlite")
    (data,) = db.execute("SELECT data FROM tiles WHERE level=-1 AND idx=0").fetchone()
    entries = split_bundle(data)
    entries[7] = b"forged"
    db.execute(
        "UPDATE tiles SET data=? WHERE level=-1 AND idx=0",
        (b"".join(len(e).to_bytes(2, "big") + e for e in entries),),
    )
    db.commit()
    db.close()

    async def go():
        engine = make_sqlite_engine(verify_entries=True)
        try:
            await engine.start(create=False)
        finally:
            engine.storage.close()

    with pytest.raises(InternalError, match="entry bundle 0 does not match"):
        run(go())


def test_read_path_serves_checkpoint_tiles_and_bundles(make_engine):
    async def go():
        engine = make_engine(batch_interval=0.01)
        await engine.start()
        lg = engine.log("main")
        await asyncio.gather(*(lg.append(b"e%d" % i) for i in range(300)))
        out = {
            "checkpoint": await lg.read_path("checkpoint"),
            "full": await lg.read_path(tile_path(0, 0)),
            "partial": await lg.read_path(tile_path(0, 1, 44)),
            "older": await lg.read_path(tile_path(0, 1, 10)),
            "l1": await lg.read_path(tile_path(1, 0, 1)),
            "bundle": await lg.read_path(tile_path(-1, 1, 44)),
        }
        errors = []
        for bad in (tile_path(0, 1), tile_path(0, 1, 45), tile_path(1, 0), "tile/0/x000/001", "x"):
            try:
                await lg.read_path(bad)
            except NotFound as e:
                errors.append(e)
        await engine.close()
        return out, errors

    out, errors = run(go())
    hashes = [leaf_hash(b"e%d" % i) for i in range(300)]
    assert out["checkpoint"][1].startswith("text/plain")
    assert out["full"][0] == b"".join(hashes[:256]) and "immutable" in out["full"][2]
    assert out["partial"][0] == b"".join(hashes[256:300])
    assert out["older"][0] == b"".join(hashes[256:266])
    assert out["l1"][0] == tree_root(hashes[:256])
    assert split_bundle(out["bundle"][0]) == [b"e%d" % i for i in range(256, 300)]
    assert len(errors) == 5


@pytest.mark.slow
def test_100k_concurrent_appends_all_prove_and_tiles_rebuild_the_root(make_engine, verifier):
    n = 100_000

    async def go():
        engine: LogEngine = make_engine(batch_interval=0.02, batch_size=4096, max_pending=n)
        await engine.start()
        lg = engine.log("main")

        async def writer(w: int) -> list:
            return [await lg.append(b"w%d-%d" % (w, i)) for i in range(n // 500)]

        per_writer = await asyncio.gather(*(writer(w) for w in range(500)))
        head = await lg.latest()
        proofs = await lg.inclusion_proofs(range(head.size), head.size)
        # The read path, as an outside verifier would fetch it.
        bundles, level0 = [], []
        for t in range((head.size + TILE_WIDTH - 1) // TILE_WIDTH):
            width = min(TILE_WIDTH, head.size - t * TILE_WIDTH)
            bundles.append((await lg.read_path(tile_path(-1, t, width)))[0])
            level0.append((await lg.read_path(tile_path(0, t, width)))[0])
        await engine.close()
        return [r for rs in per_writer for r in rs], head, proofs, bundles, level0

    results, head, proofs, bundles, level0 = run(go())
    assert sorted(r.index for r in results) == list(range(n))
    cp = open_checkpoint(head.note, [verifier])
    assert cp.size == n and cp.root_hash == head.root_hash
    # Every acknowledged index: its proof at its own checkpoint, and a fresh one at the latest.
    for r in results:
        verify_inclusion(r.index, r.checkpoint.size, r.leaf_hash, r.proof, r.checkpoint.root_hash)
    by_index = {r.index: r for r in results}
    for i, proof in enumerate(proofs):  # ... and every index against the latest checkpoint
        verify_inclusion(i, n, by_index[i].leaf_hash, proof, head.root_hash)
    entries = [e for b in bundles for e in split_bundle(b)]
    leaf_hashes = [leaf_hash(e) for e in entries]
    assert b"".join(leaf_hashes) == b"".join(level0)
    assert tree_root(leaf_hashes) == head.root_hash
