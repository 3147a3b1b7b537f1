"""Offline verification of a gitsign-format signature over a git object.

A gitsign signature maps onto a Sigstore bundle exactly (gitsign's own compat layer says
so): the "artifact" is the DER of the CMS signed attributes, its SHA-256 is the
``hashedrekord`` digest, the CMS signature is the message signature and the log entry
comes from the unsigned attribute. So the ordinary :class:`~sceau.client.verify.Verifier`
does the Sigstore half (chain to the trusted root, SCT, identity policy, inclusion proof,
checkpoint, SET or timestamps, certificate validity at the verified time), and this module
adds the CMS half: the signed attributes really commit to *this* object's bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sceau.client.bundle import BUNDLE_V03
from sceau.client.errors import BundleError, LogEntryError, SignatureError
from sceau.client.git import cms, tlogpb
from sceau.client.hashing import Digest
from sceau.client.policy import VerificationPolicy
from sceau.client.trust import TrustedRoot
from sceau.client.verify import VerificationResult, Verifier


@dataclass(frozen=True)
class GitVerification:
    """A verified git signature: the Sigstore result and the parsed CMS."""

    result: VerificationResult
    signature: cms.ParsedSignature

    @property
    def certificate(self) -> Any:
        return self.result.certificate

    @property
    def log_index(self) -> int:
        return self.result.bundle.tlog_entry.log_index


class AnyIdentity:
    """``git verify-commit`` passes no identity: chain, SCT and log are still checked."""

    def verify(self, cert: Any) -> None:
        return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _pem(der: bytes) -> bytes:
    text = base64.b64encode(der)
    lines = b"\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    return b"-----BEGIN CERTIFICATE-----\n" + lines + b"\n-----END CERTIFICATE-----\n"


def hashedrekord_v1_body(digest: bytes, signature: bytes, certificate: bytes) -> bytes:
    """The canonical (RFC 8785) hashedrekord 0.0.1 body Rekor v1 logged for this signature
    — what gitsign drops from the attribute and rebuilds."""
    import rfc8785

    body: Any = {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            "signature": {
                "content": _b64(signature),
                "publicKey": {"content": _b64(_pem(certificate))},
            },
        },
    }
    return bytes(rfc8785.dumps(body))


def to_bundle(sig: cms.ParsedSignature) -> tuple[dict[str, Any], Digest]:
    """The Sigstore bundle (v0.3 JSON) equivalent to a gitsign signature, and the digest
    of its artifact (the signed attributes)."""
    if sig.digest_algorithm != "sha256":
        raise SignatureError(f"signature digest algorithm is {sig.digest_algorithm}, not SHA-256")
    digest = hashlib.sha256(sig.signed_attributes).digest()
    if sig.tlog_entry is None:
        raise LogEntryError(
            "signature carries no transparency log entry (attribute 1.3.6.1.4.1.57264.3.1): "
            "it was not signed in gitsign's offline mode, so it cannot be verified offline"
        )
    entry = tlogpb.decode_entry(sig.tlog_entry)
    kind = entry.get("kindVersion") or {}
    if "canonicalizedBody" not in entry:
        if (kind.get("kind"), kind.get("version")) != ("hashedrekord", "0.0.1"):
            raise LogEntryError(
                f"log entry attribute of kind {kind.get('kind')}/{kind.get('version')} has no body"
            )
        entry["canonicalizedBody"] = _b64(
            hashedrekord_v1_body(digest, sig.signature, sig.signer_certificate)
        )
    bundle = {
        "mediaType": BUNDLE_V03,
        "verificationMaterial": {
            "certificate": {"rawBytes": _b64(sig.signer_certificate)},
            "tlogEntries": [entry],
            "timestampVerificationData": {
                "rfc3161Timestamps": [
                    {"signedTimestamp": _b64(cms.token_response(t))} for t in sig.timestamp_tokens
                ]
            },
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": _b64(digest)},
            "signature": _b64(sig.signature),
        },
    }
    return bundle, Digest(digest)


def verify_signature(
    payload: bytes,
    signature: bytes,
    trusted_root: TrustedRoot,
    policy: VerificationPolicy | None = None,
    *,
    verifier: Verifier | None = None,
) -> GitVerification:
    """Verify ``signature`` (armored CMS) over the git object ``payload``, offline.

    Raises a :class:`~sceau.errors.VerificationError` subclass naming the failed check.
    """
    parsed = cms.parse(signature)
    if parsed.content_type != "data":
        raise BundleError(f"signed content type is {parsed.content_type}, not id-data")
    if parsed.signature_algorithm not in ("sha256_ecdsa", "ecdsa"):
        raise SignatureError(f"unsupported signature algorithm {parsed.signature_algorithm}")
    bundle, digest = to_bundle(parsed)
    verifier = verifier or Verifier(trusted_root)
    result = verifier.verify_artifact(json.dumps(bundle).encode(), digest, policy or AnyIdentity())
    # The Sigstore half proved who signed the attributes; now the attributes must be about
    # this object. Compared in constant time out of habit (the values are public).
    import hmac

    if not hmac.compare_digest(parsed.message_digest, hashlib.sha256(payload).digest()):
        raise SignatureError(
            "the signature is valid but covers other content: this commit or tag was "
            "changed after signing (amended, rebased or edited)"
        )
    return GitVerification(result, parsed)
