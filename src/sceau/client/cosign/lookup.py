"""Find the Rekor v1 entry of a detached signature, as cosign does without a bundle.

Search the log's index by the artifact's SHA-256 (``POST /api/v1/index/retrieve``), fetch
each entry (at most :data:`MAX_CANDIDATES`) and keep the first whose hashedrekord body names
this signature and key. The entry comes with its SET and, when the log gives one, an
inclusion proof and checkpoint; :mod:`.detached` verifies both against the trusted root, so
nothing the log says is taken on trust.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from typing import Any

from sceau.client.bundle import InclusionProof, TlogEntry
from sceau.client.cosign.material import RekorBundle
from sceau.client.entries import Material, check_hashedrekord
from sceau.client.errors import LogEntryError
from sceau.client.hashing import Digest
from sceau.errors import RemoteError

MAX_CANDIDATES = 32
TIMEOUT = 30.0


def find_entry(rekor_url: str, digest: Digest, signature: bytes, material: Material) -> TlogEntry:
    import httpx

    base = rekor_url.rstrip("/")
    try:
        with httpx.Client(timeout=TIMEOUT) as client:
            r = client.post(f"{base}/api/v1/index/retrieve", json={"hash": f"sha256:{digest.hex}"})
            _ok(r, base)
            uuids = r.json()
            if not isinstance(uuids, list):
                raise RemoteError(f"{base}: index search did not answer a list")
            for uuid in uuids[:MAX_CANDIDATES]:
                if not isinstance(uuid, str) or not uuid.isalnum():
                    continue
                e = client.get(f"{base}/api/v1/log/entries/{uuid}")
                _ok(e, base)
                entry = _entry(e.json(), base)
                try:
                    check_hashedrekord(entry, material, signature, digest.value)
                except LogEntryError:
                    continue
                return entry
    except httpx.HTTPError as e:
        raise RemoteError(f"cannot reach Rekor at {base}: {e}") from None
    except ValueError:
        raise RemoteError(f"{base}: answered something that is not JSON") from None
    raise LogEntryError(f"no entry in the log at {base} for this signature and artifact")


def _ok(response: Any, base: str) -> None:
    if response.status_code != 200:
        raise RemoteError(f"{base}: HTTP {response.status_code} from {response.request.url.path}")


def _entry(doc: Any, base: str) -> TlogEntry:
    if not isinstance(doc, dict) or len(doc) != 1:
        raise RemoteError(f"{base}: an entry answer must hold one entry")
    (value,) = doc.values()
    if not isinstance(value, dict):
        raise RemoteError(f"{base}: malformed entry")
    verification = value.get("verification") or {}
    try:
        rekor = RekorBundle(
            signed_entry_timestamp=base64.b64decode(verification["signedEntryTimestamp"]),
            body=base64.b64decode(value["body"]),
            integrated_time=int(value["integratedTime"]),
            log_index=int(value["logIndex"]),
            log_id=bytes.fromhex(value["logID"]),
        )
        entry = rekor.tlog_entry()
        proof = verification.get("inclusionProof")
        if isinstance(proof, dict) and proof.get("checkpoint"):
            entry = replace(
                entry,
                inclusion_proof=InclusionProof(
                    log_index=int(proof["logIndex"]),
                    root_hash=bytes.fromhex(proof["rootHash"]),
                    tree_size=int(proof["treeSize"]),
                    hashes=tuple(bytes.fromhex(h) for h in proof["hashes"]),
                    checkpoint=str(proof["checkpoint"]),
                ),
            )
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise RemoteError(f"{base}: malformed entry") from None
    return entry
