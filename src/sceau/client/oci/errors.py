"""Registry failures, each a one-line message naming the registry and what was asked."""

from __future__ import annotations

from sceau.errors import SceauError


class RegistryError(SceauError):
    """The registry refused, failed or answered something that is not what was asked."""

    status = 502
    code = "registry_error"


class RegistryNotFound(RegistryError):
    """The repository, manifest, tag or blob does not exist."""

    status = 404
    code = "not_found"
