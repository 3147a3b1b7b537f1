"""Where signatures live next to an image, in the two layouts Sigstore tools use.

1. **Referrer** (cosign v3's default, ``@sigstore/oci``, GitHub attestations; cosign's
   ``specs/BUNDLE_SPEC.md``): the Sigstore bundle is a blob, referenced by an OCI 1.1
   manifest whose ``artifactType`` is the bundle media type and whose ``subject`` is the
   image; found through the referrers API or its ``sha256-<hex>`` tag fallback.
2. **Legacy** (cosign before v3; ``specs/SIGNATURE_SPEC.md``): a manifest tagged
   ``sha256-<hex>.sig`` (``.att`` for attestations) whose layers are signed payloads, with
   the signature, certificate, chain, Rekor SET and RFC 3161 timestamp in annotations.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sceau.client.oci.errors import RegistryError, RegistryNotFound
from sceau.client.oci.registry import (
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Registry,
    fallback_tag,
    sha256_digest,
)

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_LAYER = "application/vnd.dsse.envelope.v1+json"
ANN_SIGNATURE = "dev.cosignproject.cosign/signature"
ANN_CERTIFICATE = "dev.sigstore.cosign/certificate"
ANN_CHAIN = "dev.sigstore.cosign/chain"
ANN_BUNDLE = "dev.sigstore.cosign/bundle"
ANN_TIMESTAMP = "dev.sigstore.cosign/rfc3161timestamp"
ANN_CONTENT = "dev.sigstore.bundle.content"
ANN_PREDICATE = "dev.sigstore.bundle.predicateType"
ANN_CREATED = "org.opencontainers.image.created"
ANN_TITLE = "org.opencontainers.image.title"


# -- layout 1: bundles as referrers ---------------------------------------------------------


def attach_bundle(
    registry: Registry, repo: str, subject: Descriptor, bundle: bytes, predicate_type: str | None
) -> str:
    """Store ``bundle`` as a referrer of ``subject``; returns the referrer manifest's digest."""
    content = "dsse-envelope" if b'"dsseEnvelope"' in bundle else "message-signature"
    annotations = {ANN_CONTENT: content, ANN_CREATED: _now()}
    if predicate_type:
        annotations[ANN_PREDICATE] = predicate_type
    config = Descriptor(EMPTY_MEDIA_TYPE, registry.put_blob(repo, EMPTY), len(EMPTY))
    blob_digest = registry.put_blob(repo, bundle)
    layer = Descriptor(
        BUNDLE_MEDIA_TYPE, blob_digest, len(bundle),
        annotations={ANN_TITLE: f"{fallback_tag(blob_digest)}.sigstore.json"},
    )  # fmt: skip
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": BUNDLE_MEDIA_TYPE,
        "config": config.to_json(),
        "layers": [layer.to_json()],
        "subject": Descriptor(subject.media_type, subject.digest, subject.size).to_json(),
        "annotations": annotations,
    }
    body = json.dumps(manifest, separators=(",", ":")).encode()
    digest = registry.put_manifest(repo, sha256_digest(body), body, OCI_MANIFEST)
    if registry.referrers_api(repo, subject.digest) is None:  # keep the tag fallback current
        _add_to_fallback_index(
            registry, repo, subject.digest,
            Descriptor(OCI_MANIFEST, digest, len(body), BUNDLE_MEDIA_TYPE, annotations),
        )  # fmt: skip
    return digest


def _add_to_fallback_index(
    registry: Registry, repo: str, subject_digest: str, descriptor: Descriptor
) -> None:
    tag = fallback_tag(subject_digest)
    try:
        body, _, _ = registry.get_manifest(repo, tag)
        index = json.loads(body)
    except RegistryNotFound:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    manifests = [m for m in index.get("manifests", []) if m.get("digest") != descriptor.digest]
    index["manifests"] = [*manifests, descriptor.to_json()]
    registry.put_manifest(repo, tag, json.dumps(index, separators=(",", ":")).encode(), OCI_INDEX)


@dataclass(frozen=True)
class AttachedBundle:
    """A bundle found as a referrer, with the descriptor that listed it."""

    manifest_digest: str
    annotations: dict[str, str]
    bundle: bytes


