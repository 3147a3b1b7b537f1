"""Keyless signing: artifact (or in-toto statement) + identity token → bundle v0.3.

The flow of sigstore-python's ``sign.py`` (docs/protocols.md §6, end):

1. an ephemeral P-256 key; a CSR with an empty subject (or a proof of possession) goes to
   the CA with the token as ``Authorization: Bearer``;
2. the returned leaf must hold our key and exactly one embedded SCT that verifies against
   the trusted root's CT logs — checked now, before anything is signed or logged;
3. sign: ECDSA over the SHA-256 digest (files are hashed streaming), or over DSSE's PAE;
4. timestamp the signature at every selected TSA; a failing TSA is skipped with a warning,
   but a Rekor v2 log (no SET) needs at least one timestamp, so that is checked *before*
   logging;
5. log it: Rekor v1 ``hashedrekord``/``dsse`` 0.0.1, or Rekor v2 ``hashedrekord`` 0.0.2 (for
   DSSE: over the PAE digest, as sigstore-python ≥ 4.3);
6. assemble the bundle and verify it with sceau's own verifier before handing it out (a
   signer should never write a bundle that does not verify).

    ctx = SigningContext.from_trust_config(Path("trust_config.json"))
    with ctx.signer(IdentityToken.parse(token)) as signer:
        bundle = signer.sign_artifact(Path("a.txt"))      # a Bundle: bundle.to_json()
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sceau.client._sign_http import (
    Http,
    SigningServiceError,
    b64,
    rekor_v1_create,
    rekor_v2_create,
    request_certificate,
    request_timestamp,
)
from sceau.client.bundle import BUNDLE_V03, Bundle, parse_bundle
from sceau.client.hashing import Digest, hash_file
from sceau.client.identity import IdentityError, IdentityToken
from sceau.client.signing_config import Service, SigningConfig
from sceau.client.trust import TrustedRoot
from sceau.errors import InputError

_log = logging.getLogger(__name__)
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
_HASHLIB = {"SHA2_256": "sha256", "SHA2_384": "sha384", "SHA2_512": "sha512"}


class SigningError(SigningServiceError):
    """Signing could not complete (no timestamp for Rekor v2, a bad certificate, …)."""


# -- keys ---------------------------------------------------------------------------------


class SigningKey(Protocol):
    """What signing needs from a key: ECDSA P-256 in Sigstore's two forms."""

    def public_key(self) -> Any: ...

    def sign_digest(self, digest: bytes) -> bytes:
        """DER ECDSA signature over a precomputed SHA-256 digest (message signatures)."""
        ...

    def sign_message(self, message: bytes) -> bytes:
        """DER ECDSA-SHA256 signature over ``message`` (DSSE PAE)."""
        ...


