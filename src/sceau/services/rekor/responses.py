"""Response shapes: Rekor v1 ``LogEntryAnon`` and Rekor v2 ``TransparencyLogEntry``.

Before anything leaves, the inclusion proof is checked against the checkpoint's root
(rekor-tiles does the same): a proof that does not verify is our bug, never the client's.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from sceau import merkle
from sceau.errors import InternalError
from sceau.services.rekor.canonical import b64
from sceau.services.rekor.logs import V1Identity, V2Identity


class Checkpoint(Protocol):
    size: int
    root_hash: bytes
    note: str


def check_proof(index: int, body: bytes, proof: list[bytes], checkpoint: Checkpoint) -> bytes:
    """Verify the proof we are about to return; give back the leaf hash."""
    lh = merkle.leaf_hash(body)
    try:
        merkle.verify_inclusion(index, checkpoint.size, lh, proof, checkpoint.root_hash)
    except merkle.ProofError as e:
        raise InternalError(f"inclusion proof for index {index} does not verify: {e}") from e
    return lh


def v1_entry(
    ident: V1Identity,
    index: int,
    body: bytes,
    integrated_time: int,
    proof: list[bytes],
    checkpoint: Checkpoint,
) -> tuple[str, dict[str, Any]]:
    """``(entryID, LogEntryAnon)``; one shard, so the tree-local index is the global one."""
    lh = check_proof(index, body, proof, checkpoint)
    body_b64 = b64(body)
    set_sig = ident.signed_entry_timestamp(body_b64, integrated_time, index)
    return ident.entry_id(lh), {
        "body": body_b64,
        "integratedTime": integrated_time,
        "logID": ident.log_id.hex(),
        "logIndex": index,
        "verification": {
            "inclusionProof": {
                "checkpoint": checkpoint.note,
                "hashes": [h.hex() for h in proof],
                "logIndex": index,
                "rootHash": checkpoint.root_hash.hex(),
                "treeSize": checkpoint.size,
            },
            "signedEntryTimestamp": b64(set_sig),
        },
    }


def kind_version(body: bytes) -> tuple[str, str]:
    """Kind and apiVersion of a stored leaf (our own canonical JSON)."""
    try:
        value = json.loads(body)
        return str(value["kind"]), str(value["apiVersion"])
    except (ValueError, KeyError, TypeError) as e:
        raise InternalError("stored entry is not a Rekor entry") from e


def v2_entry(
    ident: V2Identity,
    index: int,
    body: bytes,
    proof: list[bytes],
    checkpoint: Checkpoint,
    kind: str | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    """protobuf-JSON ``TransparencyLogEntry`` as rekor-tiles emits it (``EmitUnpopulated``:
    int64 as strings, ``integratedTime`` "0", ``inclusionPromise`` null)."""
    check_proof(index, body, proof, checkpoint)
    if kind is None or version is None:
        kind, version = kind_version(body)
    return {
        "logIndex": str(index),
        "logId": {"keyId": b64(ident.log_id)},
        "kindVersion": {"kind": kind, "version": version},
        "integratedTime": "0",
        "inclusionPromise": None,
        "inclusionProof": {
            "logIndex": str(index),
            "rootHash": b64(checkpoint.root_hash),
            "treeSize": str(checkpoint.size),
            "hashes": [b64(h) for h in proof],
            "checkpoint": {"envelope": checkpoint.note},
        },
        "canonicalizedBody": b64(body),
    }
