"""Log entry ↔ bundle consistency (docs/protocols.md §6 step 8; CVE-2022-36056).

The log vouches for ``canonicalizedBody`` only; the verifier checked the bundle's own
signature. Here we rebuild what the body must say from the verified materials — the signing
certificate (or key), the signature, the artifact digest or DSSE envelope — and compare.
Comparison is on parsed values (like sigstore-python's model equality), with PEM fields in
the standard re-encoding Rekor stores.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sceau.client.bundle import DsseEnvelope, TlogEntry
from sceau.client.errors import LogEntryError

_MISMATCH = "log entry is inconsistent with the bundle"
_HASHES = {"SHA2_256": "sha256", "SHA2_384": "sha384", "SHA2_512": "sha512"}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _body(entry: TlogEntry) -> Any:
    try:
        body = json.loads(entry.canonicalized_body)
    except (ValueError, UnicodeDecodeError):
        raise LogEntryError("log entry body is not JSON") from None
    if not isinstance(body, dict):
        raise LogEntryError("log entry body is not a JSON object")
    if body.get("kind") != entry.kind or body.get("apiVersion") != entry.version:
        raise LogEntryError(
            f"log entry body is {body.get('kind')}/{body.get('apiVersion')}, "
            f"bundle says {entry.kind}/{entry.version}"
        )
    return body


def key_details(public_key: Any) -> str:
    """Rekor v2 ``keyDetails`` for a signing key (the hash rule of rekor-tiles)."""

    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return {
            "secp256r1": "PKIX_ECDSA_P256_SHA_256",
            "secp384r1": "PKIX_ECDSA_P384_SHA_384",
            "secp521r1": "PKIX_ECDSA_P521_SHA_512",
        }.get(public_key.curve.name, "")
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "PKIX_ED25519"
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"PKIX_RSA_PKCS1V15_{public_key.key_size}_SHA256"
    return ""


def prehash_algorithm(details: str) -> str:
    """The hash that rekor-tiles uses for ``data`` with this key type."""
    if "P384" in details:
        return "SHA2_384"
    if "P521" in details or details.startswith("PKIX_ED25519"):
        return "SHA2_512"
    return "SHA2_256"


class Material:
    """The signer's public material as it appears in log entries."""

    def __init__(self, certificate: Any | None, public_key: Any, der: bytes | None = None) -> None:
        self.certificate = certificate
        self.public_key = public_key
        if der is None:
            der = (
                certificate.public_bytes(Encoding.DER)
                if certificate is not None
                else public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
            )
        self.der = der  # certificate DER, or SPKI DER for a managed key
        self.details = key_details(public_key)

    @property
    def pem(self) -> bytes:
        """Standard PEM (64-column base64, trailing newline), as Rekor v1 stores it."""
        label = b"CERTIFICATE" if self.certificate is not None else b"PUBLIC KEY"
        b64 = base64.b64encode(self.der)
        lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
        return b"-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, b"\n".join(lines), label)

    def v2_verifier(self) -> dict[str, Any]:
        if self.certificate is not None:
            return {"keyDetails": self.details, "x509Certificate": {"rawBytes": _b64(self.der)}}
        return {"keyDetails": self.details, "publicKey": {"rawBytes": _b64(self.der)}}


def check_hashedrekord(
    entry: TlogEntry,
    material: Material,
    signature: bytes,
    digest: bytes,
    algorithm: str = "SHA2_256",
) -> None:
    """hashedrekord 0.0.1 (hex digest, PEM key) or 0.0.2 (raw digest, DER verifier)."""
    body = _body(entry)
    if entry.kind != "hashedrekord":
        raise LogEntryError(f"expected a hashedrekord log entry, got {entry.kind}")
    if entry.version == "0.0.1":
        expected = {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": _HASHES.get(algorithm, ""), "value": digest.hex()}},
                "signature": {
                    "content": _b64(signature),
                    "publicKey": {"content": _b64(material.pem)},
                },
            },
        }
    else:
        expected = {
            "apiVersion": "0.0.2",
            "kind": "hashedrekord",
            "spec": {
                "hashedRekordV002": {
                    "data": {"algorithm": algorithm, "digest": _b64(digest)},
                    "signature": {"content": _b64(signature), "verifier": material.v2_verifier()},
                }
            },
        }
    if not _same(body, expected):
        raise LogEntryError(_MISMATCH)