class EphemeralKey:
    """A P-256 key that lives in memory for one signing session, never written anywhere."""

    def __init__(self, private_key: Any | None = None) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.private_key = private_key or ec.generate_private_key(ec.SECP256R1())

    def public_key(self) -> Any:
        return self.private_key.public_key()

    def sign_digest(self, digest: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

        return self.private_key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))

    def sign_message(self, message: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        return self.private_key.sign(message, ec.ECDSA(hashes.SHA256()))

    def __repr__(self) -> str:
        return "EphemeralKey(<private>)"


# -- what gets signed -----------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope with one signature."""

    payload: bytes
    payload_type: str
    signature: bytes

    def pae(self) -> bytes:
        return pae(self.payload_type, self.payload)

    def to_json(self) -> dict[str, Any]:
        return {
            "payload": b64(self.payload),
            "payloadType": self.payload_type,
            "signatures": [{"sig": b64(self.signature)}],
        }


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def artifact_digest(artifact: bytes | str | Path | Digest) -> Digest:
    """SHA-256 of the artifact: bytes, a file (streamed), or a given digest."""
    if isinstance(artifact, Digest):
        if artifact.algorithm != "sha256":
            raise InputError("only SHA-256 digests can be signed")
        return artifact
    if isinstance(artifact, bytes | bytearray | memoryview):
        return Digest(hashlib.sha256(artifact).digest())
    return hash_file(artifact)


def statement_bytes(statement: bytes | str | dict[str, Any]) -> bytes:
    """The in-toto statement as the exact payload bytes to sign; must be a JSON object with a
    ``_type`` and a non-empty ``subject`` list (what verifiers match artifacts against)."""
    if isinstance(statement, dict):
        data = json.dumps(statement, separators=(",", ":"), sort_keys=True).encode()
    elif isinstance(statement, str):
        data = statement.encode()
    else:
        data = bytes(statement)
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise InputError("in-toto statement is not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("_type"), str):
        raise InputError("in-toto statement must be a JSON object with a '_type'")
    subjects = doc.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise InputError("in-toto statement must have a non-empty 'subject' list")
    return data


# -- the signing core shared by keyless and key-based signing ---------------------------------


@dataclass(frozen=True)
class Material:
    """The signer's public half: a certificate (keyless) or a bare public key."""

    public_key: Any
    certificate: Any | None = None  # cryptography x509.Certificate
    hint: str | None = None  # managed keys: the bundle's publicKey.hint

    @property
    def entry_material(self) -> Any:
        from sceau.client.entries import Material as EntryMaterial

        return EntryMaterial(self.certificate, self.public_key)

    def verification_material(self) -> dict[str, Any]:
        from cryptography.hazmat.primitives.serialization import Encoding

        if self.certificate is not None:
            return {"certificate": {"rawBytes": b64(self.certificate.public_bytes(Encoding.DER))}}
        return {"publicKey": {"hint": self.hint or ""}}


def proposed_hashedrekord(
    version: int, material: Material, signature: bytes, digest: bytes, algorithm: str = "SHA2_256"
) -> dict[str, Any]:
    """The log request for a message signature (v1 proposed entry / v2 CreateEntryRequest)."""
    em = material.entry_material
    if version == 1:
        return {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": _HASHLIB[algorithm], "value": digest.hex()}},
                "signature": {"content": b64(signature), "publicKey": {"content": b64(em.pem)}},
            },
        }
    return {
        "hashedRekordRequestV002": {
            "digest": b64(digest),
            "signature": {"content": b64(signature), "verifier": em.v2_verifier()},
        }
    }


def proposed_dsse(version: int, material: Material, envelope: Envelope) -> dict[str, Any]:
    """v1: a ``dsse`` 0.0.1 entry; v2: a hashedrekord over the PAE digest (rekor-v2-spec
    §6.1.4; rekor-tiles ≥ 2.3 has no DSSE type)."""
    em = material.entry_material
    if version == 1:
        return {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "proposedContent": {
                    "envelope": json.dumps(envelope.to_json(), separators=(",", ":")),
                    "verifiers": [b64(em.pem)],
                }
            },
        }
    from sceau.client.entries import prehash_algorithm

    algorithm = prehash_algorithm(em.details)
    digest = hashlib.new(_HASHLIB[algorithm], envelope.pae()).digest()
    return proposed_hashedrekord(2, material, envelope.signature, digest, algorithm)


def timestamps_for(
    http: Http,
    tsas: Sequence[Service],
    signature: bytes,
    trusted_root: TrustedRoot,
) -> list[bytes]:
    """A verified RFC 3161 token from every TSA that gives one; the others are warned about
    and skipped (as sigstore-python). Tokens that would not verify are not kept."""
    from sceau.client.timestamps import verify_token
    from sceau.errors import SceauError

    tokens = []
    for tsa in tsas:
        try:
            token = request_timestamp(http, tsa.url, signature)
            verify_token(token, signature, trusted_root)
        except SceauError as e:
            _log.warning("warning: skipping TSA %s: %s", tsa.url, e.message)
            continue
        tokens.append(token)
    return tokens