def referrer_bundles(registry: Registry, repo: str, digest: str) -> list[AttachedBundle]:
    """Every Sigstore bundle attached to ``digest`` as a referrer."""
    found = []
    for d in registry.referrers(repo, digest):
        if d.artifact_type not in (BUNDLE_MEDIA_TYPE, None):
            continue
        body, _, _ = registry.get_manifest(repo, d.digest)
        manifest = json.loads(body)
        if not isinstance(manifest, dict) or manifest.get("artifactType") != BUNDLE_MEDIA_TYPE:
            continue
        subject = manifest.get("subject")
        if not isinstance(subject, dict) or subject.get("digest") != digest:
            continue  # listed for another image: not ours to trust
        for layer in manifest.get("layers") or []:
            if isinstance(layer, dict) and layer.get("mediaType") == BUNDLE_MEDIA_TYPE:
                blob = registry.get_blob(repo, str(layer.get("digest")))
                found.append(AttachedBundle(d.digest, dict(d.annotations), blob))
    return found


# -- layout 2: cosign's legacy tags ---------------------------------------------------------


def legacy_tag(digest: str, suffix: str = "sig") -> str:
    return f"{fallback_tag(digest)}.{suffix}"


@dataclass(frozen=True)
class LegacySignature:
    """One layer of a ``.sig`` (or ``.att``) manifest: the signed payload and its annotations."""

    media_type: str
    payload: bytes
    annotations: dict[str, str]


def simple_signing_payload(docker_reference: str, digest: str, optional: dict[str, str]) -> bytes:
    """cosign's signed payload for an image (``specs/SIGNATURE_SPEC.md``)."""
    payload = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": optional or None,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def legacy_annotations(bundle: dict[str, Any], chain_pems: list[str]) -> dict[str, str]:
    """The ``.sig`` layer annotations that carry what a Sigstore bundle (Rekor v1) holds."""
    material = bundle["verificationMaterial"]
    out = {ANN_SIGNATURE: bundle["messageSignature"]["signature"]}
    cert = material.get("certificate", {}).get("rawBytes")
    if cert:
        out[ANN_CERTIFICATE] = _pem(base64.b64decode(cert))
        if chain_pems:
            out[ANN_CHAIN] = "".join(chain_pems)
    entries = material.get("tlogEntries") or []
    if entries:
        e = entries[0]
        promise = e.get("inclusionPromise", {}).get("signedEntryTimestamp")
        if not promise:
            raise RegistryError("the legacy layout needs a Rekor v1 entry (with a SET): sign "
                                "with --rekor-version 1")  # fmt: skip
        out[ANN_BUNDLE] = json.dumps({
            "SignedEntryTimestamp": promise,
            "Payload": {
                "body": e["canonicalizedBody"],
                "integratedTime": int(e["integratedTime"]),
                "logIndex": int(e["logIndex"]),
                "logID": base64.b64decode(e["logId"]["keyId"]).hex(),
            },
        }, separators=(",", ":"))  # fmt: skip
    stamps = material.get("timestampVerificationData", {}).get("rfc3161Timestamps") or []
    if stamps:
        out[ANN_TIMESTAMP] = json.dumps({"SignedRFC3161Timestamp": stamps[0]["signedTimestamp"]})
    return out


def attach_legacy(
    registry: Registry, repo: str, digest: str, payload: bytes, annotations: dict[str, str],
    media_type: str = SIMPLE_SIGNING, suffix: str = "sig",
) -> str:  # fmt: skip
    """Add one signature layer to the ``.sig`` manifest of ``digest`` (created if missing)."""
    tag = legacy_tag(digest, suffix)
    layers: list[dict[str, Any]] = []
    try:
        body, _, _ = registry.get_manifest(repo, tag)
        existing = json.loads(body)
        layers = (
            [x for x in (existing.get("layers") or []) if isinstance(x, dict)]
            if isinstance(existing, dict)
            else []
        )
    except RegistryNotFound:
        pass
    layer = Descriptor(media_type, registry.put_blob(repo, payload), len(payload),
                       annotations=annotations)  # fmt: skip
    layers = [x for x in layers if x.get("digest") != layer.digest] + [layer.to_json()]
    config_blob = json.dumps({
        "architecture": "", "os": "", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [x["digest"] for x in layers]},
    }, separators=(",", ":")).encode()  # fmt: skip
    config = Descriptor("application/vnd.oci.image.config.v1+json",
                        registry.put_blob(repo, config_blob), len(config_blob))  # fmt: skip
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.to_json(),
                "layers": layers}  # fmt: skip
    return registry.put_manifest(
        repo, tag, json.dumps(manifest, separators=(",", ":")).encode(), OCI_MANIFEST
    )


