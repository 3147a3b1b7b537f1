"""Benchmark: ``sceau backup`` of an instance with a large log, against a plain file copy.

Makes an instance, appends ``--entries`` entries (default 500,000, each 600 bytes like a
hashedrekord body) to its Rekor v1 log through the engine, then times:

1. ``cp -a`` of the instance directory (the baseline: what copying the files costs here,
   though a copy of a live SQLite database is not consistent);
2. ``sceau backup`` (SQLite's backup API: one consistent snapshot, fsynced, renamed);
3. ``sceau check`` of the backup (re-hashes every entry and looks up every leaf).

    .venv/bin/python bench/backup.py [--entries 500000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path


def _fill(directory: Path, entries: int) -> None:
    from sceau.config import InstanceConfig
    from sceau.instance.app import log_engine

    engine = log_engine(InstanceConfig.load(directory))

    async def fill() -> None:
        await engine.start(create=False)
        log = engine.log("rekor-v1")
        chunk = 20_000
        for start in range(0, entries, chunk):
            await asyncio.gather(
                *(log.append(os.urandom(600)) for _ in range(min(chunk, entries - start)))
            )
        await engine.close()

    asyncio.run(fill())


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=500_000)
    args = parser.parse_args()
    from sceau.config import InstanceConfig
    from sceau.instance.backup import backup
    from sceau.instance.init import init_instance

    with tempfile.TemporaryDirectory(prefix="sceau-backup-bench-") as tmp:
        root = Path(tmp)
        init_instance(root / "instance")
        t0 = time.perf_counter()
        _fill(root / "instance", args.entries)
        size = _size(root / "instance")
        print(
            f"{args.entries:,} entries appended in {time.perf_counter() - t0:.1f} s; "
            f"instance {size / 1e6:.0f} MB"
        )
        t0 = time.perf_counter()
        subprocess.run(["cp", "-a", str(root / "instance"), str(root / "copy")], check=True)
        subprocess.run(["sync"], check=True)
        copy = time.perf_counter() - t0
        shutil.rmtree(root / "copy")
        t0 = time.perf_counter()
        report = backup(InstanceConfig.load(root / "instance"), root / "backup")
        took = time.perf_counter() - t0
        t0 = time.perf_counter()
        check = subprocess.run(
            ["sceau", "check", "--dir", str(root / "backup")], capture_output=True, text=True
        )
        checked = time.perf_counter() - t0
        if check.returncode != 0:
            raise SystemExit(f"sceau check refused the backup: {check.stderr}")
        print(f"cp -a + sync:   {copy:6.2f} s  ({size / 1e6 / copy:.0f} MB/s)")
        print(
            f"sceau backup:   {took:6.2f} s  ({size / 1e6 / took:.0f} MB/s; "
            f"{len(report.databases)} databases, {report.files} files)"
        )
        print(f"backup / copy:  {took / copy:.2f}x")
        print(f"sceau check of the backup: {checked:.1f} s (every entry re-hashed)")


if __name__ == "__main__":
    main()
