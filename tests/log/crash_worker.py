"""Run by test_crash.py in a child process: append forever, report every acknowledgement.

Prints ``ACK <index> <leaf hash hex>`` after each append resolves (i.e. after its batch is
durable) and ``CP <size> <root hex>`` for each new checkpoint, flushing each line, until it
is killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from sceau.keys import load_signer
from sceau.log import LogConfig, LogEngine
from sceau.log.sqlite import SQLiteStorage
from sceau.note import note_signer

ORIGIN = "crash.example.test"


async def main(db: Path, key: Path, prefix: str) -> None:
    # Small leaf-index runs: background merges are in flight when the kill lands.
    engine = LogEngine(SQLiteStorage(db, leaf_run=1000), batch_interval=0.01, batch_size=512)
    engine.add_log(LogConfig("main", ORIGIN, [note_signer(ORIGIN, load_signer(key))]))
    await engine.start()
    lg = engine.log("main")
    seen: set[int] = set()
    out = sys.stdout

    async def writer(w: int) -> None:
        i = 0
        while True:
            r = await lg.append(f"{prefix}-{w}-{i}".encode())
            out.write(f"ACK {r.index} {r.leaf_hash.hex()}\n")
            if r.checkpoint.size not in seen:
                seen.add(r.checkpoint.size)
                out.write(f"CP {r.checkpoint.size} {r.checkpoint.root_hash.hex()}\n")
            out.flush()
            i += 1

    await asyncio.gather(*(writer(w) for w in range(64)))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]))
