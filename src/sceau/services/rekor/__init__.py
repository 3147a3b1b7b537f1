"""Rekor v1 and Rekor v2 transparency log APIs on the sceau log engine.

Use :func:`build_rekor` with a :class:`RekorConfig`; see ``docs/rekor.md``.
"""

from sceau.services.rekor.service import RekorConfig, RekorService, build_rekor
from sceau.services.rekor.types import Limits

__all__ = ["Limits", "RekorConfig", "RekorService", "build_rekor"]
