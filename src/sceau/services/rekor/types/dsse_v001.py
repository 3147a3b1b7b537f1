"""dsse 0.0.1 (Rekor v1): a DSSE envelope with its verifiers.

Request (sigstore-python ``_build_dsse_request``, sigstore-js ``toProposedDSSEEntry``)::

    {"proposedContent": {"envelope": "<envelope JSON as a string>",
                         "verifiers": ["<b64 PEM certificate or key>", ...]}}

Canonical leaf (``rekor: pkg/types/dsse/v0.0.1/entry.go``)::

    {"apiVersion":"0.0.1","kind":"dsse","spec":{
      "envelopeHash":{"algorithm":"sha256","value":hex(sha256(envelope string))},
      "payloadHash":{"algorithm":"sha256","value":hex(sha256(payload))},
      "signatures":[{"signature":"<sig as in the envelope>","verifier":"<b64 canonical PEM>"}]}}

with the signatures sorted by their base64 text and ``proposedContent`` dropped. The
envelope itself is not stored (as Rekor without attestation storage).
"""

from __future__ import annotations

import hashlib
from typing import Any

from sceau.errors import InputError
from sceau.services._http import parse_json_object
from sceau.services.rekor import material as mat
from sceau.services.rekor.canonical import array, b64, b64decode_std, jcs, obj, string
from sceau.services.rekor.terms import dedup, hash_term, intoto_subject_terms, material_terms
from sceau.services.rekor.types.base import Entry, Limits, too_large
from sceau.services.rekor.types.dsse_common import match_signatures, parse_envelope

KIND, VERSION = "dsse", "0.0.1"


def parse(spec: dict[str, Any], limits: Limits) -> Entry:
    proposed = obj(spec, "proposedContent", "spec.proposedContent")
    text = string(proposed, "envelope", "spec.proposedContent.envelope")
    raw = text.encode("utf-8")
    if len(raw) > limits.attestation:
        raise too_large(
            "spec.proposedContent.envelope", len(raw), limits.attestation, "attestation"
        )
    envelope_json = parse_json_object(raw, "spec.proposedContent.envelope")
    envelope = parse_envelope(envelope_json, "spec.proposedContent.envelope")

    verifiers: list[mat.Material] = []
    for i, item in enumerate(array(proposed, "verifiers", "spec.proposedContent.verifiers")):
        where = f"spec.proposedContent.verifiers[{i}]"
        if not isinstance(item, str):
            raise InputError(f"{where}: must be a base64 string")
        verifiers.append(mat.from_pem(b64decode_std(item, where), where))

    pairs = match_signatures(envelope, verifiers, "spec.proposedContent.envelope")
    signatures = sorted(
        ({"signature": sig.sig_text, "verifier": b64(v.canonical_pem)} for sig, v in pairs),
        key=lambda s: s["signature"],
    )
    payload_hash = hashlib.sha256(envelope.payload).hexdigest()
    envelope_hash = hashlib.sha256(raw).hexdigest()
    body = jcs(
        {
            "apiVersion": VERSION,
            "kind": KIND,
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": envelope_hash},
                "payloadHash": {"algorithm": "sha256", "value": payload_hash},
                "signatures": signatures,
            },
        }
    )
    terms: list[str] = []
    for _, v in pairs:
        terms += material_terms(v)
    terms += [hash_term("sha256", payload_hash), hash_term("sha256", envelope_hash)]
    terms += intoto_subject_terms(envelope.intoto_statement())
    return Entry(KIND, VERSION, body, dedup(terms))
