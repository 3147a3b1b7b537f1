"""Several HTTP worker processes feeding one sequencer (one machine, one SQLite engine).

Per entry, most of a log server's CPU goes to HTTP, JSON, X.509 parsing, signature checks
and signing (Rekor's SET, the CA's certificates) — none of which needs the log. One
process holds the GIL for all of it; so :func:`run_sequenced` forks ``workers`` processes
that share the listening port and do that work, while the parent owns the
:class:`~sceau.log.LogEngine` alone and serves the log operations to them over a Unix
socket (mode 0600):

- workers coalesce the appends that arrive within ~1 ms into one RPC; the sequencer hands
  them to the engine, whose batching is unchanged (one transaction and one checkpoint per
  batch), and answers each with its index, proof and checkpoint;
- reads (entries, proofs, tiles, search) are single RPCs.

A worker's :class:`RemoteEngine` / :class:`RemoteLog` have the engine's interface, so the
services (Rekor, the CT log, the whole ``sceau serve`` app) are built on either unchanged.

Frames are a 4-byte big-endian length and a JSON object; bytes travel as base64. Errors
raised by the engine (``Overloaded``, ``NotFound``…) are re-raised in the worker with
their class, so HTTP statuses are the same as in one process.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import signal
import socket
import struct
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sceau import errors
from sceau.errors import InternalError, Overloaded, SceauError
from sceau.log.api import LogAPI, api_methods
from sceau.log.engine import SignedCheckpoint
from sceau.services._http import tune_gc_for_serving
from sceau.services.http_server import (
    ServerLimits,
    die_with_parent,
    raise_open_file_limit,
    uvicorn_config,
)

log = logging.getLogger("sceau.workers")
FRAME = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024
COALESCE_SECONDS = 0.001
_TEMP_PREFIX = "sceau-sequencer-"  # a directory socket_path_in made, removed at the end


def _b(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _u(text: str) -> bytes:
    return base64.b64decode(text)


def _frame(obj: dict[str, Any]) -> bytes:
    data = json.dumps(obj, separators=(",", ":")).encode()
    return FRAME.pack(len(data)) + data


async def _read(reader: asyncio.StreamReader) -> dict[str, Any]:
    (n,) = FRAME.unpack(await reader.readexactly(FRAME.size))
    if n > MAX_FRAME:
        raise InternalError(f"RPC frame of {n} bytes")
    message: dict[str, Any] = json.loads(await reader.readexactly(n))
    return message


def _checkpoint_out(cp: Any) -> list[Any]:
    return [cp.size, _b(cp.root_hash), cp.timestamp_ms, cp.note]


def _checkpoint_in(v: list[Any]) -> Any:
    from sceau.log import SignedCheckpoint

    return SignedCheckpoint(v[0], _u(v[1]), v[2], v[3])


def _error_out(e: BaseException) -> dict[str, Any]:
    if isinstance(e, asyncio.CancelledError):  # the engine is closing: the client may retry
        return {
            "type": "Overloaded",
            "message": "the log is shutting down, retry",
            "retry_after": 1,
        }
    if isinstance(e, SceauError):
        return {
            "type": type(e).__name__,
            "message": e.message,
            "retry_after": getattr(e, "retry_after", None),
        }
    log.error("sequencer RPC failed: %r", e)
    return {"type": "InternalError", "message": "sequencer error"}


def _error_in(err: dict[str, Any]) -> SceauError:
    cls = getattr(errors, err.get("type", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, SceauError)):
        cls = InternalError
    if cls is Overloaded:
        return Overloaded(err["message"], retry_after=err.get("retry_after") or 1)
    return cls(err["message"])


def _identity(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Codec:
    """How one :class:`~sceau.log.api.LogAPI` call crosses the socket: its arguments (worker
    → JSON → sequencer) and its result (sequencer → JSON → worker)."""

    args_out: Callable[[tuple[Any, ...]], list[Any]] = list
    args_in: Callable[[list[Any]], tuple[Any, ...]] = tuple
    result_out: Callable[[Any], Any] = _identity
    result_in: Callable[[Any], Any] = _identity


def _hashes_out(hashes: list[bytes]) -> list[str]:
    return [_b(h) for h in hashes]


def _hashes_in(hashes: list[str]) -> list[bytes]:
    return [_u(h) for h in hashes]


def _append_result_out(r: Any) -> Any:
    if isinstance(r, BaseException):
        return {"err": _error_out(r)}
    proof = [_b(p) for p in r.proof]
    return [r.index, _b(r.leaf_hash), proof, _checkpoint_out(r.checkpoint), r.timestamp_ms,
            r.duplicate]  # fmt: skip


def _append_result_in(r: Any) -> Any:
    from sceau.log import AppendResult

    if isinstance(r, dict):
        return _error_in(r["err"])
    return AppendResult(r[0], _u(r[1]), [_u(p) for p in r[2]], _checkpoint_in(r[3]), r[4], r[5])


# The RPC table: one entry per LogAPI method (checked below). "append" carries a batch of
# (entry, keys) pairs and a result (or an error) per pair.
RPC: dict[str, Codec] = {
    "append": Codec(
        args_out=lambda batch: [[_b(e), list(k)] for e, k in batch],
        args_in=lambda pairs: tuple((_u(e), k) for e, k in pairs),
        result_out=lambda results: [_append_result_out(r) for r in results],
        result_in=lambda results: [_append_result_in(r) for r in results],
    ),
    "latest": Codec(result_out=_checkpoint_out, result_in=_checkpoint_in),
    "get_entry": Codec(result_out=_b, result_in=_u),
    "entry_time": Codec(result_in=int),
    "inclusion_proof": Codec(result_out=_hashes_out, result_in=_hashes_in),
    "consistency_proof": Codec(result_out=_hashes_out, result_in=_hashes_in),
    "root_at": Codec(result_out=_b, result_in=_u),
    "get_entries": Codec(result_out=_hashes_out, result_in=_hashes_in),
    "read_tile": Codec(result_out=_b, result_in=_u),
    "find_leaf": Codec(args_out=lambda a: [_b(a[0])], args_in=lambda a: (_u(a[0]),)),
    "lookup": Codec(result_in=list),
    "read_path": Codec(
        result_out=lambda r: [_b(r[0]), r[1], r[2]], result_in=lambda r: (_u(r[0]), r[1], r[2])
    ),
}
if set(RPC) != set(api_methods()):  # a LogAPI method without a codec, or a stale codec
    raise ImportError(f"worker RPC table out of step with LogAPI: {set(RPC) ^ set(api_methods())}")


# -- the sequencer side -----------------------------------------------------------------------


class SequencerRPC:
    """Serves the engine's logs to worker processes over a Unix socket."""

    def __init__(self, engine: Any, path: str | os.PathLike[str]) -> None:
        self.engine = engine
        self.path = str(path)
        self._server: asyncio.AbstractServer | None = None
        # worker pid → (ok, error) of its last reload (sceau.instance.live.SequencerReload)
        self.reloads: dict[int, tuple[bool, str]] = {}
        self.reloaded = asyncio.Event()

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._client, path=self.path)
        finally:
            os.umask(old)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                try:
                    msg = await _read(reader)
                except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
                    break
                task = asyncio.create_task(self._answer(msg, writer))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            writer.close()

    async def _answer(self, msg: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        try:
            out = {"id": msg["id"], "ok": await self._dispatch(msg)}
        except BaseException as e:  # every failure goes back to the worker
            out = {"id": msg["id"], "err": _error_out(e)}
        writer.write(_frame(out))
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    async def _dispatch(self, msg: dict[str, Any]) -> Any:
        op, raw = msg["op"], msg.get("args", [])
        if op == "reloaded":  # a worker has switched to the reloaded keys (not a log op)
            pid, ok, error = raw
            self.reloads[int(pid)] = (bool(ok), str(error))
            self.reloaded.set()
            return None
        lg = self.engine.log(msg["log"])
        codec = RPC.get(op)
        if codec is None:
            raise InternalError(f"unknown RPC {op!r}")
        args = codec.args_in(raw)
        if op == "append":  # a batch: each entry succeeds or fails on its own
            results = await asyncio.gather(
                *[lg.append(e, keys=k) for e, k in args], return_exceptions=True
            )
            return codec.result_out(results)
        return codec.result_out(await getattr(lg, op)(*args))


# -- the worker side --------------------------------------------------------------------------


class RpcClient:
    """One Unix-socket connection per worker; requests carry ids, answers may interleave."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._writer: asyncio.StreamWriter | None = None
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._next = 0
        self._reader_task: asyncio.Task[None] | None = None

    async def connect(self, timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                reader, self._writer = await asyncio.open_unix_connection(self.path)
                break
            except (FileNotFoundError, ConnectionError):
                if loop.time() > deadline:
                    raise InternalError(f"sequencer socket {self.path} is not answering") from None
                await asyncio.sleep(0.05)
        self._reader_task = asyncio.create_task(self._read_loop(reader))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                msg = await _read(reader)
                fut = self._waiting.pop(msg["id"], None)
                if fut is None or fut.done():
                    continue
                if "err" in msg:
                    fut.set_exception(_error_in(msg["err"]))
                else:
                    fut.set_result(msg["ok"])
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(Overloaded("sequencer connection lost, retry"))
            self._waiting.clear()

    async def call(self, log_name: str, op: str, *args: Any) -> Any:
        if self._writer is None:
            raise Overloaded("sequencer not connected yet, retry")
        self._next += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = fut
        self._writer.write(_frame({"id": self._next, "log": log_name, "op": op, "args": args}))
        return await fut


class RemoteLog:
    """The engine's ``Log`` interface, served by the sequencer process."""

    def __init__(self, client: RpcClient, name: str) -> None:
        self.client = client
        self.name = name
        self._pending: list[tuple[bytes, Sequence[str], asyncio.Future[Any]]] = []
        self._flush_handle: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def append(self, entry: bytes, keys: Sequence[str] = ()) -> Any:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending.append((entry, keys, fut))
        if self._flush_handle is None:
            self._flush_handle = loop.call_later(COALESCE_SECONDS, self._flush)
        return await fut

    def _flush(self) -> None:
        self._flush_handle = None
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[bytes, Sequence[str], asyncio.Future[Any]]]) -> None:
        try:
            results = await self._call("append", *[(e, k) for e, k, _ in batch])
        except SceauError as e:
            for _, _, fut in batch:
                if not fut.done():
                    fut.set_exception(e)
            return
        for (_, _, fut), r in zip(batch, results, strict=True):
            if fut.done():
                continue
            if isinstance(r, SceauError):
                fut.set_exception(r)
            else:
                fut.set_result(r)

    async def _call(self, op: str, *args: Any) -> Any:
        codec = RPC[op]
        return codec.result_in(await self.client.call(self.name, op, *codec.args_out(args)))

    async def latest(self) -> SignedCheckpoint:
        checkpoint: SignedCheckpoint = await self._call("latest")
        return checkpoint

    async def get_entry(self, index: int) -> bytes:
        entry: bytes = await self._call("get_entry", index)
        return entry

    async def entry_time(self, index: int) -> int:
        ms: int = await self._call("entry_time", index)
        return ms

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        proof: list[bytes] = await self._call("inclusion_proof", index, size)
        return proof

    async def consistency_proof(self, first: int, second: int) -> list[bytes]:
        proof: list[bytes] = await self._call("consistency_proof", first, second)
        return proof

    async def root_at(self, size: int) -> bytes:
        root: bytes = await self._call("root_at", size)
        return root

    async def get_entries(self, start: int, end: int) -> list[bytes]:
        entries: list[bytes] = await self._call("get_entries", start, end)
        return entries

    async def read_tile(self, level: int, index: int, width: int) -> bytes:
        tile: bytes = await self._call("read_tile", level, index, width)
        return tile

    async def find_leaf(self, leaf_hash: bytes) -> int | None:
        found: int | None = await self._call("find_leaf", leaf_hash)
        return found

    async def lookup(self, key: str, limit: int = 1000) -> list[int]:
        found: list[int] = await self._call("lookup", key, limit)
        return found

    async def read_path(self, path: str) -> tuple[bytes, str, str]:
        answer: tuple[bytes, str, str] = await self._call("read_path", path)
        return answer


