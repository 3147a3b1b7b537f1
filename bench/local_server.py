"""Starting local servers (benches and the tests that drive server processes): a free
port, and waiting until a started process answers."""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Sequence


class NotServing(RuntimeError):
    """The server process exited, or did not answer in time."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_ok(
    url: str,
    procs: Sequence[subprocess.Popen],
    timeout: float = 30,
    *,
    ready: Callable[[], bool] = lambda: True,
    verify: ssl.SSLContext | bool = True,
) -> None:
    """Poll ``GET url`` until it answers 200 (and ``ready()`` holds) while every process
    in ``procs`` still runs; raise :class:`NotServing` otherwise. ``verify``: httpx's (a CA
    file for a server with a test certificate)."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        for proc in procs:
            if proc.poll() is not None:
                raise NotServing(f"the server exited with {proc.returncode} during start-up")
        try:
            if ready() and httpx.get(url, timeout=1, verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise NotServing(f"{url} did not answer 200 within {timeout:g} s")
        time.sleep(0.05)
