"""PostgreSQL driver: shared sequencing, lease exclusivity, fencing, atomicity, damage checks.

The engine behaviour common to both drivers is in test_engine.py (parametrised); here are
the things only a database shared by several engines has.
"""

from __future__ import annotations

import asyncio
import threading
import time

import psycopg
import pytest

from sceau.errors import InternalError, NotFound
from sceau.log import BatchWrite, LogConfig, LogEngine, StaleHead, TreeHead
from sceau.log.integrate import split_bundle
from sceau.log.postgres import PostgresStorage
from sceau.merkle import leaf_hash, tree_root, verify_consistency, verify_inclusion
from sceau.note import note_signer, open_checkpoint
from tests.pg import fresh_schema

from .conftest import ORIGIN


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def schema() -> str:
    return fresh_schema()


@pytest.fixture
def engines(pg_dsn, schema, log_key):
    """``make(n)``: n engines, each with its own storage (connections), on one schema."""

    def make(n: int, **kw) -> list[LogEngine]:
        out = []
        for i in range(n):
            storage = PostgresStorage(pg_dsn, schema=schema, application_name=f"test-{i}")
            engine = LogEngine(storage, **{"batch_interval": 0.01, **kw})
            engine.add_log(
                LogConfig("main", ORIGIN, [note_signer(ORIGIN, log_key)], genesis=b"genesis")
            )
            out.append(engine)
        return out

    return make


def _sql(dsn: str, schema: str, *statements: str) -> list:
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f'SET search_path TO "{schema}"')
        rows = []
        for s in statements:
            cur = c.execute(s)  # type: ignore[arg-type]
            rows = cur.fetchall() if cur.description else []
        return rows


def test_three_engines_share_one_log_without_reusing_an_index(engines, verifier):
    async def go():
        es = engines(3)
        await asyncio.gather(*(e.start() for e in es))  # concurrent create: one genesis
        logs = [e.log("main") for e in es]
        results = await asyncio.gather(
            *(logs[i % 3].append(b"entry %d" % i, keys=[f"k{i % 7}"]) for i in range(900))
        )
        # Entries sequenced by one engine are readable and provable through another.
        last = max(results, key=lambda r: r.index)
        reader = logs[(results.index(last) + 1) % 3]
        head = await reader.latest()
        proof = await reader.inclusion_proof(last.index, head.size)
        entry = await reader.get_entry(last.index)
        cons = await reader.consistency_proof(1, head.size)
        k3 = await reader.lookup("k3")
        tiles = await reader.read_tile(-1, 0, min(256, head.size))
        await asyncio.gather(*(e.close() for e in es))
        return results, head, last, proof, entry, cons, k3, tiles

    results, head, last, proof, entry, cons, k3, tiles = run(go())
    assert sorted(r.index for r in results) == list(range(1, 901))
    assert head.size == 901 and open_checkpoint(head.note, [verifier]).size == 901
    for r in results:
        verify_inclusion(r.index, r.checkpoint.size, r.leaf_hash, r.proof, r.checkpoint.root_hash)
    verify_inclusion(last.index, head.size, last.leaf_hash, proof, head.root_hash)
    assert leaf_hash(entry) == last.leaf_hash
    verify_consistency(1, head.size, cons, leaf_hash(b"genesis"), head.root_hash)
    assert k3 == sorted(r.index for i, r in enumerate(results) if i % 7 == 3)
    assert split_bundle(tiles)[0] == b"genesis"


def test_the_same_entry_sent_to_two_engines_gets_one_index(engines):
    async def go():
        a, b = engines(2)
        await a.start()
        await b.start()
        ra, rb = await asyncio.gather(a.log("main").append(b"same"), b.log("main").append(b"same"))
        await a.close()
        await b.close()
        return ra, rb

    ra, rb = run(go())
    assert ra.index == rb.index == 1
    assert sorted([ra.duplicate, rb.duplicate]) == [False, True]


