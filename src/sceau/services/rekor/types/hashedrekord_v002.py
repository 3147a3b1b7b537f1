"""hashedrekord 0.0.2 (Rekor v2): a signature over a digest, protobuf-JSON shaped.

Request (``rekor-tiles: api/proto/rekor/v2/hashedrekord.proto``)::

    {"digest": "<b64>", "signature": {"content": "<b64>",
      "verifier": {"x509Certificate": {"rawBytes": "<b64 DER>"},   # or "publicKey"
                   "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}

Canonical leaf (docs/protocols.md §3.3, checked against real bundles)::

    {"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":{
      "data":{"algorithm":"SHA2_256","digest":"<b64>"},
      "signature":{"content":"<b64>","verifier":{...as submitted, re-encoded...}}}}}

The digest's algorithm is the one ``keyDetails`` implies, and its length must match.
"""

from __future__ import annotations

from typing import Any

from sceau.errors import InputError
from sceau.services.rekor import material as mat
from sceau.services.rekor.canonical import b64, b64decode_proto, obj, string
from sceau.services.rekor.terms import dedup, hash_term, material_terms
from sceau.services.rekor.types.base import Entry
from sceau.services.rekor.types.verifier_v2 import ParsedVerifier, parse_verifier

KIND, VERSION = "hashedrekord", "0.0.2"
P = "hashedRekordRequestV002"


def canonical_body(
    proto_hash: str, digest_b64: str, sig_b64: str, verifier: ParsedVerifier
) -> bytes:
    """The RFC 8785 leaf, written out: every value is an enum name or base64, and the keys
    are in JCS order, so this equals :func:`jcs` of the same object
    (``tests/rekor/test_rendering.py`` checks it) at a tenth of the cost."""
    member = "x509Certificate" if "x509Certificate" in verifier.canonical else "publicKey"
    raw_b64 = verifier.canonical[member]["rawBytes"]
    return (
        f'{{"apiVersion":"{VERSION}","kind":"{KIND}","spec":{{"hashedRekordV002":{{"data":'
        f'{{"algorithm":"{proto_hash}","digest":"{digest_b64}"}},"signature":'
        f'{{"content":"{sig_b64}","verifier":{{"keyDetails":"{verifier.key_details}",'
        f'"{member}":{{"rawBytes":"{raw_b64}"}}}}}}}}}}}}'
    ).encode("ascii")


def parse(request: dict[str, Any]) -> Entry:
    unknown = set(request) - {"digest", "signature"}
    if unknown:
        raise InputError(f"{P}.{sorted(unknown)[0]}: unknown field")
    digest = b64decode_proto(string(request, "digest", f"{P}.digest"), f"{P}.digest")
    signature = obj(request, "signature", f"{P}.signature")
    sig = b64decode_proto(
        string(signature, "content", f"{P}.signature.content"), f"{P}.signature.content"
    )
    verifier = parse_verifier(
        obj(signature, "verifier", f"{P}.signature.verifier"), f"{P}.signature.verifier"
    )
    algorithm = verifier.algorithm
    hash_alg = mat.HASHES[algorithm.hash_name]
    if len(digest) != hash_alg.digest_size:
        raise InputError(
            f"{P}.digest: {len(digest)} bytes, but {verifier.key_details} needs a "
            f"{hash_alg.digest_size}-byte {algorithm.hash_name} digest"
        )
    mat.verify_digest(
        verifier.material.public_key,
        sig,
        digest,
        hash_alg,
        f"{P}.signature.content",
        pss=algorithm.pss,
    )
    body = canonical_body(algorithm.proto_hash, b64(digest), b64(sig), verifier)
    keys = dedup([hash_term(algorithm.hash_name, digest.hex()), *material_terms(verifier.material)])
    return Entry(KIND, VERSION, body, keys)