def require_timestamps(tlog: Service, tsas: Sequence[Service]) -> None:
    """Rekor v2 gives no signed time: refuse up front when no TSA is configured."""
    if tlog.major_api_version == 2 and not tsas:
        raise SigningError(
            f"the Rekor v2 log {tlog.url} needs an RFC 3161 timestamp, but the signing "
            "config names no valid TSA"
        )


def complete_bundle(
    http: Http,
    tlog: Service,
    tsas: Sequence[Service],
    trusted_root: TrustedRoot,
    material: Material,
    *,
    digest: bytes | None = None,
    message_signature: bytes | None = None,
    envelope: Envelope | None = None,
) -> dict[str, Any]:
    """Steps 4–5: timestamps, the log entry, and the bundle JSON (as a dict)."""
    signature = envelope.signature if envelope is not None else message_signature
    assert signature is not None
    tokens = timestamps_for(http, tsas, signature, trusted_root)
    if tlog.major_api_version == 2 and not tokens:
        where = ", ".join(t.url for t in tsas) or "none configured"
        raise SigningError(
            f"Rekor v2 needs an RFC 3161 timestamp but no TSA gave a valid one ({where})"
        )
    if envelope is not None:
        proposed = proposed_dsse(tlog.major_api_version, material, envelope)
    else:
        assert digest is not None and message_signature is not None
        proposed = proposed_hashedrekord(
            tlog.major_api_version, material, message_signature, digest
        )
    if tlog.major_api_version == 1:
        entry = rekor_v1_create(http, tlog.url, proposed)
    else:
        entry = rekor_v2_create(http, tlog.url, proposed)

    vm = material.verification_material()
    vm["tlogEntries"] = [entry]
    vm["timestampVerificationData"] = {
        "rfc3161Timestamps": [{"signedTimestamp": b64(t)} for t in tokens]
    }
    bundle: dict[str, Any] = {"mediaType": BUNDLE_V03, "verificationMaterial": vm}
    if envelope is not None:
        bundle["dsseEnvelope"] = envelope.to_json()
    else:
        assert digest is not None and message_signature is not None
        bundle["messageSignature"] = {
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)},
            "signature": b64(message_signature),
        }
    return bundle


class _AnyCertificate:
    """Self-check policy: the certificate came from our own CA request."""

    def verify(self, cert: Any) -> None:
        return None


def self_check(
    doc: dict[str, Any],
    trusted_root: TrustedRoot,
    *,
    digest: Digest | None = None,
    policy: Any = None,
) -> Bundle:
    """The :class:`Bundle` a signing assembled, after verifying it with the offline
    verifier; a failure means the instance (or its trusted root) is inconsistent, and the
    bundle is not handed out."""
    from sceau.client.verify import Verifier
    from sceau.errors import VerificationError

    verifier = Verifier(trusted_root)
    try:
        bundle = parse_bundle(doc)
        if digest is not None:
            verifier.verify_artifact(bundle, digest, policy or _AnyCertificate())
        else:
            verifier.verify_dsse(bundle, policy or _AnyCertificate())
    except VerificationError as e:
        raise SigningError(f"the signed bundle does not verify: {e.message}") from None
    return bundle


# -- keyless ------------------------------------------------------------------------------


