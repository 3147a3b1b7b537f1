"""What a log entry says about its signer: identities, issuer, key, artifact digest.

Rekor entries (hashedrekord, dsse, intoto; v1 and v2 shapes, docs/protocols.md §3) carry a
certificate or a public key; CT entries (RFC 6962 ``MerkleTreeLeaf``) carry a certificate
or a precertificate's TBS. Parsing is lenient in one way only: an entry this module does not
understand yields an :class:`Entry` with ``kind`` set and nothing else, so one odd entry
never stops a monitor (the Merkle check, not this parse, is what proves the log honest).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_public_key,
    load_pem_public_key,
)
from cryptography.x509.oid import ExtensionOID

from sceau.client.errors import PolicyError
from sceau.client.policy import der_utf8, raw_text

_FULCIO = "1.3.6.1.4.1.57264.1."
_OID_REPO_LEGACY = x509.ObjectIdentifier(_FULCIO + "5")
_OID_REPO = x509.ObjectIdentifier(_FULCIO + "12")
_OID_BUILD_CONFIG = x509.ObjectIdentifier(_FULCIO + "18")
_OID_ISSUER = x509.ObjectIdentifier(_FULCIO + "1")
_OID_ISSUER_V2 = x509.ObjectIdentifier(_FULCIO + "8")
_OID_USERNAME = x509.ObjectIdentifier(_FULCIO + "7")
_GITHUB = "https://github.com/"
# ecdsa-with-SHA256 AlgorithmIdentifier and an empty BIT STRING: a parseable (never
# verified) Certificate around a precertificate TBS, so pyca can read its extensions.
_FAKE_SIG = bytes.fromhex("300a06082a8648ce3d040302") + b"\x03\x01\x00"


@dataclass
class Entry:
    """One parsed entry; empty fields mean "not present" (or not understood)."""

    kind: str
    identities: list[str] = field(default_factory=list)
    dns_names: list[str] = field(default_factory=list)
    issuer: str | None = None
    subject: str | None = None
    artifact_digest: str | None = None  # "sha256:<hex>"
    github_repository: str | None = None  # "owner/repo"
    github_workflow: str | None = None  # "owner/repo/.github/workflows/f.yml"
    certificate: Any = None
    public_key: Any = None
    _fingerprint: str | None = None

    @property
    def key_fingerprint(self) -> str | None:
        """Hex SHA-256 of the signer's SPKI DER, computed on first use (it costs as much as
        the rest of the parse, and most rules never look at it)."""
        if self._fingerprint is None:
            key = self.public_key
            if key is None and self.certificate is not None:
                try:
                    key = self.certificate.public_key()
                except (ValueError, TypeError):
                    return None
            if key is None:
                return None
            spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
            self._fingerprint = hashlib.sha256(spki).hexdigest()
        return self._fingerprint


def parse_rekor(body: bytes, needles: tuple[bytes, ...] | None = None) -> Entry:
    """A Rekor leaf (canonical JSON ``{apiVersion, kind, spec}``).

    With ``needles``, a certificate containing none of them is not parsed (no rule could
    match it: see :attr:`sceau.monitor.watch.Watch.needles`).
    """
    try:
        doc = json.loads(body)
        kind, version, spec = doc["kind"], doc["apiVersion"], doc["spec"]
    except (ValueError, KeyError, TypeError):
        return Entry("unknown")
    name = f"{kind} {version}"
    try:
        digest, keys = _rekor_material(kind, version, spec)
    except (KeyError, TypeError, ValueError, binascii.Error):
        return Entry(name)
    entry = Entry(name, artifact_digest=digest)
    for material in keys:
        if _signer(entry, material, needles):
            break
    return entry


def _rekor_material(kind: str, version: str, spec: Any) -> tuple[str | None, list[bytes]]:
    """``(artifact digest, [PEM or DER signer material])`` of a Rekor spec."""
    if (kind, version) == ("hashedrekord", "0.0.1"):
        h = spec["data"]["hash"]
        return _digest(h["algorithm"], h["value"]), [
            _b64(spec["signature"]["publicKey"]["content"])
        ]
    if (kind, version) == ("hashedrekord", "0.0.2"):
        v = spec["hashedRekordV002"]
        digest = _digest(v["data"]["algorithm"], _b64(v["data"]["digest"]).hex())
        return digest, [_verifier_bytes(v["signature"]["verifier"])]
    if (kind, version) == ("dsse", "0.0.1"):
        h = spec["payloadHash"]
        return _digest(h["algorithm"], h["value"]), [
            _b64(s["verifier"]) for s in spec["signatures"]
        ]
    if (kind, version) == ("dsse", "0.0.2"):
        v = spec["dsseV002"]
        h = v["payloadHash"]
        digest = _digest(h["algorithm"], _b64(h["digest"]).hex())
        return digest, [_verifier_bytes(s["verifier"]) for s in v["signatures"]]
    if (kind, version) == ("intoto", "0.0.2"):
        content = spec["content"]
        h = content["hash"]
        keys = []
        for s in content["envelope"]["signatures"]:
            pem = _b64(s["publicKey"])
            keys.append(pem if pem.startswith(b"-----") else _b64(pem.decode()))
        return _digest(h["algorithm"], h["value"]), keys
    raise ValueError("unknown kind")


def _b64(value: str) -> bytes:
    return base64.b64decode(value.encode() + b"=" * (-len(value) % 4), altchars=None)


def _digest(algorithm: str, hex_value: str) -> str:
    name = {"SHA2_256": "sha256", "SHA2_384": "sha384", "SHA2_512": "sha512"}.get(
        algorithm, algorithm.lower()
    )
    return f"{name}:{hex_value.lower()}"


def _verifier_bytes(verifier: Any) -> bytes:
    if "x509Certificate" in verifier:
        return _b64(verifier["x509Certificate"]["rawBytes"])
    return _b64(verifier["publicKey"]["rawBytes"])


def _signer(entry: Entry, material: bytes, needles: tuple[bytes, ...] | None) -> bool:
    """Fill identities and issuer from a PEM/DER certificate, or the key from a public key;
    True once a signer was found."""
    try:
        if material.startswith(b"-----BEGIN CERTIFICATE"):
            der = _pem_body(material)
        elif material.startswith(b"-----BEGIN"):
            entry.public_key = load_pem_public_key(material)
            return True
        else:
            der = material
        if needles is not None and not any(n in der for n in needles):
            return True
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            entry.public_key = load_der_public_key(material)
            return True
    except (ValueError, TypeError, binascii.Error):
        return False
    _from_certificate(entry, cert)
    return True


def _pem_body(pem: bytes) -> bytes:
    lines = pem.strip().splitlines()
    return base64.b64decode(b"".join(lines[1:-1]))


def _from_certificate(entry: Entry, cert: Any) -> None:
    entry.certificate = cert
    try:
        exts = {ext.oid: ext.value for ext in cert.extensions}
        san = exts.get(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        if san is not None:
            entry.identities = [n.value for n in san if type(n) is x509.RFC822Name]
            entry.identities += [n.value for n in san if type(n) is x509.UniformResourceIdentifier]
            entry.identities += [
                der_utf8(n.value)
                for n in san
                if type(n) is x509.OtherName and n.type_id == _OID_USERNAME
            ]
            entry.dns_names = [n.value for n in san if type(n) is x509.DNSName]
        issuer = exts.get(_OID_ISSUER_V2)
        if issuer is not None:
            entry.issuer = der_utf8(issuer.value)
        elif (legacy := exts.get(_OID_ISSUER)) is not None:
            entry.issuer = raw_text(legacy.value)
        if cert.subject:
            entry.subject = cert.subject.rfc4514_string()
        entry.github_repository = _repository(exts)
        entry.github_workflow = _workflow(exts, entry.identities)
    except (PolicyError, ValueError):
        pass


def _repository(exts: dict[Any, Any]) -> str | None:
    der = exts.get(_OID_REPO)
    if der is not None:
        url = der_utf8(der.value)
        return url[len(_GITHUB) :] if url.startswith(_GITHUB) else url
    legacy = exts.get(_OID_REPO_LEGACY)
    return raw_text(legacy.value) if legacy is not None else None


def _workflow(exts: dict[Any, Any], identities: list[str]) -> str | None:
    """``owner/repo/.github/workflows/file.yml`` from the Build Config URI or the SAN."""
    der = exts.get(_OID_BUILD_CONFIG)
    candidates = [der_utf8(der.value)] if der is not None else []
    candidates += identities
    for uri in candidates:
        if uri.startswith(_GITHUB) and "/.github/workflows/" in uri:
            return uri[len(_GITHUB) :].partition("@")[0]
    return None


def parse_ct_leaf(leaf: bytes, needles: tuple[bytes, ...] | None = None) -> Entry:
    """An RFC 6962 ``MerkleTreeLeaf``: an X.509 entry or a precertificate's TBS."""
    from sceau.services.ct.rfc6962 import CodecError, EntryType, parse_merkle_tree_leaf

    try:
        parsed = parse_merkle_tree_leaf(leaf)
    except CodecError:
        return Entry("unknown")
    if parsed.entry_type is EntryType.PRECERT:
        kind, tbs = "precert", parsed.signed_entry[32 + 3 :]
        der = b"\x30" + _der_length(len(tbs) + len(_FAKE_SIG)) + tbs + _FAKE_SIG
    else:
        kind, der = "x509", parsed.signed_entry[3:]
    entry = Entry(kind)
    if needles is not None and not any(n in der for n in needles):
        return entry
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return entry
    _from_certificate(entry, cert)
    return entry


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw
