"""The log engine: batching sequencer, tiled storage, C2SP read path. Knows nothing of Rekor or CT.

See :mod:`sceau.log.engine` for the design and crash invariants, and
:mod:`sceau.log.storage` for the driver contract.
"""

from sceau.log.engine import AppendResult, Log, LogConfig, LogEngine, SignedCheckpoint
from sceau.log.storage import BatchWrite, StaleHead, Storage, TreeHead

__all__ = [
    "AppendResult",
    "BatchWrite",
    "Log",
    "LogConfig",
    "LogEngine",
    "SignedCheckpoint",
    "StaleHead",
    "Storage",
    "TreeHead",
]
