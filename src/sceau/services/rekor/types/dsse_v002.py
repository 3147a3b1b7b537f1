"""dsse 0.0.2 (Rekor v2): kept here although rekor-tiles v2.3.0 dropped it.

sigstore-js still submits DSSE attestations to Rekor v2 as ``dsseRequestV002``, and its
verifier accepts ``dsse``/``0.0.2`` entries, so refusing them would break js attestations.

Request::

    {"envelope": {"payload": "<b64>", "payloadType": "...",
                  "signatures": [{"sig": "<b64>", "keyid": ""}]},
     "verifiers": [{"x509Certificate": {"rawBytes": "<b64 DER>"}, "keyDetails": "..."}]}

Canonical leaf (the last rekor-tiles release with DSSE, ``pkg/types/dsse``)::

    {"apiVersion":"0.0.2","kind":"dsse","spec":{"dsseV002":{
      "payloadHash":{"algorithm":"SHA2_256","digest":"<b64 sha256(payload)>"},
      "signatures":[{"content":"<b64 sig>","verifier":{...}}]}}}

Signatures are listed in envelope order, each with the verifier that verified it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sceau.errors import InputError
from sceau.services.rekor import material as mat
from sceau.services.rekor.canonical import array, b64, jcs, obj
from sceau.services.rekor.terms import dedup, hash_term, intoto_subject_terms, material_terms
from sceau.services.rekor.types.base import Entry, Limits, too_large
from sceau.services.rekor.types.dsse_common import parse_envelope
from sceau.services.rekor.types.verifier_v2 import ParsedVerifier, parse_verifier

KIND, VERSION = "dsse", "0.0.2"
P = "dsseRequestV002"


def parse(request: dict[str, Any], limits: Limits) -> Entry:
    unknown = set(request) - {"envelope", "verifiers"}
    if unknown:
        raise InputError(f"{P}.{sorted(unknown)[0]}: unknown field")
    envelope = parse_envelope(obj(request, "envelope", f"{P}.envelope"), f"{P}.envelope")
    if len(envelope.payload) > limits.attestation:
        raise too_large(
            f"{P}.envelope.payload", len(envelope.payload), limits.attestation, "attestation"
        )
    verifiers: list[ParsedVerifier] = []
    for i, item in enumerate(array(request, "verifiers", f"{P}.verifiers")):
        if not isinstance(item, dict):
            raise InputError(f"{P}.verifiers[{i}]: must be a JSON object")
        verifiers.append(parse_verifier(item, f"{P}.verifiers[{i}]"))

    pae = envelope.pae()
    signatures: list[dict[str, Any]] = []
    terms: list[str] = []
    for i, sig in enumerate(envelope.signatures):
        for v in verifiers:
            try:
                mat.verify_message(
                    v.material.public_key, sig.sig, pae, f"{P}.envelope", (v.algorithm.hash_name,)
                )
            except InputError:
                continue
            signatures.append({"content": b64(sig.sig), "verifier": v.canonical})
            terms += material_terms(v.material)
            break
        else:
            raise InputError(f"{P}.envelope.signatures[{i}]: no verifier verifies this signature")
    payload_hash = hashlib.sha256(envelope.payload).digest()
    body = jcs(
        {
            "apiVersion": VERSION,
            "kind": KIND,
            "spec": {
                "dsseV002": {
                    "payloadHash": {"algorithm": "SHA2_256", "digest": b64(payload_hash)},
                    "signatures": signatures,
                }
            },
        }
    )
    terms.append(hash_term("sha256", payload_hash.hex()))
    terms += intoto_subject_terms(envelope.intoto_statement())
    return Entry(KIND, VERSION, body, dedup(terms))