def test_a_reader_engine_sees_sizes_only_another_engine_committed(engines):
    async def go():
        a, b = engines(2)
        await a.start()
        await b.start()
        rs = await asyncio.gather(*(a.log("main").append(b"a%d" % i) for i in range(300)))
        size = max(r.checkpoint.size for r in rs)
        lb = b.log("main")
        proof = await lb.inclusion_proof(299, size)  # b never sequenced: size only in storage
        tile = await lb.read_path("tile/0/000.p/44")
        with pytest.raises(NotFound):
            await lb.inclusion_proof(0, size + 1)
        await a.close()
        await b.close()
        return rs, size, proof, tile

    rs, size, proof, tile = run(go())
    r = next(r for r in rs if r.index == 299)
    top = max(rs, key=lambda x: x.checkpoint.size).checkpoint
    verify_inclusion(299, size, r.leaf_hash, proof, top.root_hash)
    by_index = {x.index: x.leaf_hash for x in rs}
    assert tile[0] == leaf_hash(b"genesis") + b"".join(by_index[i] for i in range(1, 44))


def test_the_sequencer_lease_is_held_by_one_storage_at_a_time(pg_dsn, schema):
    a = PostgresStorage(pg_dsn, schema=schema, application_name="lease-a")
    b = PostgresStorage(pg_dsn, schema=schema, application_name="lease-b")
    events: list[str] = []
    a_has_it = threading.Event()
    release = threading.Event()

    def hold_a():
        with a.sequencer_lease("main"):
            events.append("a in")
            a_has_it.set()
            release.wait(5)
            events.append("a out")

    def take_b():
        a_has_it.wait(5)
        with b.sequencer_lease("main"):
            events.append("b in")

    ta, tb = threading.Thread(target=hold_a), threading.Thread(target=take_b)
    ta.start()
    tb.start()
    a_has_it.wait(5)
    deadline = time.monotonic() + 10
    while True:  # until b is queued behind a (PostgreSQL shows the wait in pg_locks)
        holders = _sql(
            pg_dsn,
            schema,
            "SELECT a.application_name, l.granted FROM pg_locks l JOIN pg_stat_activity a"
            " ON a.pid = l.pid WHERE l.locktype = 'advisory' ORDER BY l.granted DESC",
        )
        if len(holders) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    other = PostgresStorage(pg_dsn, schema=schema + "_other")  # another log namespace
    with other.sequencer_lease("main"):  # a different key: not blocked
        pass
    release.set()
    ta.join(5)
    tb.join(5)
    a.close()
    b.close()
    other.close()
    assert events == ["a in", "a out", "b in"]
    assert holders == [("lease-a:writer", True), ("lease-b:writer", False)]


def test_a_writer_that_lost_the_race_is_fenced_by_the_size_check(engines, pg_dsn, schema):
    async def go():
        (e,) = engines(1)
        await e.start()
        await e.log("main").append(b"one")
        await e.close()

    run(go())
    s = PostgresStorage(pg_dsn, schema=schema)
    head = s.load_head("main")
    assert head is not None and head.size == 2
    stale = BatchWrite(
        "main",
        1,
        TreeHead(2, b"\x01" * 32, "forged", 1),
        {(0, 0): b"x" * 64},
        [(b"\x02" * 32, 1)],
        [],
    )
    with s.sequencer_lease("main"), pytest.raises(StaleHead):
        s.commit(stale)
    assert s.load_head("main") == head
    assert s.find_leaves("main", [b"\x02" * 32]) == {}
    s.close()


def test_a_batch_that_fails_midway_leaves_nothing(engines, pg_dsn, schema):
    async def go():
        (e,) = engines(1)
        await e.start()
        await e.close()

    run(go())
    s = PostgresStorage(pg_dsn, schema=schema)
    head = s.load_head("main")
    tiles_before = sorted(s.tile_sizes("main"))
    # A NUL byte cannot be stored in a text column: the search insert fails after the head,
    # tiles and leaves were written in the same transaction.
    bad = BatchWrite(
        "main",
        1,
        TreeHead(2, b"\x01" * 32, "n", 2),
        {(0, 0): b"y" * 64},
        [(b"\x03" * 32, 1)],
        [("bad\x00key", 1)],
    )
    with pytest.raises(InternalError, match="commit failed"), s.sequencer_lease("main"):
        s.commit(bad)
    assert s.load_head("main") == head
    assert sorted(s.tile_sizes("main")) == tiles_before
    assert s.find_leaves("main", [b"\x03" * 32]) == {}
    s.close()


