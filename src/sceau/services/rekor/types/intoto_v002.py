"""intoto 0.0.2 (Rekor v1, legacy): accepted and stored for older sigstore-js clients.

Request (sigstore-js ``toProposedIntotoEntry``; note the *double* base64 of payload and
signatures, and the signer's PEM inside each signature)::

    {"content": {"envelope": {"payloadType": "...", "payload": b64(b64(payload)),
                              "signatures": [{"sig": b64(b64(sig)), "publicKey": b64(PEM),
                                              "keyid": "..."}]},
                 "hash": {"algorithm": "sha256", "value": "<hex, client-computed>"},
                 "payloadHash": {...}}}

Canonical leaf (``rekor: pkg/types/intoto/v0.0.2/entry.go Canonicalize``): the envelope
without its payload, the client's ``hash`` and the server-computed ``payloadHash``. Older
Rekor releases kept the payload in the leaf; current ones drop it, and so do we.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sceau.errors import InputError
from sceau.services.rekor import material as mat
from sceau.services.rekor.canonical import array, b64, b64decode_std, jcs, obj, string
from sceau.services.rekor.terms import dedup, hash_term, intoto_subject_terms, material_terms
from sceau.services.rekor.types.base import Entry, Limits, too_large
from sceau.services.rekor.types.dsse_common import Envelope, Signature, match_signatures

KIND, VERSION = "intoto", "0.0.2"
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def parse(spec: dict[str, Any], limits: Limits) -> Entry:
    content = obj(spec, "content", "spec.content")
    env = obj(content, "envelope", "spec.content.envelope")
    path = "spec.content.envelope"
    payload_type = string(env, "payloadType", f"{path}.payloadType")
    payload_text = b64decode_std(string(env, "payload", f"{path}.payload"), f"{path}.payload")
    if len(payload_text) * 3 // 4 > limits.attestation:
        raise too_large(
            f"{path}.payload", len(payload_text) * 3 // 4, limits.attestation, "attestation"
        )
    payload = b64decode_std(payload_text.decode("ascii", "replace"), f"{path}.payload (inner)")

    hash_obj = obj(content, "hash", "spec.content.hash")
    if string(hash_obj, "algorithm", "spec.content.hash.algorithm") != "sha256":
        raise InputError("spec.content.hash.algorithm: unsupported hash (sha256)")
    envelope_hash = string(hash_obj, "value", "spec.content.hash.value")
    if not _HEX64.fullmatch(envelope_hash):
        raise InputError("spec.content.hash.value: must be 64 hex characters for sha256")
    envelope_hash = envelope_hash.lower()  # the same digest, the same entry

    stored_sigs: list[dict[str, str]] = []
    sigs: list[Signature] = []
    verifiers: list[mat.Material] = []
    for i, item in enumerate(array(env, "signatures", f"{path}.signatures")):
        where = f"{path}.signatures[{i}]"
        if not isinstance(item, dict):
            raise InputError(f"{where}: must be a JSON object")
        sig_text = b64decode_std(string(item, "sig", f"{where}.sig"), f"{where}.sig")
        sig = b64decode_std(sig_text.decode("ascii", "replace"), f"{where}.sig (inner)")
        pem = b64decode_std(string(item, "publicKey", f"{where}.publicKey"), f"{where}.publicKey")
        keyid = item.get("keyid") or ""
        if not isinstance(keyid, str):
            raise InputError(f"{where}.keyid: must be a string")
        verifiers.append(mat.from_pem(pem, f"{where}.publicKey"))
        sigs.append(Signature(sig_text.decode("ascii"), sig, keyid))
        stored = {"publicKey": b64(pem), "sig": b64(sig_text)}
        if keyid:
            stored["keyid"] = keyid
        stored_sigs.append(stored)

    envelope = Envelope(payload_type, payload, tuple(sigs))
    pairs = match_signatures(envelope, verifiers, path)
    payload_hash = hashlib.sha256(payload).hexdigest()
    body = jcs(
        {
            "apiVersion": VERSION,
            "kind": KIND,
            "spec": {
                "content": {
                    "envelope": {"payloadType": payload_type, "signatures": stored_sigs},
                    "hash": {"algorithm": "sha256", "value": envelope_hash},
                    "payloadHash": {"algorithm": "sha256", "value": payload_hash},
                }
            },
        }
    )
    terms: list[str] = []
    for _, v in pairs:
        terms += material_terms(v)
    terms.append(hash_term("sha256", payload_hash))
    terms += intoto_subject_terms(envelope.intoto_statement())
    return Entry(KIND, VERSION, body, dedup(terms))