def legacy_signatures(
    registry: Registry, repo: str, digest: str, suffix: str = "sig"
) -> list[LegacySignature]:
    try:
        body, _, _ = registry.get_manifest(repo, legacy_tag(digest, suffix))
    except RegistryNotFound:
        return []
    out = []
    manifest = json.loads(body)
    layers = manifest.get("layers") if isinstance(manifest, dict) else None
    for layer in layers if isinstance(layers, list) else []:
        if not isinstance(layer, dict):
            continue
        blob = registry.get_blob(repo, str(layer.get("digest")))
        annotations = layer.get("annotations") or {}
        out.append(LegacySignature(str(layer.get("mediaType")), blob, dict(annotations)))
    return out


def legacy_to_bundle(
    sig: LegacySignature, inclusion_proof: Callable[[str, int], dict[str, Any]] | None = None
) -> bytes:
    """A v0.1 Sigstore bundle from a legacy layer (certificate chain, Rekor SET, timestamp),
    so the one verifier checks both layouts. The layer has no inclusion proof, which the
    verifier requires: ``inclusion_proof(log_id_hex, index)`` fetches it from the log (the
    proof is checked against the entry body and a signed checkpoint, so the log is not
    trusted for it)."""
    a = sig.annotations
    if ANN_CERTIFICATE not in a or ANN_BUNDLE not in a or ANN_SIGNATURE not in a:
        raise RegistryError("legacy signature lacks its certificate, signature or Rekor bundle")
    try:
        rekor = json.loads(a[ANN_BUNDLE])
        payload = rekor["Payload"]
        certs = [_der(p) for p in _split_pems(a[ANN_CERTIFICATE] + a.get(ANN_CHAIN, ""))]
        entry = {
            "logIndex": str(int(payload["logIndex"])),
            "logId": {"keyId": base64.b64encode(bytes.fromhex(payload["logID"])).decode()},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
            "integratedTime": str(int(payload["integratedTime"])),
            "inclusionPromise": {"signedEntryTimestamp": rekor["SignedEntryTimestamp"]},
            "canonicalizedBody": payload["body"],
        }
        if inclusion_proof is not None:
            entry["inclusionProof"] = inclusion_proof(payload["logID"], int(payload["logIndex"]))
        material: dict[str, Any] = {
            "x509CertificateChain": {
                "certificates": [{"rawBytes": base64.b64encode(c).decode()} for c in certs]
            },
            "tlogEntries": [entry],
        }
        if ANN_TIMESTAMP in a:
            stamp = json.loads(a[ANN_TIMESTAMP])["SignedRFC3161Timestamp"]
            material["timestampVerificationData"] = {"rfc3161Timestamps": [
                {"signedTimestamp": stamp}]}  # fmt: skip
    except (KeyError, ValueError, TypeError) as e:
        raise RegistryError(f"legacy signature annotations are malformed: {e}") from None
    bundle = {
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": material,
        "messageSignature": {
            "messageDigest": {
                "algorithm": "SHA2_256",
                "digest": base64.b64encode(bytes.fromhex(sha256_digest(sig.payload)[7:])).decode(),
            },
            "signature": a[ANN_SIGNATURE],
        },
    }
    return json.dumps(bundle).encode()


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _pem(der: bytes) -> str:
    b64 = base64.b64encode(der).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def _split_pems(text: str) -> list[str]:
    end = "-----END CERTIFICATE-----"
    return [p.strip() + "\n" + end + "\n" for p in text.split(end) if "BEGIN" in p]


def _der(pem: str) -> bytes:
    body = "".join(line for line in pem.splitlines() if line and "-----" not in line)
    return base64.b64decode(body)
