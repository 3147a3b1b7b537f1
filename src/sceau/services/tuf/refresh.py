"""The background task that keeps TUF metadata from expiring under a running server."""

from __future__ import annotations

import asyncio
import logging

from sceau.trust.tuf_repo import TufRepository

log = logging.getLogger("sceau.tuf")


async def refresh_periodically(repo: TufRepository, interval: float = 3600.0) -> None:
    """Call :meth:`TufRepository.refresh` now and every ``interval`` seconds until cancelled.

    Refresh runs in a worker thread (it signs and fsyncs). A failed round is logged and
    retried at the next one: the timestamp stays valid for half its lifetime after the
    refresh threshold, so a transient error does not take the repository down.
    """
    if interval <= 0:
        raise ValueError("interval must be positive")
    while True:
        try:
            resigned = await asyncio.to_thread(repo.refresh)
        except Exception:
            log.exception("TUF refresh failed; retrying in %.0f s", interval)
        else:
            if resigned:
                log.info("TUF refresh re-signed %s", ", ".join(resigned))
        await asyncio.sleep(interval)
