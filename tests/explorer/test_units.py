"""The explorer's pure parts: query parsing and the hourly counts' bisection."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from sceau.services.explorer.query import BadQuery, parse_page, parse_query
from sceau.services.explorer.stats import HOUR_MS, hourly


@pytest.mark.parametrize(
    ("q", "kind", "value"),
    [
        ("Alice@Example.com", "email", "alice@example.com"),
        ("https://github.com/o/r/.github/workflows/w.yml@refs/heads/main", "identity",
         "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main"),
        ("A" * 64, "sha256", "a" * 64),
        ("b" * 80, "entry_id", "b" * 80),
        ("sha512:" + "C" * 128, "digest", "c" * 128),
        (" 42 ", "index", "42"),
        ("0", "index", "0"),
        ("serial:00:AB:cd", "serial", "abcd"),
    ],
)  # fmt: skip
def test_queries(q: str, kind: str, value: str) -> None:
    parsed = parse_query(q)
    assert (parsed.kind, parsed.value) == (kind, value)


@pytest.mark.parametrize(
    "q", ["", "   ", "abc", "sha256:abc", "9" * 20, "x" * 513, "a\x00b", "sha384:" + "a" * 64]
)
def test_bad_queries_say_why(q: str) -> None:
    with pytest.raises(BadQuery) as e:
        parse_query(q)
    assert len(e.value.message) > 20


def test_pages() -> None:
    assert parse_page(None) == 1 and parse_page("50") == 50
    for bad in ("0", "51", "-1", "1e3", "x", "00001"):
        with pytest.raises(BadQuery):
            parse_page(bad)


@dataclass
class Checkpoint:
    size: int


class TimedLog:
    """A log whose entry i was integrated at ``times[i]`` (ms), monotone; counts reads."""

    name = "timed"

    def __init__(self, times: list[int]) -> None:
        self.times = times
        self.reads = 0

    async def latest(self) -> Checkpoint:
        return Checkpoint(len(self.times))

    async def entry_time(self, index: int) -> int:
        self.reads += 1
        return self.times[index]


def test_hourly_counts_every_entry_in_its_hour() -> None:
    now = 1_000 * HOUR_MS + 1234
    # 3 entries 50 hours ago (outside a 48-hour window), then bursts in hours 10 and 47.
    start = (now // HOUR_MS + 1) * HOUR_MS - 48 * HOUR_MS
    times = [start - 2 * HOUR_MS] * 3
    times += [start + 10 * HOUR_MS + k for k in range(7)]
    times += [start + 47 * HOUR_MS + k for k in range(5)]
    log = TimedLog(times)
    series = asyncio.run(hourly(log, 48, now))  # type: ignore[arg-type]
    assert series.start_ms == start
    assert len(series.counts) == 48
    assert series.counts[10] == 7 and series.counts[47] == 5
    assert sum(series.counts) == 12
    assert log.reads < 120  # empty hour ranges cost nothing


def test_hourly_of_an_empty_window() -> None:
    log = TimedLog([0, 1, 2])
    series = asyncio.run(hourly(log, 24, 500 * HOUR_MS))  # type: ignore[arg-type]
    assert series.counts == [0] * 24
