"""A log entry decoded for display: Rekor entries (v1 and v2 kinds) and CT leaves.

Only what the leaf itself holds is shown: Rekor stores hashes of DSSE envelopes, not the
payload, so in-toto subjects appear only for the entry kinds that keep them.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from sceau.services.ct.rfc6962 import CodecError, EntryType, parse_merkle_tree_leaf
from sceau.services.explorer.certs import CertView, describe, identities_of, iso_ms, pem_to_der


@dataclass
class Decoded:
    """What a page shows of one leaf (everything optional but kind)."""

    kind: str
    version: str = ""
    certificate: CertView | None = None
    public_key: str | None = None  # PEM of a bare key
    digest: tuple[str, str] | None = None  # (algorithm, hex)
    signatures: list[str] = field(default_factory=list)  # base64
    dsse: dict[str, str] = field(default_factory=dict)
    subjects: list[tuple[str, str]] = field(default_factory=list)  # (name, alg:hex)
    ct: dict[str, str] = field(default_factory=dict)
    note: str = ""
    identities: list[str] = field(default_factory=list)  # set in light decodes too
    full: bool = True  # False: a result row's decode (identities only, no CertView)

    @property
    def identity(self) -> str:
        if self.identities:
            return ", ".join(self.identities)
        return "(public key)" if self.public_key else "-"

    def certificate_der(self, der: bytes) -> None:
        """Take the signing certificate (the first one seen wins)."""
        if self.certificate is not None or self.identities:
            return
        if self.full:
            self.certificate = describe(der)
            self.identities = self.certificate.identities if self.certificate else []
        else:
            self.identities = identities_of(der)


def _b64(value: object) -> bytes:
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _pem_material(pem: bytes, out: Decoded) -> None:
    if b"CERTIFICATE" in pem:
        der = pem_to_der(pem)
        if der:
            out.certificate_der(der)
    elif pem.startswith(b"-----BEGIN") and out.public_key is None:
        out.public_key = pem.decode("ascii", "replace")


def _verifier_v2(verifier: Any, out: Decoded) -> None:
    der = _b64(_get(verifier, "x509Certificate", "rawBytes"))
    if der:
        out.certificate_der(der)
        return
    spki = _b64(_get(verifier, "publicKey", "rawBytes"))
    if spki and out.public_key is None:
        lines = base64.encodebytes(spki).decode().replace("\n", "")
        chunks = [lines[i : i + 64] for i in range(0, len(lines), 64)]
        out.public_key = "-----BEGIN PUBLIC KEY-----\n" + "\n".join(chunks)
        out.public_key += "\n-----END PUBLIC KEY-----\n"


_V2_ALG = {"SHA2_256": "sha256", "SHA2_384": "sha384", "SHA2_512": "sha512"}


def decode_rekor(body: bytes, full: bool = True) -> Decoded:
    """``full``: everything the entry page shows; else what a result row shows."""
    try:
        doc = json.loads(body)
    except ValueError:
        return Decoded("unknown", note="the entry is not JSON")
    kind, version = str(_get(doc, "kind")), str(_get(doc, "apiVersion"))
    out = Decoded(kind, version, full=full)
    spec = _get(doc, "spec")
    if kind == "hashedrekord" and version == "0.0.1":
        h = _get(spec, "data", "hash")
        out.digest = (str(_get(h, "algorithm")), str(_get(h, "value")).lower())
        out.signatures = [str(_get(spec, "signature", "content"))]
        _pem_material(_b64(_get(spec, "signature", "publicKey", "content")), out)
    elif kind == "hashedrekord" and version == "0.0.2":
        v2 = _get(spec, "hashedRekordV002")
        alg = _V2_ALG.get(str(_get(v2, "data", "algorithm")), "sha256")
        out.digest = (alg, _b64(_get(v2, "data", "digest")).hex())
        out.signatures = [str(_get(v2, "signature", "content"))]
        _verifier_v2(_get(v2, "signature", "verifier"), out)
    elif kind == "dsse" and version == "0.0.1":
        out.dsse = {
            "payloadHash": f"{_get(spec, 'payloadHash', 'algorithm')}:"
            f"{_get(spec, 'payloadHash', 'value')}",
            "envelopeHash": f"{_get(spec, 'envelopeHash', 'algorithm')}:"
            f"{_get(spec, 'envelopeHash', 'value')}",
        }
        for sig in _get(spec, "signatures") or []:
            out.signatures.append(str(_get(sig, "signature")))
            _pem_material(_b64(_get(sig, "verifier")), out)
        out.note = "Rekor keeps the hashes of a DSSE envelope, not its payload."
    elif kind == "dsse" and version == "0.0.2":
        v2 = _get(spec, "dsseV002")
        alg = _V2_ALG.get(str(_get(v2, "payloadHash", "algorithm")), "sha256")
        out.dsse = {"payloadHash": f"{alg}:{_b64(_get(v2, 'payloadHash', 'digest')).hex()}"}
        for sig in _get(v2, "signatures") or []:
            out.signatures.append(str(_get(sig, "content")))
            _verifier_v2(_get(sig, "verifier"), out)
        out.note = "Rekor keeps the hash of a DSSE payload, not the payload."
    elif kind == "intoto":
        content = _get(spec, "content")
        env = _get(content, "envelope")
        out.dsse = {
            "payloadType": str(_get(env, "payloadType")),
            "payloadHash": f"{_get(content, 'payloadHash', 'algorithm')}:"
            f"{_get(content, 'payloadHash', 'value')}",
        }
        for sig in _get(env, "signatures") or []:
            out.signatures.append(str(_get(sig, "sig")))
            _pem_material(_b64(_b64(_get(sig, "publicKey")).decode("ascii", "replace")), out)
        _intoto_subjects(_b64(_get(env, "payload")), out)
    elif kind == "rekord" or kind.startswith("sceau"):
        out.note = "the log's genesis entry"
    return out


def _intoto_subjects(payload: bytes, out: Decoded) -> None:
    """Subjects of an in-toto statement, when the entry kept its payload."""
    try:
        statement = json.loads(base64.b64decode(payload) if payload else b"null")
    except (ValueError, binascii.Error):
        return
    for subject in _get(statement, "subject") or []:
        digests = _get(subject, "digest")
        if isinstance(digests, dict):
            for alg, value in list(digests.items())[:4]:
                out.subjects.append((str(_get(subject, "name")), f"{alg}:{value}"))


def decode_ct(leaf: bytes, precert: bytes | None, full: bool = True) -> Decoded:
    """A CT ``MerkleTreeLeaf``; ``precert`` is the stored precertificate (extra data)."""
    try:
        parsed = parse_merkle_tree_leaf(leaf)
    except CodecError as e:
        return Decoded("ct", note=f"unreadable leaf: {e.message}")
    kind = "x509_entry" if parsed.entry_type is EntryType.X509 else "precert_entry"
    out = Decoded(kind, full=full)
    out.ct = {"timestamp": iso_ms(parsed.timestamp_ms)}
    if parsed.entry_type is EntryType.X509:
        out.certificate_der(parsed.signed_entry[3:])
    else:
        out.ct["issuerKeyHash"] = parsed.signed_entry[:32].hex()
        if precert:
            out.certificate_der(precert)
    return out
