"""The log explorer: server-rendered pages to search, read and verify log entries.

It reads the logs through the same :class:`~sceau.log.api.LogAPI` as the Rekor and CT
APIs, with every query capped (:mod:`.query`), so it cannot slow the write path. The
pages render without JavaScript; ``static/verify.js`` adds the in-browser check of the
inclusion proof and the checkpoint signature against the instance's trusted root.
"""

from sceau.services.explorer.routes import ExplorerConfig, build_explorer

__all__ = ["ExplorerConfig", "build_explorer"]
