"""DSSE envelopes: strict parsing, the PAE and matching signatures to verifiers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sceau.errors import InputError
from sceau.services._http import parse_json_object
from sceau.services.rekor import material as mat
from sceau.services.rekor.canonical import array, b64decode_proto, string

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


@dataclass(frozen=True)
class Signature:
    sig_text: str  # the signature exactly as written in the envelope (base64)
    sig: bytes
    keyid: str


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def pae(self) -> bytes:
        """DSSE pre-authentication encoding: what every signature covers."""
        t = self.payload_type.encode()
        return b"DSSEv1 %d %s %d %s" % (len(t), t, len(self.payload), self.payload)

    def intoto_statement(self) -> object:
        """The decoded in-toto statement, or None for other payload types or bad JSON."""
        if self.payload_type != INTOTO_PAYLOAD_TYPE:
            return None
        try:
            return parse_json_object(self.payload, "in-toto statement")
        except InputError:  # not a statement: the entry is still valid, just not indexed
            return None


def parse_envelope(value: dict[str, Any], path: str) -> Envelope:
    """Parse an envelope in its JSON form (base64 payload and signatures)."""
    payload = b64decode_proto(string(value, "payload", f"{path}.payload"), f"{path}.payload")
    payload_type = string(value, "payloadType", f"{path}.payloadType")
    sigs: list[Signature] = []
    for i, item in enumerate(array(value, "signatures", f"{path}.signatures")):
        where = f"{path}.signatures[{i}]"
        if not isinstance(item, dict):
            raise InputError(f"{where}: must be a JSON object")
        text = string(item, "sig", f"{where}.sig")
        keyid = item.get("keyid") or ""
        if not isinstance(keyid, str):
            raise InputError(f"{where}.keyid: must be a string")
        sigs.append(Signature(text, b64decode_proto(text, f"{where}.sig"), keyid))
    return Envelope(payload_type, payload, tuple(sigs))


def match_signatures(
    envelope: Envelope, verifiers: list[mat.Material], path: str, hashes: tuple[str, ...] = ()
) -> list[tuple[Signature, mat.Material]]:
    """Pair every envelope signature with a verifier that verifies it (Rekor's
    ``verifyEnvelope``): one signature without a key fails the whole entry."""
    pae = envelope.pae()
    pairs: list[tuple[Signature, mat.Material]] = []
    for i, sig in enumerate(envelope.signatures):
        for verifier in verifiers:
            allowed = hashes or _hashes_for(verifier.public_key)
            try:
                mat.verify_message(verifier.public_key, sig.sig, pae, path, allowed)
            except InputError:
                continue
            pairs.append((sig, verifier))
            break
        else:
            raise InputError(
                f"{path}.signatures[{i}]: no verifier verifies this signature over the envelope"
            )
    return pairs


def _hashes_for(key: mat.PublicKey) -> tuple[str, ...]:
    """Rekor v1 verifies DSSE with SHA-256 for every key; accept the curve's own hash too
    (a P-384 key signing with SHA-384 is what a careful client does)."""
    default = mat.default_hash(key)
    return ("sha256",) if default == "sha256" else ("sha256", default)
