"""Serving the instance's TUF repository over HTTP and keeping it fresh.

- :func:`routes` serves ``/tuf/…`` straight from the repository directory, read-only;
- :func:`refresh_periodically` is the background task that re-signs metadata before it
  expires (run it in the app's lifespan).
"""

from __future__ import annotations

from sceau.services.tuf.refresh import refresh_periodically
from sceau.services.tuf.routes import routes

__all__ = ["refresh_periodically", "routes"]
