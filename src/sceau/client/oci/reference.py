"""Image references: ``host[:port]/repo[:tag|@sha256:…]`` as Docker and cosign read them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sceau.errors import InputError

DOCKER_HUB = "index.docker.io"
_REPO = re.compile(
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Reference:
    """A parsed reference. ``digest`` wins over ``tag`` when both are given."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``registry/repository``: the docker-reference cosign signs."""
        return f"{self.registry}/{self.repository}"

    @property
    def ref(self) -> str:
        """What to ask the registry for: the digest, else the tag (``latest`` by default)."""
        return self.digest or self.tag or "latest"

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, self.tag, digest)

    def __str__(self) -> str:
        if self.digest:
            return f"{self.name}@{self.digest}"
        return f"{self.name}:{self.tag or 'latest'}"


def parse_reference(text: str) -> Reference:
    """Parse ``REF``; the first component is a registry if it has a dot or a port or is
    ``localhost`` (else Docker Hub, with ``library/`` for one-component names)."""
    ref = text.strip()
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise InputError(f"{text!r}: the digest must be sha256:<64 hex digits>")
    tag = None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref, tag = ref.rsplit(":", 1)
        if not _TAG.fullmatch(tag):
            raise InputError(f"{text!r}: invalid tag {tag!r}")
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = DOCKER_HUB, ref
        if "/" not in repository:
            repository = f"library/{repository}"
    if not _REPO.fullmatch(repository):
        raise InputError(f"{text!r}: invalid repository name {repository!r}")
    return Reference(registry, repository, tag, digest)
