"""Rekor alone as several HTTP workers feeding one sequencer (benches, tests, embedding).

``sceau serve --workers N`` runs the whole instance this way; this is the same layout
(:mod:`sceau.services.workers`) for the Rekor service on its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from sceau.services.workers import RemoteEngine, run_sequenced


def run_workers(
    config: Any,
    make_engine: Callable[[], Any],
    *,
    host: str,
    port: int,
    workers: int,
    socket_path: str | os.PathLike[str],
    extra_routes: Sequence[Any] = (),
) -> int:
    """Fork ``workers`` Rekor HTTP processes on ``host:port`` and run the sequencer here
    until SIGTERM/SIGINT. ``make_engine()`` returns a bare engine (called after the fork);
    the Rekor logs are added to it here and created if missing."""
    from sceau.services.rekor.service import build_rekor

    def worker_app(remote: RemoteEngine) -> Any:
        service = build_rekor(remote, config)
        service.routes.extend(extra_routes)
        return service.app(remote)

    def engine() -> Any:
        real = make_engine()
        build_rekor(real, config)  # adds both logs (and their genesis entries)
        return real

    return run_sequenced(
        worker_app,
        engine,
        host=host,
        port=port,
        workers=workers,
        socket_path=socket_path,
        create_logs=True,
    )
