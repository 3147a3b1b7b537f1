"""What a service may ask of a log: the one interface the in-process :class:`~sceau.log.Log`
and the worker-side :class:`~sceau.services.workers.RemoteLog` both implement.

Services (Rekor v1/v2, the CT log, the read path) hold a :class:`LogAPI`, never a concrete
log, so they run unchanged in one process or as ``serve --workers`` HTTP workers whose
logs live in the sequencer process. The worker RPC table is derived from this protocol
(:data:`sceau.services.workers.RPC`), and a test checks that both sides cover every method.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sceau.log.engine import AppendResult, SignedCheckpoint


class LogAPI(Protocol):
    """A transparency log's operations, all asynchronous, all durable when they return."""

    name: str

    async def append(self, entry: bytes, keys: Sequence[str] = ()) -> AppendResult:
        """Sequence ``entry`` (search ``keys`` indexed with it); returns once durable, with
        its index, inclusion proof and the checkpoint that covers it."""
        ...

    async def latest(self) -> SignedCheckpoint: ...

    async def get_entry(self, index: int) -> bytes: ...

    async def entry_time(self, index: int) -> int:
        """Milliseconds since the epoch at which entry ``index`` was integrated."""
        ...

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]: ...

    async def consistency_proof(self, first: int, second: int) -> list[bytes]: ...

    async def root_at(self, size: int) -> bytes: ...

    async def get_entries(self, start: int, end: int) -> list[bytes]: ...

    async def read_tile(self, level: int, index: int, width: int) -> bytes: ...

    async def find_leaf(self, leaf_hash: bytes) -> int | None: ...

    async def lookup(self, key: str, limit: int = 1000) -> list[int]: ...

    async def read_path(self, path: str) -> tuple[bytes, str, str]:
        """A C2SP tlog-tiles path → (body, content type, Cache-Control)."""
        ...


def api_methods() -> tuple[str, ...]:
    """The names of :class:`LogAPI`'s methods, in declaration order."""
    return tuple(
        name for name, value in vars(LogAPI).items() if callable(value) and not name.startswith("_")
    )