class SigningContext:
    """A signing config and trusted root: which services to use, and what to trust."""

    def __init__(
        self,
        signing_config: SigningConfig,
        trusted_root: TrustedRoot,
        *,
        rekor_version: int | None = None,
    ) -> None:
        self.signing_config = signing_config
        self.trusted_root = trusted_root
        self.rekor_version = rekor_version

    @classmethod
    def from_trust_config(
        cls, data: bytes | str | Path, *, rekor_version: int | None = None
    ) -> SigningContext:
        """From a ClientTrustConfig (``trust_config.json``): bytes, or a path."""
        if isinstance(data, Path):
            path = data
            try:
                data = path.read_bytes()
            except OSError as e:
                raise InputError(f"cannot read trust config {path}: {e.strerror}") from None
        return cls(
            SigningConfig.from_trust_config(data),
            TrustedRoot.from_trust_config(data),
            rekor_version=rekor_version,
        )

    @contextmanager
    def signer(
        self, identity_token: IdentityToken | str, *, ca_request: str = "csr"
    ) -> Iterator[Signer]:
        token = (
            identity_token
            if isinstance(identity_token, IdentityToken)
            else IdentityToken.parse(identity_token)
        )
        signer = Signer(self, token, ca_request=ca_request)
        try:
            yield signer
        finally:
            signer.close()


