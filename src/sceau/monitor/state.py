"""What a monitor remembers of each log between runs: the last tree it verified.

One JSON file per log in the state directory, replaced atomically (:func:`write_atomic`)
only after the new tree was verified and its entries scanned, so a crash or a failed run
leaves the previous verified state. The compact range of that tree is kept with it: it is
what lets the next run prove the log only grew (docs/monitoring.md). A lock file keeps two
monitors from sharing one directory.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sceau.durable import write_atomic
from sceau.errors import InputError
from sceau.merkle import CompactRange

VERSION = 1


@dataclass(frozen=True)
class LogState:
    """The last verified checkpoint of a log and its compact range."""

    log: str
    origin: str
    size: int
    root_hash: bytes
    checkpoint: str
    compact: list[bytes]

    def compact_range(self) -> CompactRange:
        return CompactRange(self.size, self.compact)


def state_path(directory: Path, slug: str) -> Path:
    return directory / f"{slug}.json"


def load_state(directory: Path, slug: str) -> LogState | None:
    path = state_path(directory, slug)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise InputError(f"cannot read monitor state {path}: {e.strerror}") from None
    try:
        doc = json.loads(raw)
        if doc["version"] != VERSION:
            raise InputError(f"monitor state {path} has unknown version {doc['version']!r}")
        state = LogState(
            log=str(doc["log"]),
            origin=str(doc["origin"]),
            size=int(doc["size"]),
            root_hash=base64.b64decode(doc["root_hash"], validate=True),
            checkpoint=str(doc["checkpoint"]),
            compact=[base64.b64decode(h, validate=True) for h in doc["compact_range"]],
        )
        state.compact_range()  # shape check
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(
            f"monitor state {path} is damaged ({e}); move it away to restart"
        ) from None
    return state


def save_state(directory: Path, slug: str, state: LogState) -> None:
    doc = {
        "version": VERSION,
        "log": state.log,
        "origin": state.origin,
        "size": state.size,
        "root_hash": base64.b64encode(state.root_hash).decode(),
        "checkpoint": state.checkpoint,
        "compact_range": [base64.b64encode(h).decode() for h in state.compact],
    }
    write_atomic(state_path(directory, slug), (json.dumps(doc, indent=1) + "\n").encode())


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold ``directory/.lock`` for the whole run; a second monitor is refused at once."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"another monitor is using the state directory {directory}") from None
        yield
    finally:
        os.close(fd)
