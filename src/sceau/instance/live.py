"""A running instance that takes new keys without a restart (``sceau rotate`` while
``sceau serve`` runs, or ``SIGHUP``).

The services (CA, CT, Rekor, TSA, TUF, explorer) of one *generation* are built from the
keys and certificates on disk, over the one log engine, which outlives them all. A reload
builds the next generation beside the current one and switches requests to it:

1. the new keys load (a failure leaves the running generation untouched: nothing half-done);
2. every log whose key changed signs its checkpoints with **both** keys, new first: a
   response of either generation then carries a checkpoint its own key verifies;
3. new requests go to the new generation; those already running finish on the old one;
4. once they have (or after ``DRAIN_SECONDS``), the logs sign with the new key alone and
   re-sign their newest checkpoint with it, so even a quiet log shows the new key at once;
5. the old generation's background tasks stop and its resources close.

No request is refused or fails because of a reload (``tests/e2e/test_online_rotation.py``
rotates every key under load and counts errors: zero).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import Router

from sceau.config import InstanceConfig
from sceau.errors import InputError, InternalError

log = logging.getLogger("sceau.reload")

DRAIN_SECONDS = 30.0  # the longest a request of the old generation is waited for


@dataclass(eq=False)
class Generation:
    """One build of the services, and the requests it is serving."""

    parts: Any  # sceau.instance.app._Parts
    router: Router
    in_flight: int = 0
    retired: bool = False
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def start(self) -> None:
        background: list[Callable[[], Coroutine[Any, Any, Any]]] = self.parts.background
        self.tasks = [asyncio.create_task(make()) for make in background]

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        for close in self.parts.closers:
            with contextlib.suppress(Exception):
                await close()


class ServiceSwitch:
    """The ASGI app behind the middleware: hands each request to the current generation
    and counts it there until it is done."""

    def __init__(self, generation: Generation) -> None:
        self.current = generation

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        gen = self.current
        gen.in_flight += 1
        try:
            await gen.router(scope, receive, send)
        finally:
            gen.in_flight -= 1
            if gen.retired and gen.in_flight == 0:
                gen.drained.set()


class LiveInstance:
    """The current generation of an instance's services, and the way to the next one."""

    def __init__(
        self,
        cfg: InstanceConfig,
        first: Any,
        build: Callable[[InstanceConfig, Any, Any, Any], Any],
    ) -> None:
        self.cfg = cfg
        self.engine = first.engine
        self._build = build  # (config, material, engine, previous parts) -> parts
        self.switch = ServiceSwitch(Generation(first, Router(routes=first.routes)))
        self._lock = asyncio.Lock()
        self.generation = 1

    def start(self) -> None:
        self.switch.current.start()

    async def close(self) -> None:
        await self.switch.current.close()

    async def reload(self) -> dict[str, Any]:
        """Read ``sceau.toml``, the keys and the certificates again and switch to them;
        returns what changed (``logs``: the re-signed logs and their sizes). What the
        services are built from takes effect (keys, certificates, OIDC issuers, witnesses);
        what the engine and the server were started with ([storage], [log], [http], the
        URL) needs a restart."""
        async with self._lock:
            old = self.switch.current
            cfg, material = await _load(self.cfg)
            engine = self.engine
            if engine is not None:
                with engine.rebuilding() as configs:
                    parts = self._build(cfg, material, engine, old.parts)
            else:
                configs = {}
                parts = self._build(cfg, material, None, old.parts)
            self.cfg = cfg

            async def switch_over() -> None:
                new = Generation(parts, Router(routes=parts.routes))
                new.start()
                old.retired = True
                if old.in_flight == 0:
                    old.drained.set()
                self.switch.current = new
                try:
                    await asyncio.wait_for(old.drained.wait(), DRAIN_SECONDS)
                except TimeoutError:
                    log.warning(
                        "reload: %d request(s) of the previous keys still running after %.0f s",
                        old.in_flight,
                        DRAIN_SECONDS,
                    )

            sizes = await switch_log_keys(engine, configs, switch_over)
            self.generation += 1
            await old.close()
            done = {
                "generation": self.generation,
                "logs": sizes,
                "switched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
            log.info("reloaded the instance's keys", extra=done)
            return done


async def switch_log_keys(
    engine: Any, configs: dict[str, Any], switch_over: Callable[[], Awaitable[None]]
) -> dict[str, int]:
    """Steps 2 and 4: the logs whose keys ``configs`` change sign with both keys while
    ``switch_over()`` moves the services to them, then with the new key alone, their heads
    re-signed; returns those logs' sizes. If ``switch_over`` fails, both keys stay."""
    changed = {}
    for name, wanted in (configs if engine is not None else {}).items():
        current = list(engine.log(name).config.note_signers)
        if [s.key_id for s in current] != [s.key_id for s in wanted.note_signers]:
            changed[name] = (current, list(wanted.note_signers))
    for name, (before, after) in changed.items():
        engine.log(name).use_signers([*after, *before])
    await switch_over()
    sizes = {}
    for name, (_before, after) in changed.items():
        engine.log(name).use_signers(after)
        sizes[name] = await engine.log(name).resign()
    return sizes


async def _load(current: InstanceConfig) -> tuple[InstanceConfig, Any]:
    """sceau.toml, keys and certificates from disk; the URL must not have moved."""
    from sceau.instance.material import Material

    cfg = await asyncio.to_thread(InstanceConfig.load, current.dir)
    if cfg.url != current.url:
        raise InputError(
            f"[instance] url changed ({current.url} → {cfg.url}): the logs' origins "
            "follow it, so restart `sceau serve` for that"
        )
    return cfg, await asyncio.to_thread(Material.load, cfg)


class SequencerReload:
    """A reload of ``serve --workers`` on SQLite: this process holds the logs and their
    keys, the HTTP worker processes everything else (each a :class:`LiveInstance`).

    The logs sign with old and new keys; every worker is sent SIGHUP, reloads, drains its
    old services and says so over the sequencer socket; then the logs keep the new key
    alone and re-sign their heads. The keys are loaded here first, so a reload that cannot
    load them reaches no worker."""

    def __init__(self, cfg: InstanceConfig, build_logs: Callable[..., Any], engine: Any,
                 rpc: Any, children: list[int]) -> None:  # fmt: skip
        self.cfg, self.engine = cfg, engine
        self._build_logs = build_logs  # (config, material, engine) -> parts
        self._rpc, self._children = rpc, children
        self._lock = asyncio.Lock()
        self.generation = 1

    async def reload(self) -> dict[str, Any]:
        async with self._lock:
            cfg, material = await _load(self.cfg)
            with self.engine.rebuilding() as configs:
                parts = self._build_logs(cfg, material, self.engine)
            for close in parts.closers:  # only the logs' new configs were wanted
                with contextlib.suppress(Exception):
                    await close()
            self.cfg = cfg
            sizes = await switch_log_keys(self.engine, configs, self._reload_workers)
            self.generation += 1
            done = {
                "generation": self.generation,
                "logs": sizes,
                "workers": len(self._children),
                "switched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
            log.info("reloaded the instance's keys", extra=done)
            return done

    async def _reload_workers(self) -> None:
        """SIGHUP every worker and wait until each has switched; if one has not, the logs
        keep signing with both keys and the error says who."""
        import os
        import signal

        rpc = self._rpc
        rpc.reloads.clear()
        for pid in self._children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_SECONDS + 30
        while not all(pid in rpc.reloads for pid in self._children):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            rpc.reloaded.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rpc.reloaded.wait(), remaining)
        trouble = [
            f"worker {pid}: {rpc.reloads.get(pid, (False, 'no answer'))[1]}"
            for pid in self._children
            if not rpc.reloads.get(pid, (False, ""))[0]
        ]
        if trouble:
            raise InternalError(
                "not every HTTP worker switched (" + "; ".join(trouble) + "): the logs sign "
                "with both keys until `sceau serve` restarts"
            )


def sequencer_control(cfg: InstanceConfig, build_logs: Callable[..., Any]) -> Callable[..., Any]:
    """The ``control`` of :func:`sceau.services.workers.run_sequenced` for ``sceau serve``;
    ``build_logs(config, material, engine)`` builds the log services over the engine."""

    async def start(engine: Any, rpc: Any, children: list[int]) -> Any:
        from sceau.instance.control import start_control

        return await start_control(SequencerReload(cfg, build_logs, engine, rpc, children))

    return start
