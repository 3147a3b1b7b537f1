"""Wiring the CT log into an engine: what ``sceau serve`` calls.

``build_ct_log`` registers the log with the engine (before ``engine.start()``) and returns
the :class:`~.ctlog.CTLog`; ``routes(ct)`` from :mod:`.api` serves it. Keys and roots come
from the instance: the CT key is ECDSA P-256 (``keys/ct.pem``), the accepted roots are the
CA's root certificate(s); chains live in their own SQLite file next to the engine's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptography import x509

from sceau.keys import Signer
from sceau.log import LogConfig, LogEngine
from sceau.note import note_signer
from sceau.services.ct.ctlog import CTLog
from sceau.services.ct.extra import ExtraStore, MemoryExtraStore, SQLiteExtraStore

DEFAULT_NAME = "ct"


def build_ct_log(
    engine: LogEngine,
    signer: Signer,
    roots: Sequence[x509.Certificate],
    *,
    origin: str,
    extra: ExtraStore | str | Path | None = None,
    name: str = DEFAULT_NAME,
) -> CTLog:
    """Add the CT log ``name`` to ``engine`` and return it (no genesis: every leaf is a
    ``MerkleTreeLeaf``). ``origin`` names its C2SP checkpoints (e.g. ``host:port/ct``);
    ``extra`` is where chains go: a path (SQLite), a store, or None for memory (tests)."""
    log = engine.add_log(
        LogConfig(name=name, origin=origin, note_signers=[note_signer(origin, signer)])
    )
    if extra is None:
        store: ExtraStore = MemoryExtraStore()
    elif isinstance(extra, str | Path):
        store = SQLiteExtraStore(extra)
    else:
        store = extra
    return CTLog(log, signer, roots, store)
