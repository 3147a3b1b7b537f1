"""Search across the instance's logs: one parsed query → entries, a page at a time.

Each index lookup is limited to the entries the requested page needs (at most
``MAX_PAGE * PAGE_SIZE + 1``), results are in log order per log (Rekor v1, Rekor v2, CT).
"""

from __future__ import annotations

from dataclasses import dataclass

from sceau.services.explorer.catalog import Catalog, LogView, Record
from sceau.services.explorer.query import PAGE_SIZE, Query


@dataclass(frozen=True)
class Results:
    query: Query
    page: int
    records: list[Record]
    more: bool


async def _terms(
    catalog: Catalog, views: list[LogView], term: str, need: int
) -> list[tuple[LogView, int]]:
    out = []
    for view in views:
        out += [(view, i) for i in await view.log.lookup(term, need)]
    return out


async def _hits(catalog: Catalog, q: Query, need: int) -> list[tuple[LogView, int]]:
    rekor = catalog.rekor()
    if q.kind == "index":
        index = int(q.value)
        return [(v, index) for v in catalog.views if index < await catalog.size(v)]
    if q.kind == "sha256":
        found = await catalog.find_uuid(bytes.fromhex(q.value))
        found += await _terms(catalog, rekor, f"hash:sha256:{q.value}", need)
        found += await _terms(catalog, rekor, f"key:{q.value}", need)
        return found
    if q.kind == "entry_id":
        return await catalog.find_uuid(bytes.fromhex(q.value[16:]), only="rekor-v1")
    if q.kind == "digest":
        return await _terms(catalog, rekor, f"hash:{q.algorithm}:{q.value}", need)
    if q.kind == "email":
        return await _terms(catalog, rekor, f"email:{q.value}", need)
    if q.kind == "identity":
        return await _terms(catalog, rekor, f"subject:{q.value}", need)
    if q.kind == "serial":
        return await _terms(catalog, catalog.views, f"serial:{q.value}", need)
    return []


async def search(catalog: Catalog, q: Query, page: int) -> Results:
    need = page * PAGE_SIZE + 1
    seen: dict[tuple[str, int], tuple[LogView, int]] = {}
    for view, index in await _hits(catalog, q, need):
        seen.setdefault((view.name, index), (view, index))
    order = {v.name: n for n, v in enumerate(catalog.views)}
    hits = sorted(seen.values(), key=lambda h: (order[h[0].name], h[1]))
    window = hits[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    records = [await catalog.record(view, index, full=False) for view, index in window]
    return Results(q, page, records, more=len(hits) > page * PAGE_SIZE)
