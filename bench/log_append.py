"""Benchmark: durable in-process appends/s of the log engine vs raw batched SQLite inserts.

Prints, from one run on one disk:
- the engine's durable appends/s (many concurrent tasks, each append awaited until its
  batch is committed and its proof computed),
- the raw SQLite rate for batched inserts of rows of the same size (WAL, synchronous=FULL,
  the engine's batch size per transaction) — the ceiling the engine is compared with,
- the ratio, and the engine's resident memory at 100k and 1M entries (flat in log size).

The engine runs on uvloop, as under ``sceau serve``.

    .venv/bin/python bench/log_append.py [--entries 200000] [--entry-size 300] [--skip-memory]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sceau.keys import generate_signer
from sceau.log import LogConfig, LogEngine
from sceau.log.sqlite import SQLiteStorage
from sceau.note import note_signer

ORIGIN = "bench.example.test"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def engine_rate(
    db: Path, entries: int, entry_size: int, writers: int, batch: int, report_at=()
) -> tuple[float, dict[int, float]]:
    engine = LogEngine(
        SQLiteStorage(db), batch_interval=0.02, batch_size=batch, max_pending=writers * 2
    )
    engine.add_log(LogConfig("main", ORIGIN, [note_signer(ORIGIN, generate_signer("ed25519"))]))
    await engine.start()
    lg = engine.log("main")
    pad = os.urandom(entry_size)
    per_writer = entries // writers
    memory: dict[int, float] = {}
    done = 0
    marks = sorted(report_at)

    async def writer(w: int) -> None:
        nonlocal done
        prefix = b"%08d" % w
        for i in range(per_writer):
            await lg.append(prefix + i.to_bytes(8, "big") + pad[16:])
            done += 1
            if marks and done >= marks[0]:
                memory[marks.pop(0)] = rss_mb()

    start = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    elapsed = time.perf_counter() - start
    await engine.close()
    with sqlite3.connect(db) as conn:
        (batches,) = conn.execute("SELECT count(*) FROM batches").fetchone()
    memory["mean_batch"] = per_writer * writers / max(batches, 1)
    return per_writer * writers / elapsed, memory


def raw_sqlite_rate(db: Path, rows: int, row_size: int, batch: int, *, keyed: bool) -> float:
    """Rows/s of plain batched inserts, WAL + synchronous=FULL, ``batch`` rows per commit.

    ``keyed=False``: rows appended in rowid order (the cheapest possible insert).
    ``keyed=True``: rows keyed by a 32-byte hash, as a log that can find an entry by its
    leaf hash must index them (the engine's leaf index is such a table).
    """
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    if keyed:
        conn.execute("CREATE TABLE t (hash BLOB PRIMARY KEY, idx INTEGER, data BLOB) WITHOUT ROWID")
    else:
        conn.execute("CREATE TABLE t (idx INTEGER PRIMARY KEY, hash BLOB, data BLOB)")
    pad = os.urandom(row_size)
    start = time.perf_counter()
    for first in range(0, rows, batch):
        conn.execute("BEGIN")
        if keyed:
            values = [(os.urandom(32), i, pad) for i in range(first, min(first + batch, rows))]
        else:
            values = [(i, os.urandom(32), pad) for i in range(first, min(first + batch, rows))]
        conn.executemany("INSERT INTO t VALUES (?,?,?)", values)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return rows / elapsed


def run(coro):  # type: ignore[no-untyped-def]
    """Run on uvloop, the event loop ``sceau serve`` runs on (uvicorn[standard])."""
    import uvloop

    return uvloop.run(coro)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=200_000)
    ap.add_argument("--entry-size", type=int, default=300)
    ap.add_argument("--writers", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        if args.memory_child:
            marks = (100_000, args.memory_child)
            _, mem = run(
                engine_rate(
                    Path(tmp) / "m.sqlite",
                    args.memory_child,
                    args.entry_size,
                    args.writers,
                    args.batch,
                    marks,
                )
            )
            print(" ".join(f"{k}:{v:.0f}" for k, v in mem.items() if k != "mean_batch"))
            return
        rate, stats = run(
            engine_rate(
                Path(tmp) / "e.sqlite", args.entries, args.entry_size, args.writers, args.batch
            )
        )
        # The comparison commits as many rows per transaction as the engine's batches had.
        per_commit = max(1, round(stats["mean_batch"]))
        raw = raw_sqlite_rate(
            Path(tmp) / "r.sqlite", args.entries, args.entry_size, per_commit, keyed=False
        )
        keyed = raw_sqlite_rate(
            Path(tmp) / "k.sqlite", args.entries, args.entry_size, per_commit, keyed=True
        )
    print(
        f"engine durable appends/s   : {rate:10,.0f}  (entries of {args.entry_size} B, "
        f"{args.writers} concurrent writers)"
    )
    print(
        f"raw SQLite batched inserts : {raw:10,.0f}  rows/s, rowid order "
        f"({args.batch} rows per commit)"
    )
    print(f"  ... keyed by leaf hash   : {keyed:10,.0f}  rows/s, 32-byte hash primary key")
    print(
        f"engine / raw (rowid)       : {rate / raw:10.2f}   (target >= 0.25; "
        f"engine target >= 20,000/s)"
    )
    print(f"engine / raw (hash-keyed)  : {rate / keyed:10.2f}")
    if not args.skip_memory:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--memory-child",
                "1000000",
                "--entry-size",
                str(args.entry_size),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        mem = dict(item.split(":") for item in out)
        print(f"engine RSS at 100k entries : {float(mem['100000']):10.0f} MB")
        print(f"engine RSS at 1M entries   : {float(mem['1000000']):10.0f} MB  (target < 300 MB)")


if __name__ == "__main__":
    main()
