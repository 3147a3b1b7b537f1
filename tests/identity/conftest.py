"""Identity fixtures: a real OpenID provider on a localhost port, and an async runner."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.identity.idp import FakeIdP, IdPKey
from tests.serving import serve_app


@pytest.fixture(scope="module")
def idp() -> Iterator[FakeIdP]:
    """One provider per module with an ES256, an RS256, a PS256 and an EdDSA key."""
    provider = FakeIdP(
        keys=[
            IdPKey.generate("ec-1", "ES256"),
            IdPKey.generate("rsa-1", "RS256"),
            IdPKey.generate("pss-1", "PS256"),
            IdPKey.generate("ed-1", "EdDSA"),
        ]
    )
    with serve_app(provider.app()) as base:
        provider.base = base
        yield provider


def run(coro: Any) -> Any:
    return asyncio.run(coro)
