"""hashedrekord 0.0.1 (Rekor v1): a signature over an artifact digest.

Request (what sigstore-python and sigstore-js send)::

    {"data": {"hash": {"algorithm": "sha256", "value": "<hex>"}},
     "signature": {"content": "<b64 sig>", "publicKey": {"content": "<b64 PEM>"}}}

Canonical leaf (``rekor: pkg/types/hashedrekord/v0.0.1/entry.go``): the same structure
with only those fields, the PEM re-encoded the standard way, then RFC 8785. The hash value
is kept as submitted (Rekor does not lower-case it).
"""

from __future__ import annotations

import re
from typing import Any

from sceau.errors import InputError
from sceau.services.rekor import material as mat
from sceau.services.rekor.canonical import b64, b64decode_std, obj, string
from sceau.services.rekor.terms import dedup, hash_term, material_terms
from sceau.services.rekor.types.base import Entry

KIND, VERSION = "hashedrekord", "0.0.1"
_HEX = re.compile(r"[0-9a-fA-F]+")


def canonical_body(algorithm: str, value: str, sig_b64: str, pem_b64: str) -> bytes:
    """The RFC 8785 leaf, written out: every value is an enum, hex or base64 string, and
    the keys are in JCS order, so this equals :func:`jcs` of the same object
    (``tests/rekor/test_rendering.py`` checks it) at a tenth of the cost."""
    return (
        f'{{"apiVersion":"{VERSION}","kind":"{KIND}","spec":{{"data":{{"hash":'
        f'{{"algorithm":"{algorithm}","value":"{value}"}}}},"signature":'
        f'{{"content":"{sig_b64}","publicKey":{{"content":"{pem_b64}"}}}}}}}}'
    ).encode("ascii")


def parse(spec: dict[str, Any]) -> Entry:
    signature = obj(spec, "signature", "spec.signature")
    sig = b64decode_std(
        string(signature, "content", "spec.signature.content"), "spec.signature.content"
    )
    public_key = obj(signature, "publicKey", "spec.signature.publicKey")
    pem = b64decode_std(
        string(public_key, "content", "spec.signature.publicKey.content"),
        "spec.signature.publicKey.content",
    )
    material = mat.from_pem(pem, "spec.signature.publicKey.content")

    data = obj(spec, "data", "spec.data")
    if data.get("url") is not None or data.get("content") is not None:
        raise InputError("spec.data: only data.hash is accepted (no url or content)")
    hash_obj = obj(data, "hash", "spec.data.hash")
    algorithm = string(hash_obj, "algorithm", "spec.data.hash.algorithm")
    if algorithm not in mat.HASHES:
        raise InputError(
            f"spec.data.hash.algorithm: unsupported hash {algorithm!r} (sha256, sha384, sha512)"
        )
    value = string(hash_obj, "value", "spec.data.hash.value")
    hash_alg = mat.HASHES[algorithm]
    if not _HEX.fullmatch(value) or len(value) != 2 * hash_alg.digest_size:
        raise InputError(
            f"spec.data.hash.value: must be {2 * hash_alg.digest_size} hex characters "
            f"for {algorithm}, got {len(value)}"
        )
    # One signature, one entry: "AB…" and "ab…" are the same digest, so the same leaf.
    value = value.lower()

    mat.verify_digest(
        material.public_key, sig, bytes.fromhex(value), hash_alg, "spec.signature.content"
    )

    body = canonical_body(algorithm, value, b64(sig), b64(material.canonical_pem))
    keys = dedup([hash_term(algorithm, value), *material_terms(material)])
    return Entry(KIND, VERSION, body, keys)
