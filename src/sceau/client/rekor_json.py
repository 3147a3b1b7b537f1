"""Rekor answers as bundle ``TransparencyLogEntry`` JSON (docs/protocols.md §3, §4).

Rekor v1 answers ``{uuid: {body, integratedTime, logID (hex), logIndex, verification}}``
with hex hashes; Rekor v2 answers the protobuf JSON a bundle carries. Signing, the image
verifier and ``sceau log`` all turn an answer into the bundle form here, then parse it with
the bundle reader (:func:`sceau.client.bundle.parse_tlog_entry`), so there is one shape
check for what any log says.

The converters raise ``KeyError``/``TypeError``/``ValueError`` on a malformed answer; the
caller names the service in its own error.
"""

from __future__ import annotations

import base64
import json
from typing import Any


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def int_str(value: Any) -> str:
    """A non-negative integer (number or decimal string) as protobuf JSON's int64 string."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"not an integer: {value!r}")
    n = int(value)
    if n < 0:
        raise ValueError(f"negative integer: {n}")
    return str(n)


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not a string: {value!r}")
    return value


def kind_version(body: bytes) -> dict[str, str]:
    doc = json.loads(body)
    kind, version = doc["kind"], doc["apiVersion"]
    if not isinstance(kind, str) or not isinstance(version, str):
        raise ValueError("kind/apiVersion are not strings")
    return {"kind": kind, "version": version}


def v1_inclusion_proof(proof: dict[str, Any]) -> dict[str, Any]:
    """A Rekor v1 ``inclusionProof`` (hex hashes) in bundle form (base64)."""
    return {
        "logIndex": int_str(proof["logIndex"]),
        "rootHash": b64(bytes.fromhex(text(proof["rootHash"]))),
        "treeSize": int_str(proof["treeSize"]),
        "hashes": [b64(bytes.fromhex(text(h))) for h in proof["hashes"]],
        "checkpoint": {"envelope": text(proof["checkpoint"])},
    }


def v1_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """One Rekor v1 ``LogEntry`` value (what is under its UUID key) in bundle form."""
    verification = entry["verification"]
    body = base64.b64decode(text(entry["body"]), validate=True)
    out: dict[str, Any] = {
        "logIndex": int_str(entry["logIndex"]),
        "logId": {"keyId": b64(bytes.fromhex(text(entry["logID"])))},
        "kindVersion": kind_version(body),
        "integratedTime": int_str(entry["integratedTime"]),
    }
    if verification.get("signedEntryTimestamp"):
        set_der = base64.b64decode(text(verification["signedEntryTimestamp"]), validate=True)
        out["inclusionPromise"] = {"signedEntryTimestamp": b64(set_der)}
    if verification.get("inclusionProof"):
        out["inclusionProof"] = v1_inclusion_proof(verification["inclusionProof"])
    out["canonicalizedBody"] = b64(body)
    return out


def v2_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """A Rekor v2 ``TransparencyLogEntry`` answer, checked and normalised."""
    proof = entry["inclusionProof"]
    body = base64.b64decode(text(entry["canonicalizedBody"]), validate=True)
    out: dict[str, Any] = {
        "logIndex": int_str(entry["logIndex"]),
        "logId": {"keyId": b64(base64.b64decode(text(entry["logId"]["keyId"]), validate=True))},
        "kindVersion": kind_version(body),
    }
    # Rekor v2 has no integrated time and no promise (it answers "0" and null).
    if entry.get("integratedTime") not in (None, "0", 0):
        out["integratedTime"] = int_str(entry["integratedTime"])
    out["inclusionProof"] = {
        "logIndex": int_str(proof["logIndex"]),
        "rootHash": b64(base64.b64decode(text(proof["rootHash"]), validate=True)),
        "treeSize": int_str(proof["treeSize"]),
        "hashes": [
            b64(base64.b64decode(text(h), validate=True)) for h in proof.get("hashes") or []
        ],
        "checkpoint": {"envelope": text(proof["checkpoint"]["envelope"])},
    }
    out["canonicalizedBody"] = b64(body)
    if out["kindVersion"] != entry.get("kindVersion", out["kindVersion"]):
        raise ValueError("kindVersion disagrees with the entry body")
    return out
