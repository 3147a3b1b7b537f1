"""Sigstore bundles (v0.1–v0.3) parsed strictly into plain, immutable values.

Parsing is docs/protocols.md §6 step 0: the JSON shape (rules of ``sigstore-models``), the media
type, and the client invariants sigstore-python enforces before any cryptography: one
signing certificate (or a managed-key hint), exactly one log entry carrying an inclusion
proof with a checkpoint, a promise in v0.1, a promise or a signed timestamp in v0.2+.
Certificates stay DER bytes here; the verifier loads them.
"""

from __future__ import annotations

import binascii
from binascii import a2b_base64
from dataclasses import dataclass, field
from typing import Any

from sceau.client._json import Obj, b64decode, loads
from sceau.client.errors import BundleError

# media type -> bundle version
MEDIA_TYPES = {
    "application/vnd.dev.sigstore.bundle+json;version=0.1": "0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2": "0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3": "0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json": "0.3",
}
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
HASH_ALGORITHMS = frozenset({"SHA2_256", "SHA2_384", "SHA2_512", "SHA3_256", "SHA3_384"})
MAX_TIMESTAMPS = 32  # sigstore-go / sigstore-python limit against DoS

_MATERIAL = (
    "publicKey",
    "x509CertificateChain",
    "certificate",
    "tlogEntries",
    "timestampVerificationData",
)
_ENTRY = (
    "logIndex",
    "logId",
    "kindVersion",
    "integratedTime",
    "inclusionPromise",
    "inclusionProof",
    "canonicalizedBody",
)


@dataclass(frozen=True)
class InclusionProof:
    log_index: int  # tree-local index (Rekor v1) — differs from the entry's global index
    root_hash: bytes
    tree_size: int
    hashes: tuple[bytes, ...]
    checkpoint: str | None


@dataclass(frozen=True)
class TlogEntry:
    log_index: int
    log_id: bytes
    kind: str
    version: str
    integrated_time: int  # 0 when absent (Rekor v2)
    inclusion_promise: bytes | None  # DER signature (the SET)
    inclusion_proof: InclusionProof | None
    canonicalized_body: bytes


@dataclass(frozen=True)
class MessageSignature:
    signature: bytes
    digest_algorithm: str | None = None
    digest: bytes | None = None


@dataclass(frozen=True)
class DsseEnvelope:
    payload: bytes
    payload_type: str
    signatures: tuple[tuple[bytes, str | None], ...]  # (sig, keyid)

    def pae(self) -> bytes:
        """DSSE v1 pre-authentication encoding: what the signature covers."""
        t = self.payload_type.encode()
        return b"DSSEv1 %d %s %d %s" % (len(t), t, len(self.payload), self.payload)


@dataclass(frozen=True)
class Bundle:
    media_type: str
    version: str  # "0.1" | "0.2" | "0.3"
    tlog_entry: TlogEntry
    content: MessageSignature | DsseEnvelope
    certificate: bytes | None = None  # leaf DER (None for managed keys)
    chain: tuple[bytes, ...] = ()  # further certificates of a v0.1/0.2 chain (untrusted)
    public_key_hint: str | None = None
    timestamps: tuple[bytes, ...] = field(default=())  # DER TimeStampResponses

    @property
    def signature(self) -> bytes:
        """The signature bytes that RFC 3161 timestamps cover."""
        if isinstance(self.content, DsseEnvelope):
            return self.content.signatures[0][0]
        return self.content.signature

    @property
    def is_dsse(self) -> bool:
        return isinstance(self.content, DsseEnvelope)

    @classmethod
    def from_json(cls, data: bytes | str) -> Bundle:
        """Parse and shape-check a bundle; raises :class:`BundleError` with one line."""
        return parse_bundle(loads(data, "bundle", BundleError))

    def to_dict(self) -> dict[str, Any]:
        """The bundle as protobuf JSON (what :meth:`from_json` reads back to an equal
        value): int64 as strings, bytes as base64, absent fields omitted."""
        return bundle_document(self)

    def to_json(self, indent: int | None = 2) -> str:
        import json

        return json.dumps(self.to_dict(), indent=indent)


