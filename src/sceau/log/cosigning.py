"""Witness cosigning of a log's checkpoints (C2SP tlog-witness, client side).

A :class:`Cosigner` runs beside the log, never in its write path: the sequencer signs and
commits as before; the cosigner takes the *newest* checkpoint (older ones waiting behind a
round are skipped), asks every witness at once with a consistency proof from the size that
witness last cosigned, and keeps the lines that verify with that witness's key. A round
settles when ``quorum`` lines are in, or every witness has answered, or after ``wait``
seconds; a witness that is down or slow costs its own line only (it is not waited for by
the next rounds while its request is out).

:class:`CosignedLog` wraps the log a service holds: an append still returns once durable,
then waits (at most ``wait``) until a round covering its checkpoint has ``quorum`` lines or
has ended, and answers with that cosigned checkpoint (and a proof to it); the read path's
``checkpoint`` is the newest cosigned one.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import functools
import heapq
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sceau.errors import InputError
from sceau.log.api import LogAPI
from sceau.log.engine import AppendResult, SignedCheckpoint
from sceau.note import NoteError, check_witness_vkey, verify_note

log = logging.getLogger("sceau.cosigning")

SIZE_TYPE = "text/x.tlog.size"
MAX_REPLY = 64 * 1024


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the log asks: its submission prefix URL and its cosignature key."""

    url: str
    vkey: str
    verifier: Any

    @property
    def name(self) -> str:
        return str(self.verifier.name)


@dataclass(frozen=True)
class CosigningSettings:
    """``[witnesses]`` of sceau.toml: who to ask, how many lines to wait for, how long."""

    witnesses: tuple[WitnessEndpoint, ...]
    quorum: int
    wait: float


def settings_from_config(section: Any) -> CosigningSettings | None:
    """Parse ``[witnesses]``; ``None`` when no witness is listed."""
    if not section:
        return None
    if not isinstance(section, dict):
        raise InputError("[witnesses] must be a table")
    items = section.get("witness", [])
    if not isinstance(items, list):
        raise InputError("[witnesses] witness must be an array of tables ([[witnesses.witness]])")
    endpoints = []
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("url", "vkey")
        ):
            raise InputError(f"[[witnesses.witness]] #{i} needs `url` and `vkey` strings")
        url = item["url"].rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise InputError(f"[[witnesses.witness]] #{i}: url must be http(s)://…")
        try:
            verifier = check_witness_vkey(item["vkey"])
        except NoteError as e:
            raise InputError(f"[[witnesses.witness]] #{i}: {e.message}") from None
        endpoints.append(WitnessEndpoint(url, item["vkey"], verifier))
    if not endpoints:
        return None
    if len({e.name for e in endpoints}) != len(endpoints):
        raise InputError("[witnesses] lists the same witness name twice")
    quorum = section.get("quorum", len(endpoints))
    wait = section.get("wait", 2.0)
    if isinstance(quorum, bool) or not isinstance(quorum, int) or not 1 <= quorum <= len(endpoints):
        raise InputError(f"[witnesses] quorum must be between 1 and {len(endpoints)}")
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 < wait <= 60:
        raise InputError("[witnesses] wait must be a number of seconds in (0, 60]")
    return CosigningSettings(tuple(endpoints), quorum, float(wait))


