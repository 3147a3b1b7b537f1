"""The two Rekor logs on the engine: their names, origins, IDs and genesis entries.

- **Rekor v1 log**: ECDSA P-256 key; checkpoint origin ``"<host> - <treeID>"`` and
  signature key name ``<host>`` (as rekor.sigstore.dev); log ID = SHA-256(SPKI); entry
  IDs are the 16-hex tree ID followed by the 64-hex leaf hash; every response carries a
  Signed Entry Timestamp made with the same key.
- **Rekor v2 log**: Ed25519 checkpoint key; origin = key name = ``host[:port]`` of the
  instance URL (sigstore-js requires the trusted root's ``baseUrl`` to contain the
  signature's key name); log ID = the full C2SP key ID (docs/protocols.md §3.6).

Both logs start with a **genesis entry** at index 0, written by the engine when it creates
the log. sigstore-js serialises bundles as protobuf JSON without zero values, so an entry
at index 0 would reach sigstore-python without ``logIndex``/``inclusionProof.logIndex``
and be refused (docs/protocols.md §8). The genesis leaf takes index 0 so that real entries
start at 1. It is canonical JSON in the shape of a Rekor entry with a kind no client
accepts (``sceau-genesis``), so it can never be mistaken for a signature, and it names the
log's origin so that two logs never share a first leaf.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlsplit

from sceau.errors import InputError, InternalError
from sceau.keys import Signer, spki_der
from sceau.services.rekor.canonical import b64, jcs

GENESIS_KIND = "sceau-genesis"
_HEX = re.compile(r"[0-9a-f]*")


def _plain_ascii(text: str) -> bool:
    """True if ``text`` is its own JSON string body: printable ASCII, no quote or
    backslash (C-speed checks; a regex over a 3 KiB body costs more than the rest)."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def host_of(url: str) -> str:
    """``host[:port]`` of the instance URL: the checkpoint key name of both logs."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise InputError(f"instance URL {url!r} has no host")
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def default_tree_id(v1_public_key: object) -> int:
    """A stable positive int64 derived from the v1 key, so the tree ID needs no state of
    its own and changes exactly when the key (and so the log) changes."""
    digest = hashlib.sha256(spki_der(v1_public_key)).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF or 1


def genesis_entry(origin: str, api_version: str) -> bytes:
    return jcs(
        {
            "apiVersion": api_version,
            "kind": GENESIS_KIND,
            "spec": {
                "origin": origin,
                "purpose": "index 0 placeholder: real entries start at index 1",
            },
        }
    )


def set_payload(body_b64: str, integrated_time: int, log_id_hex: str, log_index: int) -> bytes:
    """The JCS bytes a SET signs. Written out, not run through :func:`jcs`: base64, hex
    and integers need no escaping and the keys are already in order, so this is exactly
    ``jcs({"body", "integratedTime", "logID", "logIndex"})``
    (``tests/rekor/test_rendering.py`` checks it)."""
    if not _plain_ascii(body_b64) or not _HEX.fullmatch(log_id_hex):
        raise InternalError("SET payload: body must be base64 and logID hex")
    return (
        f'{{"body":"{body_b64}","integratedTime":{integrated_time:d},'
        f'"logID":"{log_id_hex}","logIndex":{log_index:d}}}'
    ).encode("ascii")


@dataclass(frozen=True)
class V1Identity:
    host: str
    tree_id: int
    signer: Signer

    @property
    def origin(self) -> str:
        return f"{self.host} - {self.tree_id}"

    @cached_property
    def log_id(self) -> bytes:
        return hashlib.sha256(spki_der(self.signer.public_key())).digest()

    @cached_property
    def log_id_hex(self) -> str:
        return self.log_id.hex()

    @cached_property
    def tree_id_hex(self) -> str:
        return f"{self.tree_id:016x}"

    def entry_id(self, leaf_hash: bytes) -> str:
        return self.tree_id_hex + leaf_hash.hex()

    def signed_entry_timestamp(self, body_b64: str, integrated_time: int, log_index: int) -> bytes:
        """SET: the log key's signature over the JCS of body, time, log ID and index
        (``rekor: pkg/api/entries.go signEntry``; docs/protocols.md §3.5)."""
        return self.signer.sign(set_payload(body_b64, integrated_time, self.log_id_hex, log_index))


@dataclass(frozen=True)
class V2Identity:
    host: str
    signer: Signer

    @property
    def origin(self) -> str:
        return self.host

    @cached_property
    def log_id(self) -> bytes:
        from sceau.note import log_id

        return log_id(self.host, self.signer.public_key())

    @cached_property
    def log_id_b64(self) -> str:
        return b64(self.log_id)