def _b64e(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode()


def tlog_entry_document(e: TlogEntry) -> dict[str, Any]:
    """A :class:`TlogEntry` as a bundle ``TransparencyLogEntry`` (protobuf JSON)."""
    out: dict[str, Any] = {
        "logIndex": str(e.log_index),
        "logId": {"keyId": _b64e(e.log_id)},
        "kindVersion": {"kind": e.kind, "version": e.version},
    }
    if e.integrated_time:
        out["integratedTime"] = str(e.integrated_time)
    if e.inclusion_promise is not None:
        out["inclusionPromise"] = {"signedEntryTimestamp": _b64e(e.inclusion_promise)}
    if (p := e.inclusion_proof) is not None:
        proof: dict[str, Any] = {
            "logIndex": str(p.log_index),
            "rootHash": _b64e(p.root_hash),
            "treeSize": str(p.tree_size),
            "hashes": [_b64e(h) for h in p.hashes],
        }
        if p.checkpoint is not None:
            proof["checkpoint"] = {"envelope": p.checkpoint}
        out["inclusionProof"] = proof
    out["canonicalizedBody"] = _b64e(e.canonicalized_body)
    return out


def bundle_document(b: Bundle) -> dict[str, Any]:
    """See :meth:`Bundle.to_dict`."""
    vm: dict[str, Any] = {}
    if b.certificate is None:
        vm["publicKey"] = {"hint": b.public_key_hint} if b.public_key_hint else {}
    elif b.version == "0.3":
        vm["certificate"] = {"rawBytes": _b64e(b.certificate)}
    else:
        certs = (b.certificate, *b.chain)
        vm["x509CertificateChain"] = {"certificates": [{"rawBytes": _b64e(c)} for c in certs]}
    vm["tlogEntries"] = [tlog_entry_document(b.tlog_entry)]
    vm["timestampVerificationData"] = {
        "rfc3161Timestamps": [{"signedTimestamp": _b64e(t)} for t in b.timestamps]
    }
    doc: dict[str, Any] = {"mediaType": b.media_type, "verificationMaterial": vm}
    content = b.content
    if isinstance(content, DsseEnvelope):
        doc["dsseEnvelope"] = {
            "payload": _b64e(content.payload),
            "payloadType": content.payload_type,
            "signatures": [
                {"sig": _b64e(sig), **({"keyid": keyid} if keyid is not None else {})}
                for sig, keyid in content.signatures
            ],
        }
    else:
        ms: dict[str, Any] = {}
        if content.digest is not None:
            ms["messageDigest"] = {
                "algorithm": content.digest_algorithm,
                "digest": _b64e(content.digest),
            }
        ms["signature"] = _b64e(content.signature)
        doc["messageSignature"] = ms
    return doc


def parse_bundle(doc: object) -> Bundle:
    """Shape-check a parsed bundle document, with a precise error for anything wrong.

    One reader for every shape: a second, inlined reader for the usual bundles saved
    9 µs of the ~1–3 ms a verification takes, not worth a second copy of the rules."""
    return _parse_strict(doc)


def _parse_strict(doc: object) -> Bundle:
    top = Obj(
        doc,
        "bundle",
        ("mediaType", "verificationMaterial", "messageSignature", "dsseEnvelope"),
        BundleError,
    )
    media_type = top.req_str("mediaType")
    version = MEDIA_TYPES.get(media_type)
    if version is None:
        raise BundleError(f"unsupported bundle media type {media_type!r}")
    vm = top.obj("verificationMaterial", _MATERIAL)
    assert vm is not None

    content = _content(top)
    certificate, chain, hint = _signing_material(vm, version)
    entry = _single_entry(vm)
    timestamps = _timestamps(vm)

    # Inclusion proof rules by version (protobuf-specs; sigstore-python models.py).
    proof = entry.inclusion_proof
    if proof is None or proof.checkpoint is None:
        raise BundleError("log entry must contain an inclusion proof with a checkpoint")
    if version == "0.1":
        if entry.inclusion_promise is None:
            raise BundleError("v0.1 bundle must contain an inclusion promise")
    elif entry.inclusion_promise is None and not timestamps:
        raise BundleError("bundle must contain an inclusion promise or signed timestamp(s)")

    return Bundle(
        media_type=media_type,
        version=version,
        tlog_entry=entry,
        content=content,
        certificate=certificate,
        chain=chain,
        public_key_hint=hint,
        timestamps=timestamps,
    )


def _content(top: Obj) -> MessageSignature | DsseEnvelope:
    ms = top.obj("messageSignature", ("messageDigest", "signature"), required=False)
    env = top.obj("dsseEnvelope", ("payload", "payloadType", "signatures"), required=False)
    if (ms is None) == (env is None):
        raise BundleError("bundle must hold exactly one of messageSignature or dsseEnvelope")
    if ms is not None:
        md = ms.obj("messageDigest", ("algorithm", "digest"), required=False)
        algorithm = digest = None
        if md is not None:
            algorithm = md.enum("algorithm", HASH_ALGORITHMS)
            digest = md.req_bytes("digest")
        return MessageSignature(ms.req_bytes("signature"), algorithm, digest)
    assert env is not None
    sigs = []
    for i, raw in enumerate(env.list("signatures")):
        s = Obj(raw, f"bundle.dsseEnvelope.signatures[{i}]", ("sig", "keyid"), BundleError)
        sigs.append((s.req_bytes("sig"), s.str("keyid", required=False)))
    if len(sigs) != 1:
        raise BundleError(f"DSSE envelope must carry exactly one signature, found {len(sigs)}")
    return DsseEnvelope(env.req_bytes("payload"), env.req_str("payloadType"), tuple(sigs))


def _signing_material(vm: Obj, version: str) -> tuple[bytes | None, tuple[bytes, ...], str | None]:
    present = [n for n in ("publicKey", "x509CertificateChain", "certificate") if vm.has(n)]
    if len(present) != 1:
        raise BundleError(
            "verification material must hold exactly one of publicKey, "
            "x509CertificateChain or certificate"
        )
    if vm.has("publicKey"):
        pk = vm.obj("publicKey", ("hint",))
        assert pk is not None
        return None, (), pk.str("hint", required=False) or ""
    if version == "0.3":
        # v0.3 keyless bundles carry the leaf alone (protobuf-specs client policy).
        if not vm.has("certificate"):
            raise BundleError("v0.3 bundle must carry 'certificate', not a chain")
        cert = vm.obj("certificate", ("rawBytes",))
        assert cert is not None
        return cert.req_bytes("rawBytes"), (), None
    if not vm.has("x509CertificateChain"):
        raise BundleError(f"v{version} bundle must carry an x509CertificateChain")
    chain_obj = vm.obj("x509CertificateChain", ("certificates",))
    assert chain_obj is not None
    ders = []
    for i, raw in enumerate(chain_obj.list("certificates")):
        c = Obj(raw, f"bundle.x509CertificateChain.certificates[{i}]", ("rawBytes",), BundleError)
        ders.append(c.req_bytes("rawBytes"))
    if not ders:
        raise BundleError("certificate chain in bundle is empty")
    return ders[0], tuple(ders[1:]), None


def _single_entry(vm: Obj) -> TlogEntry:
    raws = vm.list("tlogEntries")
    if len(raws) != 1:
        raise BundleError(f"bundle must contain exactly one log entry, found {len(raws)}")
    return parse_tlog_entry(raws[0], "bundle.tlogEntries[0]")


def parse_tlog_entry(raw: object, where: str = "log entry") -> TlogEntry:
    """A ``TransparencyLogEntry`` (protobuf JSON) — the shape bundles carry and sceau's
    log readers convert Rekor answers into."""
    e = Obj(raw, where, _ENTRY, BundleError)
    log_id = e.obj("logId", ("keyId",))
    kv = e.obj("kindVersion", ("kind", "version"))
    assert log_id is not None and kv is not None
    kind, version = kv.req_str("kind"), kv.req_str("version")
    if version not in ("0.0.1", "0.0.2"):
        raise BundleError(f"unsupported log entry version {kind}/{version}")
    promise = e.obj("inclusionPromise", ("signedEntryTimestamp",), required=False)
    proof_obj = e.obj(
        "inclusionProof",
        ("logIndex", "rootHash", "treeSize", "hashes", "checkpoint"),
        required=False,
    )
    proof = None
    if proof_obj is not None:
        index = proof_obj.u64("logIndex")
        size = proof_obj.u64("treeSize")
        assert index is not None and size is not None
        if size <= index:
            raise BundleError(f"inclusion proof logIndex {index} must be less than treeSize {size}")
        cp = proof_obj.obj("checkpoint", ("envelope",), required=False)
        proof = InclusionProof(
            log_index=index,
            root_hash=proof_obj.req_bytes("rootHash"),
            tree_size=size,
            hashes=_proof_hashes(proof_obj.list("hashes")),
            checkpoint=cp.req_str("envelope") if cp is not None else None,
        )
    index = e.u64("logIndex")
    assert index is not None
    return TlogEntry(
        log_index=index,
        log_id=log_id.req_bytes("keyId"),
        kind=kind,
        version=version,
        integrated_time=e.u64("integratedTime", required=False) or 0,
        inclusion_promise=promise.req_bytes("signedEntryTimestamp") if promise else None,
        inclusion_proof=proof,
        canonicalized_body=e.req_bytes("canonicalizedBody"),
    )


def _proof_hashes(hashes: list[Any]) -> tuple[bytes, ...]:
    """Decode the proof's base64 hashes: canonical strings in one pass (the usual case),
    else item by item with the lenient decoder and a precise error."""
    if all(type(h) is str for h in hashes):
        try:
            return tuple([a2b_base64(h, strict_mode=True) for h in hashes])
        except (binascii.Error, ValueError):
            pass
    return tuple(
        _b64_item(h, f"bundle.tlogEntries[0].inclusionProof.hashes[{i}]")
        for i, h in enumerate(hashes)
    )


def _b64_item(value: object, where: str) -> bytes:
    if not isinstance(value, str):
        raise BundleError(f"{where}: must be a base64 string")
    return b64decode(value, where, BundleError)


def _timestamps(vm: Obj) -> tuple[bytes, ...]:
    tvd = vm.obj("timestampVerificationData", ("rfc3161Timestamps",), required=False)
    if tvd is None:
        return ()
    out = []
    for i, raw in enumerate(tvd.list("rfc3161Timestamps", required=False)):
        t = Obj(raw, f"bundle.rfc3161Timestamps[{i}]", ("signedTimestamp",), BundleError)
        out.append(t.req_bytes("signedTimestamp"))
    return tuple(out)
