"""A C2SP tlog-witness: cosigns the checkpoints of the logs it knows, after checking that
each one is consistent with the last one it cosigned (``POST /add-checkpoint``).

:mod:`.protocol` parses request bodies, :mod:`.state` keeps the latest cosigned checkpoint
per log in SQLite, :mod:`.witness` applies the spec's checks in order, :mod:`.config` reads
a witness directory and :mod:`.http` exposes it over HTTP.
"""

from sceau.services.witness.config import WitnessConfig, init_witness
from sceau.services.witness.http import build_witness_app, witness_routes
from sceau.services.witness.witness import Reply, Witness

__all__ = [
    "Reply",
    "Witness",
    "WitnessConfig",
    "build_witness_app",
    "init_witness",
    "witness_routes",
]
