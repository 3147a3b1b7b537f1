"""CT chains in PostgreSQL: what one API process stores, every other one reads."""

from __future__ import annotations

import asyncio
import os

from sceau.services.ct.extra import PostgresExtraStore
from tests.pg import fresh_schema


def test_chains_are_shared_durable_and_first_write_wins(pg_dsn):
    schema = fresh_schema("ct")

    async def go():
        a = PostgresExtraStore(pg_dsn, schema=schema)
        b = PostgresExtraStore(pg_dsn, schema=schema)  # another process, same database
        rows = {os.urandom(32): os.urandom(100) for _ in range(50)}
        await asyncio.gather(*(a.put(h, d) for h, d in rows.items()))  # one grouped write
        first = next(iter(rows))
        await b.put(first, b"a later, different chain")  # idempotent: the first one stays
        seen = await b.get_many([*rows, os.urandom(32)])
        await a.close()
        await b.close()
        return rows, seen

    rows, seen = asyncio.run(go())
    assert seen == rows
