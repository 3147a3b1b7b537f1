"""A Rekor entry as a Sigstore bundle (v0.3), for the entry page's download link.

Only ``hashedrekord`` entries with a certificate carry everything a bundle needs (the
certificate, the digest and the signature); a DSSE entry does not keep its envelope. A
Rekor v2 entry's bundle has no signing time: the signer's RFC 3161 timestamp is not in the
log, so verifiers that require one will refuse it (the page says so).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from sceau.services.explorer.catalog import Record
from sceau.services.rekor.responses import v1_entry, v2_entry

BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def can_bundle(r: Record) -> bool:
    d = r.decoded
    return (
        r.view.family == "rekor"
        and d.kind == "hashedrekord"
        and d.certificate is not None
        and d.digest is not None
        and d.digest[0] == "sha256"
        and len(d.signatures) == 1
    )


def tlog_entry(r: Record, ident: Any, proof: list[bytes], checkpoint: Any) -> dict[str, Any]:
    """The bundle ``TransparencyLogEntry`` of ``r`` with a proof to ``checkpoint``."""
    kv = {"kind": r.decoded.kind, "version": r.decoded.version}
    if r.view.name == "rekor-v2":
        doc: dict[str, Any] = json.loads(v2_entry(ident, r.index, r.body, proof, checkpoint))
        doc.pop("inclusionPromise", None)
        doc.pop("integratedTime", None)
        return doc
    integrated = (r.time_ms or 0) // 1000
    _, text = v1_entry(ident, r.index, r.body, integrated, proof, checkpoint)
    v1 = json.loads(text)
    p = v1["verification"]["inclusionProof"]
    return {
        "logIndex": str(r.index),
        "logId": {"keyId": b64(bytes.fromhex(v1["logID"]))},
        "kindVersion": kv,
        "integratedTime": str(integrated),
        "inclusionPromise": {"signedEntryTimestamp": v1["verification"]["signedEntryTimestamp"]},
        "inclusionProof": {
            "logIndex": str(r.index),
            "rootHash": b64(bytes.fromhex(p["rootHash"])),
            "treeSize": str(p["treeSize"]),
            "hashes": [b64(bytes.fromhex(h)) for h in p["hashes"]],
            "checkpoint": {"envelope": p["checkpoint"]},
        },
        "canonicalizedBody": b64(r.body),
    }


def bundle(r: Record, entry: dict[str, Any]) -> dict[str, Any]:
    d = r.decoded
    assert d.certificate is not None and d.digest is not None
    return {
        "mediaType": BUNDLE_V03,
        "verificationMaterial": {
            "certificate": {"rawBytes": b64(d.certificate.der)},
            "tlogEntries": [entry],
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64(bytes.fromhex(d.digest[1]))},
            "signature": d.signatures[0],
        },
    }