class Signer:
    """Signs any number of artifacts with one ephemeral key and certificate (reused until
    the certificate expires, as sigstore-python's ``cache=True``)."""

    def __init__(
        self,
        context: SigningContext,
        identity_token: IdentityToken | None,
        *,
        ca_request: str = "csr",
        http: Http | None = None,
        key: EphemeralKey | None = None,
        certificate: Any | None = None,
    ) -> None:
        """``key`` and ``certificate``: a credential kept from an earlier session (the git
        credential cache); no identity token is needed then."""
        if ca_request not in ("csr", "pop"):
            raise InputError(f"ca_request must be 'csr' or 'pop', not {ca_request!r}")
        self.context = context
        self.services = context.signing_config.select(rekor_version=context.rekor_version)
        self.token = identity_token
        self.ca_request = ca_request
        s = self.services
        require_timestamps(s.tlog, s.tsas)
        self._own_http = http is None
        self.http = http or Http(urls=[s.ca.url, s.tlog.url, *(t.url for t in s.tsas)])
        if (key is None) != (certificate is None):
            raise InputError("a cached credential needs both its key and its certificate")
        if identity_token is None and certificate is None:
            raise InputError("signing needs an identity token or a cached credential")
        self.key = key or EphemeralKey()
        self._certificate: Any | None = certificate

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> Signer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # 1–2. certificate ------------------------------------------------------------------

    def certificate(self) -> Any:
        """The signing certificate: requested once, checked (key, SCT), then reused."""
        now = datetime.now(UTC)
        if self._certificate is not None:
            if now > self._certificate.not_valid_after_utc:
                raise SigningError(
                    "the signing certificate has expired; sign again with a new token"
                )
            return self._certificate
        if self.token is None:
            raise IdentityError("no identity token to request a signing certificate with")
        if self.token.expired(now):
            raise IdentityError(
                f"identity token expired at {self.token.expires:%Y-%m-%dT%H:%M:%SZ}"
            )
        issued = request_certificate(
            self.http, self.services.ca.url, self.token.raw, self._ca_body()
        )
        self._check_issued(issued)
        self._certificate = issued.leaf
        return issued.leaf

    def _ca_body(self) -> dict[str, Any]:
        from cryptography.hazmat.primitives import serialization as s

        assert self.token is not None
        if self.ca_request == "csr":
            return {"certificateSigningRequest": b64(self._csr())}
        pem = self.key.public_key().public_bytes(
            s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo
        )
        pop = self.key.sign_message(self.token.challenge.encode())
        return {
            "credentials": {"oidcIdentityToken": self.token.raw},
            "publicKeyRequest": {
                "publicKey": {"algorithm": "ECDSA", "content": pem.decode()},
                "proofOfPossession": b64(pop),
            },
        }

    def _csr(self) -> bytes:
        """PEM CSR with an empty subject and critical BasicConstraints CA:false, as
        sigstore-python builds it (the CA takes the identity from the token)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization

        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([]))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.key.private_key, hashes.SHA256())
        )
        return csr.public_bytes(serialization.Encoding.PEM)

    def _check_issued(self, issued: Any) -> None:
        from cryptography.hazmat.primitives import serialization as s

        from sceau.client.sct import verify_sct
        from sceau.errors import VerificationError

        spki = s.PublicFormat.SubjectPublicKeyInfo
        if issued.leaf.public_key().public_bytes(
            s.Encoding.DER, spki
        ) != self.key.public_key().public_bytes(s.Encoding.DER, spki):
            raise SigningError("the CA issued a certificate for a different key")
        try:
            verify_sct(issued.leaf, list(issued.chain), self.context.trusted_root)
        except VerificationError as e:
            raise SigningError(f"certificate from the CA: {e.message}") from None

    # 3–6. sign --------------------------------------------------------------------------

    def _material(self) -> Material:
        cert = self.certificate()
        return Material(cert.public_key(), cert)

    def sign_artifact(self, artifact: bytes | str | Path | Digest) -> Bundle:
        """Sign a file, bytes, or a SHA-256 :class:`Digest`; return the verified bundle."""
        digest = artifact_digest(artifact)
        material = self._material()
        signature = self.key.sign_digest(digest.value)
        bundle = complete_bundle(
            self.http,
            self.services.tlog,
            self.services.tsas,
            self.context.trusted_root,
            material,
            digest=digest.value,
            message_signature=signature,
        )
        return self_check(bundle, self.context.trusted_root, digest=digest)

    def sign_dsse(
        self,
        statement: bytes | str | dict[str, Any],
        payload_type: str = IN_TOTO_PAYLOAD_TYPE,
    ) -> Bundle:
        """Sign an in-toto statement as a DSSE envelope; return the verified bundle."""
        payload = statement_bytes(statement)
        material = self._material()
        signature = self.key.sign_message(pae(payload_type, payload))
        envelope = Envelope(payload, payload_type, signature)
        bundle = complete_bundle(
            self.http,
            self.services.tlog,
            self.services.tsas,
            self.context.trusted_root,
            material,
            envelope=envelope,
        )
        return self_check(bundle, self.context.trusted_root)


# -- one-shot functions ---------------------------------------------------------------------


def sign_artifact(
    artifact: bytes | str | Path | Digest,
    identity_token: IdentityToken | str,
    signing_config: SigningConfig,
    trusted_root: TrustedRoot,
    *,
    rekor_version: int | None = None,
) -> Bundle:
    """Sign one artifact keylessly; see :class:`Signer` to sign several with one certificate."""
    ctx = SigningContext(signing_config, trusted_root, rekor_version=rekor_version)
    with ctx.signer(identity_token) as signer:
        return signer.sign_artifact(artifact)


def sign_dsse(
    statement: bytes | str | dict[str, Any],
    identity_token: IdentityToken | str,
    signing_config: SigningConfig,
    trusted_root: TrustedRoot,
    *,
    rekor_version: int | None = None,
    payload_type: str = IN_TOTO_PAYLOAD_TYPE,
) -> Bundle:
    """Sign an in-toto statement keylessly as a DSSE envelope."""
    ctx = SigningContext(signing_config, trusted_root, rekor_version=rekor_version)
    with ctx.signer(identity_token) as signer:
        return signer.sign_dsse(statement, payload_type)


def in_toto_statement(
    subjects: Sequence[tuple[str, Digest]], predicate_type: str, predicate: Any
) -> dict[str, Any]:
    """An in-toto Statement v1 about ``subjects`` (name, SHA-256 digest)."""
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {d.algorithm: d.hex}} for name, d in subjects],
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def write_bundle(bundle: Bundle, path: str | Path) -> None:
    """Write a bundle as JSON (not secret: 0644), atomically."""
    from sceau.durable import write_atomic

    try:
        write_atomic(Path(path), bundle.to_json().encode() + b"\n", 0o644)
    except OSError as e:
        raise InputError(f"cannot write bundle {path}: {e.strerror}") from None
