"""Where matches and alarms go: JSON lines on stdout, an optional webhook, words on stderr.

stdout carries only match objects, one per line, so scripts can read it as JSON Lines;
everything meant for people (alarms, errors, progress) goes to stderr.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from sceau.errors import RemoteError

WEBHOOK_TIMEOUT = 10.0


class Reporter:
    def __init__(
        self,
        webhook: str | None = None,
        out: TextIO | None = None,
        err: TextIO | None = None,
        progress: bool | None = None,
    ) -> None:
        self.webhook = webhook
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.show_progress = self.err.isatty() if progress is None else progress
        self._last = 0.0

    def match(self, record: dict[str, Any]) -> None:
        """Print one match and, with a webhook, POST it (RemoteError when that fails)."""
        self.out.write(json.dumps(record, sort_keys=True) + "\n")
        self.out.flush()
        if self.webhook:
            import httpx

            try:
                resp = httpx.post(self.webhook, json=record, timeout=WEBHOOK_TIMEOUT)
            except httpx.HTTPError as e:
                raise RemoteError(f"webhook {self.webhook}: {type(e).__name__}: {e}") from None
            if not 200 <= resp.status_code < 300:
                raise RemoteError(f"webhook {self.webhook}: HTTP {resp.status_code}")

    def alarm(self, message: str) -> None:
        self.err.write(f"ALARM: {message}\n")
        self.err.flush()

    def error(self, message: str) -> None:
        self.err.write(f"error: {message}\n")
        self.err.flush()

    def info(self, message: str) -> None:
        self.err.write(f"{message}\n")
        self.err.flush()

    def progress(self, label: str) -> Any:
        """A ``(done, total)`` callback drawing a one-line bar on stderr (at most 5/s)."""

        def draw(done: int, total: int) -> None:
            now = time.monotonic()
            if done < total and now - self._last < 0.2:
                return
            self._last = now
            width = 30
            filled = width * done // total if total else width
            bar = "#" * filled + "-" * (width - filled)
            end = "\n" if done >= total else ""
            self.err.write(f"\r{label} [{bar}] {done}/{total}{end}")
            self.err.flush()

        return draw if self.show_progress else None