def test_appends_survive_the_server_dropping_every_connection(engines, pg_dsn):
    async def go():
        (e,) = engines(1, batch_interval=0.02)
        await e.start()
        lg = e.log("main")
        first = await asyncio.gather(*(lg.append(b"before %d" % i) for i in range(50)))
        with psycopg.connect(pg_dsn, autocommit=True) as c:
            n = c.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name LIKE 'test-0:%'"
            ).fetchone()[0]
        outcomes = []
        for i in range(20):  # the first batch after the cut may fail (not acknowledged)
            try:
                outcomes.append(await lg.append(b"after %d" % i))
            except Exception as exc:  # recorded and checked below
                outcomes.append(exc)
        await e.close()
        return first, n, outcomes

    first, n, outcomes = run(go())
    assert n >= 2  # writer and at least one reader connection were cut
    acked = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(acked) >= 19 and outcomes[-1].index == max(a.index for a in acked)
    assert len({a.index for a in acked} | {r.index for r in first}) == len(acked) + 50


def test_commits_are_synchronous_even_if_the_database_default_is_not(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as c:
        c.execute("DROP DATABASE IF EXISTS async_default")
        c.execute("CREATE DATABASE async_default")
        c.execute("ALTER DATABASE async_default SET synchronous_commit = off")
    s = PostgresStorage(pg_dsn.rsplit("/", 1)[0] + "/async_default")
    assert s._writer_conn().execute("SHOW synchronous_commit").fetchone() == ("on",)
    assert s._reader().execute("SHOW synchronous_commit").fetchone() == ("off",)
    s.close()


def test_start_without_create_refuses_an_empty_database(pg_dsn, schema):
    with pytest.raises(InternalError, match="no sceau log tables"):
        PostgresStorage(pg_dsn, schema=schema, create=False)


def _fill(engines, n: int):
    async def go():
        (e,) = engines(1)
        await e.start()
        await asyncio.gather(*(e.log("main").append(b"entry-%d" % i) for i in range(n)))
        await e.close()

    run(go())


def _start_fails(engines) -> str:
    async def go():
        (e,) = engines(1)
        try:
            await e.start(create=False)
        finally:
            e.storage.close()

    with pytest.raises(InternalError) as e:
        run(go())
    return e.value.message


@pytest.mark.parametrize(
    "damage, expect",
    [
        (
            "UPDATE tiles SET data = substring(data from 1 for 40) WHERE level = 0 AND idx = 1",
            "tile 0/1",
        ),
        (
            "UPDATE tiles SET data = decode(repeat('00', 8192), 'hex') WHERE level = 0 AND idx = 0",
            "tile 0/0",
        ),
        ("DELETE FROM tiles WHERE level = 1", "missing"),
        (
            "UPDATE tiles SET data = substring(data from 1 for 50) WHERE level = -1 AND idx = 1",
            "truncated",
        ),
        ("UPDATE logs SET size = size + 1", "damaged"),
        ("UPDATE logs SET root = decode(repeat('00', 32), 'hex')", "root hash"),
        ("UPDATE logs SET note = replace(note, 'log.example.test', 'evil')", "checkpoint"),
    ],
)
def test_corrupt_state_in_postgres_is_detected_at_start(engines, pg_dsn, schema, damage, expect):
    _fill(engines, 300)
    _sql(pg_dsn, schema, damage)
    message = _start_fails(engines)
    assert "damaged" in message and expect in message


def test_entry_swapped_in_the_edge_bundle_is_detected(engines, pg_dsn, schema):
    _fill(engines, 300)
    (data,) = _sql(pg_dsn, schema, "SELECT data FROM tiles WHERE level=-1 AND idx=1")[0]
    entries = split_bundle(bytes(data))
    entries[3] = b"entry-999"
    swapped = b"".join(len(e).to_bytes(2, "big") + e for e in entries)
    with psycopg.connect(pg_dsn, autocommit=True) as c:
        c.execute(f'SET search_path TO "{schema}"')
        c.execute("UPDATE tiles SET data=%s WHERE level=-1 AND idx=1", (swapped,))
    assert "does not match its leaf hash" in _start_fails(engines)


def test_root_of_stored_leaves_matches_the_head(engines, pg_dsn, schema):
    _fill(engines, 600)
    rows = _sql(pg_dsn, schema, "SELECT data FROM tiles WHERE level=-1 ORDER BY idx")
    entries = [e for (d,) in rows for e in split_bundle(bytes(d))]
    ((root, size),) = _sql(pg_dsn, schema, "SELECT root, size FROM logs WHERE name='main'")
    assert size == len(entries) == 601
    assert tree_root([leaf_hash(e) for e in entries]) == bytes(root)


def test_migrate_copies_a_sqlite_log_verbatim_and_it_goes_on_in_postgres(
    tmp_path, pg_dsn, schema, log_key, verifier
):
    from sceau.errors import Conflict
    from sceau.log.migrate import migrate_sqlite_to_postgres
    from sceau.log.sqlite import SQLiteStorage

    def engine(storage) -> LogEngine:
        e = LogEngine(storage, batch_interval=0.01)
        e.add_log(LogConfig("main", ORIGIN, [note_signer(ORIGIN, log_key)], genesis=b"genesis"))
        e.add_log(LogConfig("empty", "empty.example.test", [note_signer(ORIGIN, log_key)]))
        return e

    async def fill():
        e = engine(SQLiteStorage(tmp_path / "log.sqlite"))
        await e.start()
        lg = e.log("main")
        rs = await asyncio.gather(*(lg.append(b"e%d" % i, keys=[f"k{i % 3}"]) for i in range(600)))
        head = await lg.latest()
        await e.close()
        return rs, head

    rs, head = run(fill())
    lines: list[str] = []
    copied = migrate_sqlite_to_postgres(
        tmp_path / "log.sqlite", pg_dsn, schema=schema, progress=lines.append
    )
    assert [(m.name, m.size) for m in copied] == [("main", 601), ("empty", 0)]
    assert copied[0].rows["leaves"] == 601 and copied[0].rows["search"] == 600
    with pytest.raises(Conflict, match="already exists"):
        migrate_sqlite_to_postgres(tmp_path / "log.sqlite", pg_dsn, schema=schema)

    async def go_on():
        e = engine(PostgresStorage(pg_dsn, schema=schema))
        await e.start(create=False)  # the full start-up check passes on the copy
        lg = e.log("main")
        same = await lg.latest()
        r = await lg.append(b"after the move")
        dup = await lg.append(b"e7")
        proof = await lg.consistency_proof(head.size, r.checkpoint.size)
        k1 = await lg.lookup("k1")
        await e.close()
        return same, r, dup, proof, k1

    same, r, dup, proof, k1 = run(go_on())
    assert same == head and r.index == 601
    assert dup.duplicate and dup.index == next(x.index for x in rs if x.leaf_hash == dup.leaf_hash)
    verify_consistency(head.size, r.checkpoint.size, proof, head.root_hash, r.checkpoint.root_hash)
    assert open_checkpoint(r.checkpoint.note, [verifier]).size == 602
    assert k1 == sorted(x.index for i, x in enumerate(rs) if i % 3 == 1)


def test_migrate_refuses_a_database_in_use(tmp_path, pg_dsn, schema):
    from sceau.errors import Conflict
    from sceau.log.migrate import migrate_sqlite_to_postgres
    from sceau.log.sqlite import SQLiteStorage

    s = SQLiteStorage(tmp_path / "busy.sqlite")
    try:
        with pytest.raises(Conflict, match="in use"):
            migrate_sqlite_to_postgres(tmp_path / "busy.sqlite", pg_dsn, schema=schema)
    finally:
        s.close()


def test_migrate_command_reads_the_instance_config(tmp_path, pg_dsn, schema, capsys):
    import argparse

    from sceau.cli import migrate as cli
    from sceau.log.sqlite import SQLiteStorage

    (tmp_path / "sceau.toml").write_text('[storage]\ndriver = "sqlite"\npath = "data/x.sqlite"\n')
    SQLiteStorage(tmp_path / "data" / "x.sqlite").close()
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--dir", str(tmp_path), "--to", pg_dsn, "--schema", schema])
    assert cli.run(args) == 0
    assert "copied and verified 0 log(s)" in capsys.readouterr().out
    target = PostgresStorage(pg_dsn, schema=schema, create=False)  # the tables exist now
    assert target.load_head("main") is None
    target.close()


@pytest.fixture(scope="module")
def pg_replica(pg_dsn):
    """A real hot standby streaming from the session's cluster."""
    from tests.pg import RUNNING

    standby = RUNNING[pg_dsn].start_replica()
    try:
        yield standby.dsn
    finally:
        standby.stop()


def test_reads_from_a_lagging_replica_never_give_stale_answers(
    pg_dsn, pg_replica, schema, log_key, verifier
):
    def replay(on: bool) -> None:
        with psycopg.connect(pg_replica, autocommit=True) as c:
            c.execute("SELECT pg_wal_replay_resume()" if on else "SELECT pg_wal_replay_pause()")

    def replica_has(rows: int) -> None:
        deadline = time.monotonic() + 20
        with psycopg.connect(pg_replica, autocommit=True) as c:
            while time.monotonic() < deadline:
                try:
                    n = c.execute(f'SELECT count(*) FROM "{schema}".search').fetchone()[0]  # noqa: S608
                    if n >= rows:
                        return
                except psycopg.errors.UndefinedTable:
                    pass
                time.sleep(0.05)
        raise AssertionError("the replica did not catch up")

    async def go():
        storage = PostgresStorage(pg_dsn, schema=schema, read_dsn=pg_replica)
        replica_has(0)  # the tables exist there too
        e = LogEngine(storage, batch_interval=0.01)
        e.add_log(LogConfig("main", ORIGIN, [note_signer(ORIGIN, log_key)], genesis=b"g"))
        await e.start()
        lg = e.log("main")
        first = await asyncio.gather(*(lg.append(b"a%d" % i, keys=["a"]) for i in range(600)))
        replica_has(600)
        replay(False)  # freeze the replica, then write more
        try:
            more = await asyncio.gather(*(lg.append(b"b%d" % i, keys=["b"]) for i in range(300)))
            head = await lg.latest()
            # Proofs and entries at the newest size: full tiles from the replica, the new
            # and partial ones from the primary.
            proofs = await lg.inclusion_proofs(range(head.size), head.size)
            entries = await lg.get_entries(0, head.size)
            stale_b = await lg.lookup("b")  # search lags with the replica
        finally:
            replay(True)
        deadline = time.monotonic() + 10
        while len(await lg.lookup("b")) < 300 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        fresh_b = await lg.lookup("b")
        with psycopg.connect(pg_replica, autocommit=True) as c:
            replica_readers = c.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = 'sceau:replica-reader'"
            ).fetchone()[0]
        await e.close()
        return first + more, head, proofs, entries, stale_b, fresh_b, replica_readers

    results, head, proofs, entries, stale_b, fresh_b, replica_readers = run(go())
    assert head.size == 901 and open_checkpoint(head.note, [verifier]).size == 901
    leaves = [leaf_hash(x) for x in entries]
    assert tree_root(leaves) == head.root_hash
    for i, proof in enumerate(proofs):
        verify_inclusion(i, head.size, leaves[i], proof, head.root_hash)
    assert len(stale_b) < 300 and fresh_b == sorted(r.index for r in results[600:])
    assert replica_readers >= 1


def test_the_log_recovers_when_the_database_comes_back(tmp_path, log_key):
    """The database stops under a running engine: appends fail (503), nothing hangs, and
    once it is back the same engine goes on without a restart."""
    from sceau.errors import Overloaded
    from tests.pg import Cluster

    cluster = Cluster()
    dsn = cluster.start()

    async def go():
        e = LogEngine(PostgresStorage(dsn, connect_timeout_s=2), batch_interval=0.01)
        e.add_log(LogConfig("main", ORIGIN, [note_signer(ORIGIN, log_key)], genesis=b"g"))
        await e.start()
        lg = e.log("main")
        before = await lg.append(b"before")
        cluster.stop_server()
        with pytest.raises(Overloaded):
            await asyncio.wait_for(lg.append(b"while down"), 20)
        cluster.start_server()
        after = await asyncio.wait_for(lg.append(b"after"), 20)
        again = await asyncio.wait_for(lg.append(b"while down"), 20)
        await e.close()
        return before, after, again

    try:
        before, after, again = run(go())
    finally:
        cluster.stop()
    assert (before.index, after.index, again.index) == (1, 2, 3)
