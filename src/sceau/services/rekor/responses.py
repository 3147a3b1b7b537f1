"""Response shapes: Rekor v1 ``LogEntryAnon`` and Rekor v2 ``TransparencyLogEntry``.

Before anything leaves, the inclusion proof is checked against the checkpoint's root
(rekor-tiles does the same): a proof that does not verify is our bug, never the client's.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Protocol

from starlette.responses import Response

from sceau import merkle
from sceau.errors import InternalError
from sceau.services.rekor.canonical import b64
from sceau.services.rekor.logs import V1Identity, V2Identity


class Checkpoint(Protocol):
    @property
    def size(self) -> int: ...
    @property
    def root_hash(self) -> bytes: ...
    @property
    def note(self) -> str: ...


def check_proof(index: int, body: bytes, proof: list[bytes], checkpoint: Checkpoint) -> bytes:
    """Verify the proof we are about to return; give back the leaf hash."""
    lh = merkle.leaf_hash(body)
    try:
        merkle.verify_inclusion(index, checkpoint.size, lh, proof, checkpoint.root_hash)
    except merkle.ProofError as e:
        raise InternalError(f"inclusion proof for index {index} does not verify: {e}") from e
    return lh


def json_response(
    text: str, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A response from JSON text rendered here (no second pass through ``json.dumps``)."""
    return Response(text.encode("utf-8"), status_code, headers, media_type="application/json")


@lru_cache(maxsize=16)
def json_string(text: str) -> str:
    """``text`` as a JSON string (checkpoint notes: one per batch, many entries each)."""
    return json.dumps(text, ensure_ascii=False)


def _hex_array(hashes: list[bytes]) -> str:
    return "[" + ",".join(f'"{h.hex()}"' for h in hashes) + "]"


def _b64_array(hashes: list[bytes]) -> str:
    return "[" + ",".join(f'"{b64(h)}"' for h in hashes) + "]"


def v1_entry(
    ident: V1Identity,
    index: int,
    body: bytes,
    integrated_time: int,
    proof: list[bytes],
    checkpoint: Checkpoint,
) -> tuple[str, str]:
    """``(entryID, LogEntryAnon as JSON text)``; one shard, so the tree-local index is the
    global one.

    Written as text rather than through ``json.dumps``: every value is an integer, hex or
    base64 except the checkpoint note, which is escaped once per checkpoint. The shape
    (Rekor's ``models.LogEntryAnon``) is checked field by field in ``tests/rekor``.
    """
    lh = check_proof(index, body, proof, checkpoint)
    body_b64 = b64(body)
    set_sig = ident.signed_entry_timestamp(body_b64, integrated_time, index)
    return ident.entry_id(lh), (
        f'{{"body":"{body_b64}","integratedTime":{integrated_time:d},'
        f'"logID":"{ident.log_id_hex}","logIndex":{index:d},'
        f'"verification":{{"inclusionProof":{{"checkpoint":{json_string(checkpoint.note)},'
        f'"hashes":{_hex_array(proof)},"logIndex":{index:d},'
        f'"rootHash":"{checkpoint.root_hash.hex()}","treeSize":{checkpoint.size:d}}},'
        f'"signedEntryTimestamp":"{b64(set_sig)}"}}}}'
    )


def v1_keyed(entry_id: str, value: str) -> str:
    """An entry as Rekor v1 answers it: ``{"<entryID>": {...}}``."""
    return f'{{"{entry_id}":{value}}}'


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
) -> str:
    """protobuf-JSON ``TransparencyLogEntry`` as rekor-tiles emits it (``EmitUnpopulated``:
    int64 as strings, ``integratedTime`` "0", ``inclusionPromise`` null), as JSON text."""
    check_proof(index, body, proof, checkpoint)
    if kind is None or version is None:
        kind, version = kind_version(body)
    return (
        f'{{"logIndex":"{index:d}","logId":{{"keyId":"{ident.log_id_b64}"}},'
        f'"kindVersion":{{"kind":{json_string(kind)},"version":{json_string(version)}}},'
        f'"integratedTime":"0","inclusionPromise":null,'
        f'"inclusionProof":{{"logIndex":"{index:d}","rootHash":"{b64(checkpoint.root_hash)}",'
        f'"treeSize":"{checkpoint.size:d}","hashes":{_b64_array(proof)},'
        f'"checkpoint":{{"envelope":{json_string(checkpoint.note)}}}}},'
        f'"canonicalizedBody":"{b64(body)}"}}'
    )