def add_checkpoint_body(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The tlog-witness request: ``old N``, proof lines, an empty line, the checkpoint."""
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


def _parse_size(body: bytes) -> int | None:
    text = body.decode("ascii", "replace")
    if text.endswith("\n") and text[:-1].isdigit() and len(text) <= 21:
        return int(text[:-1])
    return None


class Cosigner:
    """Gets the newest checkpoint of ``log`` cosigned, one round at a time."""

    def __init__(self, log: LogAPI, settings: CosigningSettings, client: Any = None) -> None:
        import httpx

        self.log = log
        self.settings = settings
        self._client = client or httpx.AsyncClient(
            timeout=settings.wait, follow_redirects=False, headers={"User-Agent": "sceau"}
        )
        self._known: dict[str, int] = {}  # witness → size it last cosigned (0 if never)
        self._busy: set[str] = set()  # witnesses with a request in flight
        self._behind = False  # a witness has seen a larger tree than the one asked about
        self._newest: SignedCheckpoint | None = None
        self._settled: SignedCheckpoint | None = None  # newest round with quorum or ended
        self._wake = asyncio.Event()
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []  # heap by size
        self._seq = 0
        self.rounds = 0
        self.cosignatures = 0

    @property
    def wait(self) -> float:
        return self.settings.wait

    def notify(self, checkpoint: SignedCheckpoint) -> None:
        """A new checkpoint exists (cheap; the round runs in the background task)."""
        if self._newest is None or checkpoint.size > self._newest.size:
            self._newest = checkpoint
            self._wake.set()

    def published(self) -> SignedCheckpoint | None:
        """The newest checkpoint whose round reached quorum or ended, with its lines."""
        return self._settled

    def merge(self, checkpoint: SignedCheckpoint) -> SignedCheckpoint:
        s = self._settled
        if s is not None and (s.size, s.root_hash) == (checkpoint.size, checkpoint.root_hash):
            return s
        return checkpoint

    async def cosigned(self, size: int, timeout: float) -> SignedCheckpoint | None:
        """The first settled checkpoint of at least ``size``, or None after ``timeout``.

        Waiters sit in a heap by size, so settling wakes exactly those it covers (thousands
        of writers may be waiting)."""
        if self._settled is not None and self._settled.size >= size:
            return self._settled
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._waiters, (size, self._seq, fut))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fut, timeout)
        s = self._settled
        return s if s is not None and s.size >= size else None

    async def run(self) -> None:
        """The background task: one round per new newest checkpoint, until cancelled."""
        with contextlib.suppress(Exception):
            self.notify(await self.log.latest())  # witnesses learn the head at start
        done = -1
        while True:
            await self._wake.wait()
            self._wake.clear()
            with contextlib.suppress(Exception):
                # The newest head anywhere: with `serve --workers`, other processes append
                # and cosign too, and a witness they moved on would refuse an older one.
                self.notify(await self.log.latest())
                self._wake.clear()
            cp = self._newest
            if cp is None or cp.size <= done:
                continue
            try:
                await self._round(cp)
            except Exception as e:  # a bug must not stop cosigning for good
                log.error("cosigning round for size %d failed: %s", cp.size, e)
                await self._settle(cp, {})
            done = cp.size

    async def _round(self, cp: SignedCheckpoint) -> None:
        """Ask every witness not still busy with an earlier checkpoint; settle once the
        quorum is met, or every one has answered, or ``wait`` has passed. A witness still
        working then goes on alone: its line joins this checkpoint if it arrives in time,
        and the next round does not wait for it (a slow witness costs its line only)."""
        self.rounds += 1
        lines: dict[str, str] = {}
        tasks = {
            asyncio.create_task(self._ask_bounded(w, cp)): w
            for w in self.settings.witnesses
            if w.name not in self._busy
        }
        pending = set(tasks)
        while pending and len(lines) < self.settings.quorum:
            finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for t in finished:
                line = t.result()
                if line:
                    lines[tasks[t].name] = line
        self.cosignatures += len(lines)
        release = True
        if len(lines) < self.settings.quorum:
            newer = await self._newer_head(cp) if self._behind else None
            self._behind = False
            if newer is not None:  # another process moved the witnesses on: follow it, and
                self.notify(newer)  # let the writers wait for that round instead
                release = False
            else:
                log.warning(
                    "checkpoint %d has %d cosignature(s), fewer than the quorum of %d",
                    cp.size, len(lines), self.settings.quorum,
                )  # fmt: skip
        await self._settle(cp, lines, release)
        for t in pending:
            t.add_done_callback(functools.partial(self._late, cp, tasks[t]))

    def _late(
        self, cp: SignedCheckpoint, w: WitnessEndpoint, task: asyncio.Task[str | None]
    ) -> None:
        """A line that came after its round settled joins the checkpoint if it is still
        the published one."""
        line = None if task.cancelled() else task.result()
        s = self._settled
        if line and s is not None and (s.size, s.root_hash) == (cp.size, cp.root_hash):
            self._settled = dataclasses.replace(s, note=s.note + line)
            self.cosignatures += 1

    async def _ask_bounded(self, w: WitnessEndpoint, cp: SignedCheckpoint) -> str | None:
        self._busy.add(w.name)
        try:
            return await asyncio.wait_for(self._ask(w, cp), self.settings.wait)
        except TimeoutError:
            log.warning("witness %s did not answer within %.1fs", w.name, self.wait)
            return None
        except Exception as e:  # one witness's trouble is logged, never raised
            log.warning("asking witness %s failed: %s", w.name, e)
            return None
        finally:
            self._busy.discard(w.name)

    async def _newer_head(self, cp: SignedCheckpoint) -> SignedCheckpoint | None:
        try:
            latest = await self.log.latest()
        except Exception:
            return None
        return latest if latest.size > cp.size else None

    async def _settle(
        self, cp: SignedCheckpoint, lines: dict[str, str], release: bool = True
    ) -> None:
        if not release:  # not published either: a writer must not take it as settled
            return
        ordered = "".join(lines[w.name] for w in self.settings.witnesses if w.name in lines)
        if self._settled is None or cp.size >= self._settled.size:
            self._settled = dataclasses.replace(cp, note=cp.note + ordered)
        size = self._settled.size
        while self._waiters and self._waiters[0][0] <= size:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)

    async def _ask(self, w: WitnessEndpoint, cp: SignedCheckpoint) -> str | None:
        """One witness's cosignature line on ``cp``, or None (logged)."""
        import httpx

        old = self._known.get(w.name, 0)
        for _ in range(3):  # a 409 tells us the size the witness has: retry from there
            if old > cp.size:
                log.info("witness %s has size %d, ahead of %d", w.name, old, cp.size)
                self._behind = True
                return None
            proof = await self.log.consistency_proof(old, cp.size) if 0 < old < cp.size else []
            try:
                resp = await self._client.post(
                    f"{w.url}/add-checkpoint", content=add_checkpoint_body(old, proof, cp.note)
                )
            except httpx.HTTPError as e:
                log.warning("witness %s unreachable: %s", w.name, type(e).__name__)
                return None
            body = resp.content[:MAX_REPLY]
            if resp.status_code == 409:
                size = _parse_size(body)
                if size is None or size == old:
                    break
                old = self._known[w.name] = size
                continue
            if resp.status_code != 200:
                log.warning(
                    "witness %s refused checkpoint %d: %d %s",
                    w.name, cp.size, resp.status_code, body[:200].decode("utf-8", "replace"),
                )  # fmt: skip
                return None
            return self._line(w, cp, body)
        # Other processes keep moving this witness on (serve --workers): follow the head.
        log.info("witness %s: its size kept changing under us", w.name)
        self._behind = True
        return None

    def _line(self, w: WitnessEndpoint, cp: SignedCheckpoint, body: bytes) -> str | None:
        try:
            note = verify_note(cp.note + body.decode("utf-8"), [w.verifier])
        except (NoteError, UnicodeDecodeError) as e:
            log.warning("witness %s answered no valid cosignature: %s", w.name, e)
            return None
        self._known[w.name] = cp.size
        return note.verified[0].line()

    async def aclose(self) -> None:
        await self._client.aclose()


class CosignedLog:
    """A :class:`LogAPI` whose checkpoints carry the witnesses' lines once they have them."""

    def __init__(self, inner: LogAPI, cosigner: Cosigner) -> None:
        self.inner = inner
        self.cosigner = cosigner
        self.name = inner.name
        # size → (index, future) of answers waiting for a proof to that cosigned checkpoint
        self._reproofs: dict[int, list[tuple[int, asyncio.Future[list[bytes]]]]] = {}

    async def append(self, entry: bytes, keys: Sequence[str] = ()) -> AppendResult:
        r = await self.inner.append(entry, keys)
        if r.duplicate:
            return r
        self.cosigner.notify(r.checkpoint)
        cp = await self.cosigner.cosigned(r.checkpoint.size, self.cosigner.wait)
        if cp is None:
            return r
        if cp.size == r.checkpoint.size:
            return dataclasses.replace(r, checkpoint=cp)
        proof = await self._proof_to(r.index, cp.size)
        return dataclasses.replace(r, proof=proof, checkpoint=cp)

    async def _proof_to(self, index: int, size: int) -> list[bytes]:
        """An inclusion proof to a later (cosigned) checkpoint. The answers a round releases
        ask together, so their proofs share one pass over the tree when the log can."""
        fut: asyncio.Future[list[bytes]] = asyncio.get_running_loop().create_future()
        batch = self._reproofs.setdefault(size, [])
        batch.append((index, fut))
        if len(batch) == 1:
            asyncio.get_running_loop().call_soon(
                lambda: asyncio.ensure_future(self._prove_batch(size))
            )
        return await fut

    async def _prove_batch(self, size: int) -> None:
        batch = self._reproofs.pop(size, [])
        many = getattr(self.inner, "inclusion_proofs", None)
        try:
            if many is not None:
                proofs = await many([i for i, _ in batch], size)
            else:
                proofs = [await self.inner.inclusion_proof(i, size) for i, _ in batch]
        except Exception as e:
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(e)
            return
        for (_, fut), proof in zip(batch, proofs, strict=True):
            if not fut.done():
                fut.set_result(proof)

    async def latest(self) -> SignedCheckpoint:
        return self.cosigner.merge(await self.inner.latest())

    async def read_path(self, path: str) -> tuple[bytes, str, str]:
        published = self.cosigner.published()
        if path == "checkpoint" and published is not None:
            from sceau.log.readpath import CHECKPOINT_CACHE

            return published.note.encode(), "text/plain; charset=utf-8", CHECKPOINT_CACHE
        return await self.inner.read_path(path)

    async def get_entry(self, index: int) -> bytes:
        return await self.inner.get_entry(index)

    async def entry_time(self, index: int) -> int:
        return await self.inner.entry_time(index)

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return await self.inner.inclusion_proof(index, size)

    async def consistency_proof(self, first: int, second: int) -> list[bytes]:
        return await self.inner.consistency_proof(first, second)

    async def root_at(self, size: int) -> bytes:
        return await self.inner.root_at(size)

    async def get_entries(self, start: int, end: int) -> list[bytes]:
        return await self.inner.get_entries(start, end)

    async def read_tile(self, level: int, index: int, width: int) -> bytes:
        return await self.inner.read_tile(level, index, width)

    async def find_leaf(self, leaf_hash: bytes) -> int | None:
        return await self.inner.find_leaf(leaf_hash)

    async def lookup(self, key: str, limit: int = 1000) -> list[int]:
        return await self.inner.lookup(key, limit)


if TYPE_CHECKING:

    def _is_log_api(log: CosignedLog) -> LogAPI:  # mypy: CosignedLog implements LogAPI
        return log