def check_dsse(entry: TlogEntry, material: Material, envelope: DsseEnvelope) -> None:
    """DSSE envelope against dsse 0.0.1/0.0.2, intoto 0.0.2 or hashedrekord-over-PAE 0.0.2."""
    sig = envelope.signatures[0][0]
    kind, version = entry.kind, entry.version
    if kind == "hashedrekord" and version == "0.0.2":
        alg = prehash_algorithm(material.details)
        digest = hashlib.new(_HASHES[alg], envelope.pae()).digest()
        check_hashedrekord(entry, material, sig, digest, alg)
        return
    body = _body(entry)
    spec = body.get("spec")
    if not isinstance(spec, dict):
        raise LogEntryError("log entry body has no spec")
    payload_hex = hashlib.sha256(envelope.payload).hexdigest()
    if kind == "dsse" and version == "0.0.1":
        ph = spec.get("payloadHash")
        if ph != {"algorithm": "sha256", "value": payload_hex}:
            raise LogEntryError("log entry payload hash does not match the DSSE envelope")
        want: list[dict[str, Any]] = [
            {"signature": _b64(s), "verifier": _b64(material.pem)} for s, _ in envelope.signatures
        ]
        if spec.get("signatures") != want:
            raise LogEntryError("log entry signatures do not match the DSSE envelope")
    elif kind == "dsse" and version == "0.0.2":
        inner = spec.get("dsseV002")
        if not isinstance(inner, dict):
            raise LogEntryError("dsse 0.0.2 entry has no dsseV002 spec")
        ph = inner.get("payloadHash")
        if not _same(ph, {"algorithm": "SHA2_256", "digest": _b64(bytes.fromhex(payload_hex))}):
            raise LogEntryError("log entry payload hash does not match the DSSE envelope")
        want = [{"content": _b64(sig), "verifier": material.v2_verifier()}]
        if not _same(inner.get("signatures"), want):
            raise LogEntryError("log entry signatures do not match the DSSE envelope")
    elif kind == "intoto" and version == "0.0.2":
        _check_intoto(spec, material, envelope, payload_hex)
    else:
        raise LogEntryError(f"unsupported log entry type for DSSE: {kind}/{version}")


def _check_intoto(
    spec: dict[str, Any], material: Material, envelope: DsseEnvelope, payload_hex: str
) -> None:
    """intoto 0.0.2 as Rekor stores it: payload and signatures base64-encoded twice."""
    content = spec.get("content")
    if not isinstance(content, dict):
        raise LogEntryError("intoto entry has no content")
    if content.get("payloadHash") != {"algorithm": "sha256", "value": payload_hex}:
        raise LogEntryError("log entry payload hash does not match the DSSE envelope")
    env = content.get("envelope")
    if not isinstance(env, dict) or env.get("payloadType") != envelope.payload_type:
        raise LogEntryError("log entry envelope does not match the DSSE envelope")
    if "payload" in env and env["payload"] != _b64(_b64(envelope.payload).encode()):
        raise LogEntryError("log entry payload does not match the DSSE envelope")
    # sigstore-js writes the PEM unwrapped: compare the certificate (DER), not the text.
    want = [(_b64(_b64(s).encode()), material.der) for s, _ in envelope.signatures]
    got = [
        (s.get("sig"), _pem_der(s.get("publicKey")))
        for s in env.get("signatures") or []
        if isinstance(s, dict)
    ]
    if got != want:
        raise LogEntryError("log entry signatures do not match the DSSE envelope")


def _pem_der(value: Any) -> bytes | None:
    """DER inside a base64-encoded PEM block, whatever its line wrapping."""
    if not isinstance(value, str):
        return None
    try:
        pem = base64.b64decode(value, validate=True).decode()
        lines = [ln for ln in pem.strip().splitlines() if ln and not ln.startswith("-----")]
        return base64.b64decode("".join(lines), validate=True)
    except (ValueError, UnicodeDecodeError):
        return None


def _same(actual: Any, expected: Any) -> bool:
    """Equal as protobuf-JSON values: canonical text first (the usual case), then with
    base64 fields compared decoded (padding or alphabet variants)."""
    return bool(actual == expected or _normal(actual) == _normal(expected))


def _normal(value: Any) -> Any:
    """Normalise a protobuf-JSON value: bytes fields compared decoded, not as text."""
    if isinstance(value, dict):
        return {k: _normal_field(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


_BYTES_FIELDS = frozenset({"digest", "content", "rawBytes"})


def _normal_field(key: str, value: Any) -> Any:
    if key in _BYTES_FIELDS and isinstance(value, str):
        try:
            return ("b", base64.b64decode(value + "=" * (-len(value) % 4), validate=True))
        except ValueError:
            return ("s", value)
    return _normal(value)
