"""How a running ``sceau serve`` is told to reload its keys: ``SIGHUP``
(``systemctl reload sceau``), or the admin socket that ``sceau rotate`` uses.

The socket is ``<dir>/run/admin.sock``, in a directory only the instance's owner may enter
(0700), itself 0600, and a connection whose peer is another user is closed unanswered
(``SO_PEERCRED``). No HTTP endpoint reloads anything: the network never reaches this.

Protocol: one JSON line each way. ``{"op": "reload"}`` → ``{"ok": true, "logs": {…}, …}``
or ``{"ok": false, "error": "…"}``; ``{"op": "ping"}`` → ``{"ok": true}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import struct
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from sceau.config import InstanceConfig
from sceau.durable import write_atomic
from sceau.errors import SceauError

log = logging.getLogger("sceau.control")

SOCKET = Path("run") / "admin.sock"
_MAX_PATH = 107  # sun_path holds 108 bytes, the last a NUL
_MAX_LINE = 4096


def socket_path(cfg: InstanceConfig) -> Path:
    return cfg.dir / SOCKET


def _peer_uid(writer: asyncio.StreamWriter) -> int | None:
    sock = writer.get_extra_info("socket")
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return None
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


async def _reload(live: Any) -> dict[str, Any]:
    try:
        answer = {"ok": True, **await live.reload()}
    except SceauError as e:
        log.error("reload failed, the running keys stay: %s", e.message)
        answer = {"ok": False, "error": e.message}
    except Exception as e:  # never take the server down: report, keep serving
        log.exception("reload failed, the running keys stay")
        answer = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    report = getattr(live.engine, "reloaded", None)  # a worker tells its sequencer
    if report is not None:
        try:
            await report(answer["ok"], answer.get("error", ""))
        except Exception as e:
            log.error("could not tell the sequencer about this reload: %s", e)
    return answer


async def start_control(live: Any, *, listen: bool = True) -> Callable[[], Awaitable[None]]:
    """Listen on the admin socket (unless ``listen`` is false: a ``serve --workers`` HTTP
    worker, which its sequencer process signals) and for SIGHUP; returns the function that
    stops both."""
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[Any]] = set()

    def on_hangup() -> None:
        log.info("SIGHUP: reloading keys and certificates")
        task = asyncio.create_task(_reload(live))
        pending.add(task)
        task.add_done_callback(pending.discard)

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGHUP, on_hangup)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if _peer_uid(writer) not in (None, os.geteuid()):
                return
            line = await asyncio.wait_for(reader.readline(), 10)
            try:
                op = json.loads(line[:_MAX_LINE]).get("op")
            except (ValueError, AttributeError):
                op = None
            if op == "reload":
                answer = await _reload(live)
            elif op == "ping":
                answer = {"ok": True}
            else:
                answer = {"ok": False, "error": 'send {"op": "reload"} or {"op": "ping"}'}
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = None
    path = socket_path(live.cfg)
    if not listen:
        pass
    elif len(os.fsencode(path)) > _MAX_PATH:
        log.warning(
            "no admin socket: %s is longer than a UNIX socket path may be; reload with "
            "SIGHUP, or use a shorter instance path",
            path,
        )
    else:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        os.chmod(path.parent, 0o700)
        path.unlink(missing_ok=True)  # a stale socket: storage's lock keeps one server here
        old = os.umask(0o177)
        try:
            server = await asyncio.start_unix_server(handle, path=str(path))
        finally:
            os.umask(old)

    async def stop() -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGHUP)
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()
            path.unlink(missing_ok=True)
        for task in list(pending):
            task.cancel()

    return stop


MARKER = Path("run") / "serving.json"


@contextlib.contextmanager
def serving_marker(cfg: InstanceConfig, workers: int) -> Iterator[None]:
    """While ``sceau serve`` runs: ``run/serving.json`` says which process and how, so
    ``sceau rotate`` never rotates under a server that cannot switch keys online."""
    path = cfg.dir / MARKER
    if running_server(cfg) is not None:  # another serve's (this one will not get the logs)
        yield
        return
    path.parent.mkdir(mode=0o700, exist_ok=True)
    write_atomic(path, json.dumps({"pid": os.getpid(), "workers": workers}).encode(), 0o600)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def running_server(cfg: InstanceConfig) -> dict[str, int] | None:
    """The ``serving.json`` of a live ``sceau serve`` of this instance, if there is one."""
    try:
        info = json.loads((cfg.dir / MARKER).read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none, unreadable, or its process is gone
    return {"pid": int(info["pid"]), "workers": int(info.get("workers", 1))}


def ask(cfg: InstanceConfig, op: str, timeout: float = 120.0) -> dict[str, Any] | None:
    """Send ``op`` to the instance's running server; None if none is listening."""
    path = socket_path(cfg)
    if not path.exists():
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            return None  # a socket left by a server that is gone
        except OSError as e:
            return {"ok": False, "error": f"cannot reach it: {e.strerror or e}"}
        data = b""
        try:
            sock.sendall(json.dumps({"op": op}).encode() + b"\n")
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError as e:  # a timeout included
            return {"ok": False, "error": f"no answer: {e.strerror or type(e).__name__}"}
    try:
        answer: dict[str, Any] = json.loads(data)
    except ValueError:
        return {
            "ok": False,
            "error": "it closed the connection unanswered (is this the server's user?)",
        }
    return answer
