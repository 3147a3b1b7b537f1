"""PKCE (RFC 7636, S256) and the random ``state``/``nonce`` values a login binds itself with."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class Secrets:
    """One login's single-use values; ``repr`` hides them so they never reach a log."""

    verifier: str = field(default_factory=lambda: _b64(secrets.token_bytes(32)), repr=False)
    state: str = field(default_factory=lambda: _b64(secrets.token_bytes(16)), repr=False)
    nonce: str = field(default_factory=lambda: _b64(secrets.token_bytes(16)), repr=False)

    @property
    def challenge(self) -> str:
        """``BASE64URL(SHA256(verifier))``: what the authorization request carries."""
        return _b64(hashlib.sha256(self.verifier.encode()).digest())
