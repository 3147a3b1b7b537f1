"""The HTTP server every ``sceau serve`` process runs: uvicorn, with limits an exposed
server needs and uvicorn lacks.

uvicorn waits forever for a request's headers and body, and accepts connections without
bound, so a few hundred slow clients (slowloris) hold memory and file descriptors for as
long as they like. :class:`GuardedHttpToolsProtocol` adds, per connection:

- a **header deadline**: the request line and headers must arrive within
  ``header_timeout`` of the connection (or of the previous response, on keep-alive) —
  else 408 and close;
- a **body deadline**: once the headers are in, the whole body must arrive within
  ``body_timeout`` — else 408 and close (the handler sees a disconnect);
- a **connection cap** per process: past ``max_connections`` a new connection is answered
  503 and closed at once, before anything is read.

The bytes of unfinished bodies are bounded by :mod:`sceau.services.admission`, which reads
bodies before any handler runs. Keep-alive idle time stays uvicorn's ``timeout_keep_alive``.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sceau.config import read_numbers
from sceau.services.admission import ARRIVAL_KEY, GATE_KEY, WRITE_METHODS

_WRITES = frozenset(m.encode() for m in WRITE_METHODS)


@dataclass(frozen=True)
class ServerLimits:
    """Per-process connection limits (``[http]`` in sceau.toml; docs/configuration.md)."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keepalive_timeout: float = 5.0
    max_connections: int = 4096

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> ServerLimits:
        spec = (
            ("header_timeout", float, 0.1),
            ("body_timeout", float, 0.1),
            ("keepalive_timeout", float, 0.1),
            ("max_connections", int, 1),
        )
        return cls(**read_numbers(section, "http", spec))


def _raw_response(status: int, reason: str, message: str, extra: bytes = b"") -> bytes:
    """A complete HTTP/1.1 error response with the services' JSON body, for the moments
    before (or instead of) the app: the connection is closed right after it."""
    body = b'{"code":%d,"message":"%s"}' % (status, message.encode())
    return (
        b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nConnection: close\r\n%s"
        b"Content-Length: %d\r\n\r\n%s" % (status, reason.encode(), extra, len(body), body)
    )


_REFUSED = _raw_response(
    503, "Service Unavailable", "too many connections, retry in a moment", b"Retry-After: 1\r\n"
)


_OVERLOADED = b'{"code":503,"message":"the server is at capacity, retry later"}'


def _refuse(retry_after: int) -> Any:
    """A minimal ASGI app answering 503 + Retry-After without touching the request."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(_OVERLOADED)),
        (b"retry-after", b"%d" % retry_after),
    ]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": _OVERLOADED})

    return app


def _timeout_response(what: str) -> bytes:
    return _raw_response(408, "Request Timeout", f"the request {what} did not arrive in time")


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header/body deadlines and a connection cap.

    The limits come from ``config.sceau_limits`` (set by :func:`uvicorn_config`), so the
    class stays importable by name in uvicorn's spawned worker processes."""

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._limits: ServerLimits = getattr(config, "sceau_limits", ServerLimits())
        self._deadline: asyncio.TimerHandle | None = None

    # -- connection ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections:
            transport.write(_REFUSED)
            transport.close()
            return
        self._arm(self._limits.header_timeout, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    # -- request phases --------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["state"][ARRIVAL_KEY] = time.monotonic()  # for the admission gate
        if self._deadline is None:  # a keep-alive request: headers from now on
            self._arm(self._limits.header_timeout, "headers")

    def on_headers_complete(self) -> None:
        self._disarm()
        gate = self.app_state.get(GATE_KEY)
        if gate is not None and self.parser.get_method() in _WRITES:
            retry_after = gate.refusal()
            if retry_after is not None:
                # Shed before the app, a body read or a parse: this request gets a bare
                # 503 answerer (uvicorn discards the body it never reads; keep-alive holds).
                app, self.app = self.app, _refuse(retry_after)
                try:
                    super().on_headers_complete()
                finally:
                    self.app = app
                self._arm(self._limits.body_timeout, "body")
                return
        super().on_headers_complete()
        self._arm(self._limits.body_timeout, "body")

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Idle between requests is uvicorn's keep-alive timeout; the next request's header
        # deadline starts when its first byte arrives (on_message_begin).

    # -- deadlines -------------------------------------------------------------------------
    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, what)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, what: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            with contextlib.suppress(Exception):
                self.transport.write(_timeout_response(what))
        self.transport.close()


def raise_open_file_limit() -> int:
    """Raise this process's soft limit on open files to the hard limit (connections are
    files); return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return soft


def uvicorn_config(app: Any, *, limits: ServerLimits, **kwargs: Any) -> Any:
    """A ``uvicorn.Config`` for ``app`` with sceau's protocol and limits (``kwargs`` are
    uvicorn's: host, port, log_level, workers, …)."""
    import uvicorn

    config = uvicorn.Config(
        app,
        http=GuardedHttpToolsProtocol,
        timeout_keep_alive=max(1, round(limits.keepalive_timeout)),
        **kwargs,
    )
    config.sceau_limits = limits  # type: ignore[attr-defined]
    return config


def serve(config: Any) -> None:
    """Run a config from :func:`uvicorn_config` until SIGTERM/SIGINT: one process, or
    ``config.workers`` processes under uvicorn's supervisor (which exits with them)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    raise_open_file_limit()
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()


def die_with_parent(parent_pid: int) -> None:
    """Make this worker process die when its parent does, even by SIGKILL.

    Without it, workers of a killed ``sceau serve`` keep the port open, answering 500 or
    hanging (their sequencer is gone) until someone finds them. On Linux the kernel sends
    SIGKILL at the parent's death (``PR_SET_PDEATHSIG``); elsewhere a thread polls."""
    import ctypes
    import os
    import signal
    import sys
    import threading

    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    else:  # pragma: no cover - not Linux

        def watch() -> None:
            import time

            while os.getppid() == parent_pid:
                time.sleep(0.2)
            os._exit(1)

        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)
