"""Admission control at the door: shed load before it costs CPU, bound unfinished bodies.

Every write (any POST) passes through :class:`AdmissionMiddleware` before a handler runs:

1. **Body memory.** The body is read here, against a per-process budget of bytes held
   for requests not yet answered (``[http] body_budget``). A request whose declared length
   does not fit is answered 503 before a byte of its body is read; one without a declared
   length reserves as it reads. A hundred slow clients each sending 4 MB can no longer take
   the process's memory with them.
2. **Latency budget.** Once the body is in, and before anything parses or verifies it, the
   request is admitted only while the server keeps admitted work within the latency
   budget (:class:`LatencyGate`). Otherwise: 503 with ``Retry-After``, having spent almost
   no CPU on it — so accepted requests keep a bounded latency however much is offered, and
   refused ones come back at once instead of timing out.

Capacity is measured, not configured: the gate starts at ``min_in_flight`` requests in
flight and finds the server's limit from the latencies it observes.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from sceau.config import read_numbers
from sceau.errors import InputError, Overloaded, PayloadTooLarge, SceauError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})
ARRIVAL_KEY = "sceau.arrival"  # scope["state"] key: time.monotonic() at the request's first byte
GATE_KEY = "sceau.admission"  # lifespan state key: the app's LatencyGate, for the protocol


@dataclass(frozen=True)
class AdmissionSettings:
    """``[http]`` keys (docs/configuration.md)."""

    latency_budget: float = 2.0  # seconds an admitted write may wait in the queue at most
    body_budget: int = 64 * 1024 * 1024  # bytes of request bodies held at once, per process
    max_body: int = 4 * 1024 * 1024  # no write body is larger than this (handlers set less)
    min_in_flight: int = 16  # admitted before any throughput is measured

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> AdmissionSettings:
        spec = (
            ("latency_budget", float, 0.01),
            ("body_budget", int, 1024),
            ("max_body", int, 1024),
            ("min_in_flight", int, 1),
        )
        return cls(**read_numbers(section, "http", spec))


class LatencyGate:
    """Admits work while the work admitted finishes within ``budget`` seconds.

    The limit on requests in flight adapts to what the server does, not to a configured
    capacity: every ``window`` seconds the slowest recent completion (queueing included,
    from the request's arrival) is compared with the budget — over three quarters of it,
    the limit shrinks by a quarter; under 40 % with the gate full, it grows by a fifth. A
    request that reaches the gate already half a budget old while the server is busy is
    refused at once: it would finish late, and refusing it is what drains the backlog.
    ``rate`` (completions per second while busy) only sizes the Retry-After."""

    def __init__(
        self,
        budget: float,
        min_in_flight: int,
        *,
        window: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.budget = budget
        self.min_in_flight = min_in_flight
        self.window = window
        self.clock = clock
        self.in_flight = 0
        self.limit = float(min_in_flight)
        self.rate = 0.0
        # How late the event loop runs (set by :meth:`watch_loop`): a request's bytes wait
        # about that long in the kernel before the server even sees them.
        self.lag = 0.0
        self._window_start = clock()
        self._completed = 0
        self._slowest = 0.0
        self._full = False

    def refusal(self) -> int | None:
        """Seconds to tell a new request to wait if it would be refused right now (the
        server protocol's check at header time, before a task or body exists), else None."""
        if self.in_flight >= int(self.limit) or (self._busy() and self.lag > self.budget / 2):
            self._full = True
            wait = self.in_flight / self.rate if self.rate else self.budget
            return max(1, math.ceil(wait + self.lag))
        return None

    def enter(self, arrival: float | None = None) -> None:
        """Admit one request (that arrived at ``arrival``, by :attr:`clock`), or raise
        :class:`Overloaded` with a Retry-After saying when the queue will have drained."""
        now = self.clock()
        self._roll(now)
        stale = self._busy() and arrival is not None and now - arrival + self.lag > self.budget / 2
        if stale or self.in_flight >= int(self.limit):
            self._full = True
            wait = self.in_flight / self.rate if self.rate else self.budget
            raise Overloaded(
                "the server is at capacity, retry later", retry_after=max(1, math.ceil(wait))
            )
        self.in_flight += 1
        if self.in_flight >= 0.8 * self.limit:
            self._full = True

    def _busy(self) -> bool:
        """Lag and waiting are ours to shed only when our own work causes them: with few
        requests in flight, a slow loop (a loaded machine, a long GC) is no reason to refuse
        the one request that came."""
        return self.in_flight >= max(1, self.min_in_flight // 2)

    def leave(self, arrival: float) -> None:
        """One admitted request is done; it arrived at ``arrival``."""
        now = self.clock()
        self.in_flight -= 1
        self._completed += 1
        self._slowest = max(self._slowest, now - arrival + self.lag)
        self._roll(now)

    async def watch_loop(self, period: float = 0.02) -> None:
        """Measure the event loop's lag for ever (a task): how much later than asked a
        short sleep wakes up, the worst of the last few, decaying."""
        while True:
            asked = self.clock()
            await asyncio.sleep(period)
            late = max(0.0, self.clock() - asked - period)
            self.lag = max(late, self.lag * 0.8)

    def _roll(self, now: float) -> None:
        elapsed = now - self._window_start
        if elapsed < self.window:
            return
        if self._completed:
            sample = self._completed / elapsed
            self.rate = sample if not self.rate else 0.7 * self.rate + 0.3 * sample
        if self._slowest > 0.75 * self.budget:
            self.limit = max(float(self.min_in_flight), self.limit * 0.75)
        elif self._full and self._completed and self._slowest < 0.4 * self.budget:
            self.limit = self.limit * 1.2 + 1
        self._window_start = now
        self._completed = 0
        self._slowest = 0.0
        self._full = self.in_flight >= 0.8 * self.limit


class BodyBudget:
    """Bytes of request bodies this process holds for requests not yet answered."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def take(self, n: int) -> None:
        if self.held + n > self.limit:
            raise Overloaded("too many request bodies in progress, retry later", retry_after=1)
        self.held += n

    def give_back(self, n: int) -> None:
        self.held -= n


class _Disconnected(Exception):
    """The client went away while sending its body: there is no one to answer."""


class AdmissionMiddleware:
    """ASGI middleware applying :class:`BodyBudget` and :class:`ThroughputGate` to writes."""

    def __init__(self, app: ASGIApp, settings: AdmissionSettings, gate: LatencyGate) -> None:
        self.app = app
        self.settings = settings
        self.gate = gate
        self.bodies = BodyBudget(settings.body_budget)
        self._watcher: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        if self._watcher is None or self._watcher.done():  # on this process's event loop
            self._watcher = asyncio.get_running_loop().create_task(self.gate.watch_loop())
        held = 0
        admitted = False
        # When the server first saw the request (GuardedHttpToolsProtocol), else now.
        arrival = scope.get("state", {}).get(ARRIVAL_KEY) or self.gate.clock()
        try:
            try:
                body, held = await self._read_body(scope, receive)
                self.gate.enter(arrival)
                admitted = True
            except _Disconnected:
                return
            except SceauError as e:
                await _answer(e, scope, receive, send)
                return
            await self.app(scope, _replay(body, receive), send)
        finally:
            if admitted:
                self.gate.leave(arrival)
            self.bodies.give_back(held)

    async def _read_body(self, scope: Scope, receive: Receive) -> tuple[bytes, int]:
        """The whole body, with the bytes it holds in the budget (the caller gives them
        back). Raises before reading when the declared length cannot be held."""
        limit = self.settings.max_body
        declared = _content_length(scope)
        held = 0
        try:
            if declared is not None:
                if declared > limit:
                    raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
                self.bodies.take(declared)
                held = declared
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Disconnected
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
                if size > held:  # no (or a lying) Content-Length: reserve as it comes
                    self.bodies.take(size - held)
                    held = size
                if chunk:
                    chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks), held
        except BaseException:
            self.bodies.give_back(held)
            raise


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit():
                raise InputError("Content-Length is not a number")
            return int(value)
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that yields the already-read body once, then whatever the client sends
    next (only ever a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(error: SceauError, scope: Scope, receive: Receive, send: Send) -> None:
    from sceau.services._http import error_response

    await error_response(error)(scope, receive, send)
