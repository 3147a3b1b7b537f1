"""An open-loop HTTP load generator: requests go out on a schedule, whatever the server does.

A closed-loop tool (wrk, or N clients each waiting for its answer) slows down with the
server and so can never show what an overloaded server does to the requests it accepts;
and refusals come back fast, so closed-loop clients turn them into more offered load.
Here each request has a due time (``rate`` per second), latency is measured from that due
time (no coordinated omission), and the generator reports when it could not keep up.

Raw HTTP/1.1 over asyncio streams, keep-alive, one request in flight per connection:
cheap enough to offer a few thousand requests per second from one Python process.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Outcome:
    status: int  # 0: the connection failed
    latency: float  # seconds from the request's due time to the end of its response
    retry_after: bool
    body: bytes
    due: float = 0.0  # when the request was due, seconds after the run started


@dataclass
class LoadResult:
    offered_rate: float
    seconds: float
    outcomes: list[Outcome] = field(default_factory=list)
    late_starts: int = 0  # requests sent more than 50 ms after their due time

    def by_status(self) -> dict[int, int]:
        return dict(collections.Counter(o.status for o in self.outcomes))

    def latencies(self, *statuses: int) -> list[float]:
        return sorted(o.latency for o in self.outcomes if o.status in statuses)

    def accepted(self) -> list[Outcome]:
        return [o for o in self.outcomes if 200 <= o.status < 300]

    def refused(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == 503]


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def request_bytes(
    host: str, path: str, body: bytes, headers: dict[str, str] | None = None
) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    retry_after = False
    keep_alive = True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"retry-after":
            retry_after = True
        elif name == b"connection" and value.strip().lower() == b"close":
            keep_alive = False
    body = await reader.readexactly(length) if length else b""
    return status, retry_after, body, keep_alive


async def open_loop(
    host: str,
    port: int,
    path: str,
    bodies: Sequence[bytes],
    *,
    rate: float,
    seconds: float,
    max_connections: int = 6000,
    timeout: float = 30.0,
    preopen: int = 0,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """Send ``rate`` requests/s for ``seconds`` (body i = ``bodies[i]``, so give at least
    ``rate * seconds`` distinct ones) and wait for every answer."""
    netloc = f"{host}:{port}"
    requests = [request_bytes(netloc, path, b, headers) for b in bodies]
    total = int(rate * seconds)
    if total > len(requests):
        raise ValueError(f"need {total} distinct bodies, got {len(requests)}")
    idle: collections.deque[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = collections.deque()
    result = LoadResult(rate, seconds)
    open_count = 0
    tasks: list[asyncio.Task[None]] = []

    async def one(i: int, due: float) -> None:
        nonlocal open_count
        conn = idle.pop() if idle else None
        try:
            if conn is None:
                open_count += 1
                conn = await asyncio.open_connection(host, port)
            reader, writer = conn
            writer.write(requests[i])
            status, retry_after, body, keep_alive = await asyncio.wait_for(
                _read_response(reader), timeout
            )
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            result.outcomes.append(Outcome(0, time.monotonic() - due, False, b"", due - start))
            if conn is not None:
                conn[1].close()
            open_count -= 1
            return
        result.outcomes.append(
            Outcome(status, time.monotonic() - due, retry_after, body, due - start)
        )
        if keep_alive:
            idle.append(conn)
        else:
            writer.close()
            open_count -= 1

    for conn in await asyncio.gather(
        *(asyncio.open_connection(host, port) for _ in range(preopen))
    ):
        idle.append(conn)
        open_count += 1
    start = time.monotonic()
    for i in range(total):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.05:
            result.late_starts += 1
        if not idle and open_count >= max_connections:
            result.outcomes.append(Outcome(0, 0.0, False, b"no connection free"))
            continue
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    for _, writer in idle:
        writer.close()
    return result


async def closed_loop(
    host: str,
    port: int,
    path: str,
    bodies: Sequence[bytes],
    *,
    connections: int,
    seconds: float,
    headers: dict[str, str] | None = None,
) -> tuple[float, int]:
    """Capacity: ``connections`` clients each sending its next request when the last is
    answered, for ``seconds``. Returns (successes per second, bodies used)."""
    netloc = f"{host}:{port}"
    next_body = 0
    ok = 0
    deadline = time.monotonic() + seconds

    async def client() -> None:
        nonlocal next_body, ok
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.monotonic() < deadline and next_body < len(bodies):
                body = bodies[next_body]
                next_body += 1
                writer.write(request_bytes(netloc, path, body, headers))
                try:
                    status, _, _, _ = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError):
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                ok += 200 <= status < 300
        finally:
            writer.close()

    begin = time.monotonic()
    await asyncio.gather(*(client() for _ in range(connections)))
    return ok / (time.monotonic() - begin), next_body
