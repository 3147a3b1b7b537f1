"""Retired keys: the keys an instance signed with before a rotation, and until when.

``retired.json`` in the instance directory lists them; the trust files publish each with
its validity window so old bundles keep verifying (``sceau rotate``, docs/trust.md).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from sceau.config import InstanceConfig
from sceau.durable import write_atomic
from sceau.errors import InternalError
from sceau.keys import FileSigner, load_signer

RETIRED_FILE = "retired.json"
# Old and new windows overlap by this much: RFC 3161 genTime and SETs are whole seconds,
# so a signature made in the second of the rotation must verify under either key.
OVERLAP = dt.timedelta(seconds=2)


@dataclass(frozen=True)
class Retired:
    """A key that signed for this instance until ``valid_until``."""

    name: str
    key: Path
    certs: tuple[Path, ...]  # leaf first (TSA: leaf, root; CA: intermediate)
    valid_from: dt.datetime
    valid_until: dt.datetime
    # When the key after it took over, if not ``valid_until - OVERLAP``: an online rotation
    # keeps the old key valid until the running server has switched (``sceau rotate``).
    successor_from: dt.datetime | None = None

    def signer(self) -> FileSigner:
        return load_signer(self.key)

    def public_key(self) -> Any:
        """The retired key's public half: from its key file, or from the public key kept
        when the key was in a PKCS#11 token (``*.pub.pem``)."""
        if self.key.name.endswith(".pub.pem"):
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            try:
                return load_pem_public_key(self.key.read_bytes())
            except (OSError, ValueError) as e:
                raise InternalError(f"cannot load retired key {self.key}: {e}") from e
        return self.signer().public_key()

    def certificates(self) -> list[x509.Certificate]:
        return [x509.load_pem_x509_certificate(p.read_bytes()) for p in self.certs]


def load_retired(cfg: InstanceConfig) -> list[Retired]:
    path = cfg.dir / RETIRED_FILE
    if not path.exists():
        return []
    try:
        rows = json.loads(path.read_text())
        return [
            Retired(
                r["name"],
                cfg.dir / r["key"],
                tuple(cfg.dir / c for c in r.get("certs", [])),
                dt.datetime.fromisoformat(r["valid_from"]),
                dt.datetime.fromisoformat(r["valid_until"]),
                dt.datetime.fromisoformat(r["successor_from"]) if "successor_from" in r else None,
            )
            for r in rows
        ]
    except (ValueError, KeyError, TypeError) as e:
        raise InternalError(f"{path} is damaged: {e}") from e


def current_since(cfg: InstanceConfig, name: str, default: dt.datetime) -> dt.datetime:
    """When the current key ``name`` took over (its last rotation, or ``default``)."""
    ends = [
        r.successor_from or r.valid_until - OVERLAP for r in load_retired(cfg) if r.name == name
    ]
    return max([default, *ends])


def save_retired(cfg: InstanceConfig, retired: list[Retired]) -> None:
    rows = [
        {
            "name": r.name,
            "key": str(r.key.relative_to(cfg.dir)),
            "certs": [str(c.relative_to(cfg.dir)) for c in r.certs],
            "valid_from": r.valid_from.isoformat(),
            "valid_until": r.valid_until.isoformat(),
            **({"successor_from": r.successor_from.isoformat()} if r.successor_from else {}),
        }
        for r in retired
    ]
    write_atomic(cfg.dir / RETIRED_FILE, json.dumps(rows, indent=2).encode() + b"\n", 0o644)
