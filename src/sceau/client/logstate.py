"""The last verified checkpoint of each log a user has looked at, so the next look proves
the log only grew (rekor-cli keeps the same state for ``loginfo``).

One small JSON file per log under ``$SCEAU_STATE_DIR`` (default: the platform's user state
directory), written atomically; the key is the log's URL and origin, so an instance
reinstalled at the same URL with a new key is a new log, not a fork.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sceau.client.errors import LogEntryError


@dataclass(frozen=True)
class LogState:
    directory: Path

    @classmethod
    def default(cls) -> LogState:
        override = os.environ.get("SCEAU_STATE_DIR")
        if override:
            return cls(Path(override) / "logs")
        from platformdirs import user_state_dir

        return cls(Path(user_state_dir("sceau")) / "logs")

    def _path(self, url: str, origin: str) -> Path:
        name = hashlib.sha256(f"{url}\n{origin}".encode()).hexdigest()[:32]
        return self.directory / f"{name}.json"

    def advance(self, log: Any, head: Any) -> int | None:
        """Prove ``head`` extends the checkpoint remembered for this log, then remember
        ``head``. Returns the remembered size (None on first sight); raises
        :class:`LogEntryError` when the log is not consistent with what was seen."""
        from sceau.durable import write_atomic

        path = self._path(log.url, head.origin)
        previous = self._read(path)
        if previous is not None:
            size, root = previous
            if head.tree_size < size:
                raise LogEntryError(
                    f"the log shrank: its checkpoint says size {head.tree_size}, but size "
                    f"{size} was seen before (state in {path})"
                )
            log.verify_consistency(size, root, head.tree_size, head.root_hash)
        doc = {"url": log.url, "origin": head.origin, "size": head.tree_size,
               "root": head.root_hash.hex()}  # fmt: skip
        try:
            write_atomic(path, json.dumps(doc).encode() + b"\n", 0o600)
        except OSError:
            pass  # a read-only home must not stop a query; the proof above still ran
        return previous[0] if previous is not None else None

    @staticmethod
    def _read(path: Path) -> tuple[int, bytes] | None:
        try:
            doc = json.loads(path.read_bytes())
            return int(doc["size"]), bytes.fromhex(doc["root"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