class RemoteEngine:
    """Stands in for :class:`~sceau.log.LogEngine` in a worker: services built on it (the
    same ``add_log`` before ``start``) reach the sequencer's logs."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.client = RpcClient(str(path))
        self._logs: dict[str, RemoteLog] = {}

    def add_log(self, config: Any) -> RemoteLog:
        lg = self._logs[config.name] = RemoteLog(self.client, config.name)
        return lg

    @property
    def logs(self) -> dict[str, RemoteLog]:
        return dict(self._logs)

    async def start(self, *, create: bool = False) -> None:
        if create:
            raise InternalError("logs are created by the sequencer, not by a worker")
        await self.client.connect()

    async def close(self) -> None:
        await self.client.close()

    @contextlib.contextmanager
    def rebuilding(self) -> Iterator[dict[str, Any]]:
        """A reload of this worker's services: the logs' keys are the sequencer's, so
        nothing here changes with them (the yielded dict stays empty)."""
        yield {}

    async def reloaded(self, ok: bool, error: str = "") -> None:
        """Tell the sequencer this worker has switched (and drained its old services)."""
        await self.client.call("", "reloaded", os.getpid(), ok, error)


# -- process layout -------------------------------------------------------------------------


def socket_path_in(directory: Path) -> Path:
    """Where the sequencer listens: ``directory/sequencer.sock``, or a private temporary
    directory when that path is too long for a Unix socket (108 bytes on Linux)."""
    path = directory / "sequencer.sock"
    if len(os.fsencode(path)) < 100:
        return path
    import tempfile

    return Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX)) / "sequencer.sock"


# Started in the sequencer process beside the RPC server; returns its stop function.
Control = Callable[[Any, "SequencerRPC", list[int]], Awaitable[Callable[[], Awaitable[None]]]]


def run_sequenced(
    make_worker_app: Callable[[RemoteEngine], Any],
    make_engine: Callable[[], Any],
    *,
    host: str,
    port: int,
    workers: int,
    socket_path: str | os.PathLike[str],
    log_level: str = "warning",
    access_log: bool = False,
    create_logs: bool = False,
    limits: ServerLimits | None = None,
    server_options: dict[str, Any] | None = None,
    control: Control | None = None,
) -> int:
    """Fork ``workers`` HTTP processes on ``host:port``, then run the sequencer here until
    SIGTERM/SIGINT.

    ``make_worker_app(remote)`` builds each worker's ASGI app on a :class:`RemoteEngine`
    (in the worker, after the fork); ``make_engine()`` builds the real engine with the same
    logs added, not started (here, after the fork, so no worker inherits its threads);
    ``create_logs`` lets it create logs missing from storage (fresh benches and tests;
    ``sceau serve`` never creates).

    ``control(engine, rpc, children)``, if given, is started beside the sequencer and
    returns the function that stops it (``sceau serve``: reloads, sceau.instance.live).

    Returns 0 after SIGTERM/SIGINT, 1 if a worker died: then the others are stopped too, so
    that a supervisor restarts the whole server rather than it serving on with fewer."""
    import uvicorn

    def listen() -> socket.socket:
        # One socket per worker with SO_REUSEPORT: the kernel spreads connections evenly
        # (a single shared accept queue lets one busy worker hoard connections).
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(4096)
        return sock

    children: list[int] = []
    parent = os.getpid()
    raise_open_file_limit()
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # worker: HTTP + verification, log operations over RPC
            code = 0
            try:
                die_with_parent(parent)
                app = make_worker_app(RemoteEngine(socket_path))
                tune_gc_for_serving()
                config = uvicorn_config(
                    app,
                    limits=limits or ServerLimits(),
                    loop="uvloop",
                    **{"log_level": log_level, "access_log": access_log, **(server_options or {})},
                )
                uvicorn.Server(config).run(sockets=[listen()])
            except BaseException:
                log.exception("HTTP worker failed")
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    try:
        return asyncio.run(
            _sequence(make_engine, Path(socket_path), create_logs, children, control)
        )
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


async def _sequence(
    make_engine: Callable[[], Any],
    path: Path,
    create: bool,
    children: list[int],
    control: Control | None = None,
) -> int:
    engine = make_engine()
    await engine.start(create=create)
    rpc = SequencerRPC(engine, path)
    await rpc.start()
    stop_control = await control(engine, rpc, children) if control is not None else None
    tune_gc_for_serving()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    dead: list[int] = []
    watcher = asyncio.create_task(_watch(children, stop, dead))
    try:
        await stop.wait()
    finally:
        watcher.cancel()
        if stop_control is not None:
            await stop_control()
        await rpc.close()
        await engine.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        if path.parent.name.startswith(_TEMP_PREFIX):
            with contextlib.suppress(OSError):
                path.parent.rmdir()
    return 1 if dead else 0


async def _watch(children: list[int], stop: asyncio.Event, dead: list[int]) -> None:
    """Set ``stop`` (and note the pid) as soon as a worker process has exited."""
    while True:
        await asyncio.sleep(0.5)
        for pid in children:
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # already reaped (SIGCHLD ignored): gone all the same
                done, status = pid, -1
            if done:
                log.error(
                    "HTTP worker %d exited (wait status %d); stopping the server", pid, status
                )
                dead.append(pid)
                stop.set()
                return


if TYPE_CHECKING:  # mypy proves both sides implement the whole LogAPI
    from sceau.log import Log

    def _implements_log_api(remote: RemoteLog, local: Log) -> tuple[LogAPI, LogAPI]:
        return remote, local
