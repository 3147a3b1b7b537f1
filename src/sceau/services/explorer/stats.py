"""Entries per hour over the last days, from the batch times the logs already keep.

No extra index: the log index at each hour boundary is found by bisection over
``entry_time`` (monotone in the index), splitting the hour range in halves so an hour
range with no entries costs nothing. Results are cached for ``TTL`` seconds, so a busy
explorer makes at most one such scan per log per minute.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sceau.log.api import LogAPI

HOUR_MS = 3_600_000
MAX_HOURS = 24 * 14
DEFAULT_HOURS = 24 * 7
TTL = 60.0


@dataclass(frozen=True)
class Series:
    """``counts[i]``: entries integrated in ``[start_ms + i h, start_ms + (i + 1) h)``."""

    start_ms: int
    counts: list[int]


async def _first_at_or_after(
    when: Callable[[int], Awaitable[int]], t: int, lo: int, hi: int
) -> int:
    """The first index in ``[lo, hi)`` integrated at or after ``t`` (``hi`` if none)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if await when(mid) >= t:
            hi = mid
        else:
            lo = mid + 1
    return lo


async def hourly(log: LogAPI, hours: int, now_ms: int) -> Series:
    size = (await log.latest()).size
    end = (now_ms // HOUR_MS + 1) * HOUR_MS  # the end of the current hour
    start = end - hours * HOUR_MS
    bounds = [start + h * HOUR_MS for h in range(hours + 1)]
    idx: list[int | None] = [None] * (hours + 1)
    idx[0] = await _first_at_or_after(log.entry_time, bounds[0], 0, size)
    idx[-1] = size

    async def fill(a: int, b: int) -> None:
        if b - a <= 1:
            return
        lo, hi = idx[a], idx[b]
        assert lo is not None and hi is not None
        mid = (a + b) // 2
        if lo == hi:
            for k in range(a + 1, b):
                idx[k] = lo
            return
        idx[mid] = await _first_at_or_after(log.entry_time, bounds[mid], lo, hi)
        await fill(a, mid)
        await fill(mid, b)

    await fill(0, hours)
    counts = [int(idx[k + 1] or 0) - int(idx[k] or 0) for k in range(hours)]
    return Series(start, counts)


class StatsCache:
    """One :class:`Series` per log, recomputed at most every ``TTL`` seconds."""

    def __init__(self, ttl: float = TTL) -> None:
        self.ttl = ttl
        self._cache: dict[tuple[str, int], tuple[float, Series]] = {}

    async def get(self, log: LogAPI, hours: int = DEFAULT_HOURS) -> Series:
        key = (log.name, hours)
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        series = await hourly(log, hours, int(time.time() * 1000))
        self._cache[key] = (now, series)
        return series
