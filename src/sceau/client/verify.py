"""The Sigstore bundle verifier: bundle + trusted root + policy → result, offline.

A pure function of its inputs (no I/O: fetching is the caller's job). Steps follow
docs/protocols.md §6, as sigstore-python and sigstore-js implement them; every MUST is a
check below, and each failure raises a :class:`~sceau.client.errors` class naming the step.

    verifier = Verifier(TrustedRoot.production())
    result = verifier.verify_artifact(bundle_bytes, Path("a.txt"),
                                      Identity("me@example.com", "https://accounts.google.com"))
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509 import (
    ExtendedKeyUsage,
    UnsupportedGeneralNameType,
    load_der_x509_certificate,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder
from cryptography.x509.verification import VerificationError as X509Error

from sceau.client._x509 import extension_value
from sceau.client.bundle import Bundle, DsseEnvelope, MessageSignature
from sceau.client.entries import Material, check_dsse, check_hashedrekord
from sceau.client.errors import (
    BundleError,
    CertificateError,
    PolicyError,
    SignatureError,
    TimestampError,
)
from sceau.client.hashing import Digest, hash_file
from sceau.client.policy import (
    PublicKey,
    SignedByCertificate,
    VerificationPolicy,
)
from sceau.client.sct import verify_sct
from sceau.client.timestamps import VerifiedTime, verify_timestamps
from sceau.client.tlog import REKOR_V1_KINDS, LogVerification, verify_entry
from sceau.client.trust import TrustedRoot
from sceau.client.witness import Witness, WitnessPolicy
from sceau.keys import Verifier as KeyVerifier

VERIFIED_TIME_THRESHOLD = 1
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


@dataclass(frozen=True)
class VerificationResult(SignedByCertificate):
    """What was verified, for display (``sceau bundle inspect``) and for callers."""

    bundle: Bundle
    certificate: Any | None  # cryptography x509.Certificate (None for managed keys)
    verified_times: tuple[VerifiedTime, ...]
    log: LogVerification
    checks: tuple[str, ...]
    payload_type: str | None = None
    payload: bytes | None = None
    statement: dict[str, Any] | None = field(default=None, repr=False)


class Verifier:
    """Verifies bundles against one trusted root. Reusable and thread-safe: the only state
    is a small cache of verified certificate chains, guarded by a lock."""

    def __init__(
        self,
        trusted_root: TrustedRoot,
        *,
        witnesses: Sequence[tuple[str, Any]] = (),
        witness_threshold: int = 0,
        witness_policy: WitnessPolicy | None = None,
        certificate_cache: int = 256,
    ) -> None:
        self.trusted_root = trusted_root
        self.witnesses = tuple(Witness(name, key) for name, key in witnesses)
        self.witness_threshold = witness_threshold
        self.witness_policy = witness_policy  # a tlog-policy; replaces witnesses/threshold
        # Leaf DER -> its verified chain: the time-independent half of steps 2–3 (issuer
        # signatures and the SCT) for certificates seen before — sigstore-python signs many
        # files with one certificate. Validity windows are re-checked at every use.
        self._chains: OrderedDict[bytes, list[Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._cache_size = certificate_cache

    def clear_cache(self) -> None:
        with self._lock:
            self._chains.clear()

    # -- public API ---------------------------------------------------------------------

    def verify_artifact(
        self,
        bundle: Bundle | bytes | str,
        artifact: bytes | Path | Digest,
        policy: VerificationPolicy,
    ) -> VerificationResult:
        """Verify that ``bundle`` signs ``artifact`` (contents, a file, or a SHA-256 digest).

        For a DSSE bundle the artifact must be a subject of the in-toto statement.
        """
        # 9. Thresholds (sigstore-js's step): exactly one log entry (parse), exactly one
        #    SCT (step 3), no duplicate timestamps and ≥ VERIFIED_TIME_THRESHOLD verified
        #    times (step 1); witnesses only if configured (step 5).
        b = _as_bundle(bundle)
        digest = _digest(artifact)
        result, material = self._verify_common(b, policy)
        checks = list(result.checks)
        if isinstance(b.content, MessageSignature):
            self._verify_message(b, b.content, material, digest)
            checks += ["artifact signature (SHA-256 prehash)", "log entry body matches bundle"]
            return _replace(result, checks)
        payload_type, payload = self._verify_envelope(b, b.content, material)
        statement = _match_subject(payload_type, payload, digest)
        checks += [
            "DSSE signature over PAE",
            "log entry body matches envelope",
            "artifact digest is an in-toto subject",
        ]
        return _replace(result, checks, payload_type, payload, statement)

    def verify_dsse(
        self, bundle: Bundle | bytes | str, policy: VerificationPolicy
    ) -> tuple[str, bytes]:
        """Verify a DSSE bundle; return ``(payload_type, payload)`` — the caller checks the type."""
        result = self.verify_dsse_result(bundle, policy)
        assert result.payload_type is not None and result.payload is not None
        return result.payload_type, result.payload

    def verify_dsse_result(
        self, bundle: Bundle | bytes | str, policy: VerificationPolicy
    ) -> VerificationResult:
        b = _as_bundle(bundle)
        if not isinstance(b.content, DsseEnvelope):
            raise BundleError("bundle has no DSSE envelope (it signs an artifact directly)")
        result, material = self._verify_common(b, policy)
        payload_type, payload = self._verify_envelope(b, b.content, material)
        checks = [*result.checks, "DSSE signature over PAE", "log entry body matches envelope"]
        return _replace(result, checks, payload_type, payload)

    # -- steps 1–6 ----------------------------------------------------------------------

    def _verify_common(
        self, b: Bundle, policy: VerificationPolicy
    ) -> tuple[VerificationResult, Any]:
        """Steps 0–6, shared by message signatures and DSSE; returns the signer's material
        for steps 7–8."""
        now = datetime.now(UTC)
        checks: list[str] = []
        # 0. Shape checks happened when the bundle was parsed; here the signing material
        #    must agree with the policy: a managed key needs a PublicKey policy and back.
        cert = None
        if b.certificate is None:
            if not isinstance(policy, PublicKey):
                raise PolicyError("bundle is signed with a managed key but no key was given")
            public_key = policy.key
        else:
            if isinstance(policy, PublicKey):
                raise PolicyError(
                    "bundle is signed with a certificate but a public key was expected"
                )
            cert = _load_leaf(b)
            public_key = cert.public_key()

        # 1. Establish verified times.
        times = self._establish_times(b)
        checks.append(f"{len(times)} verified time(s)")
        # 2–4. Certificate chain, SCT, leaf profile and identity policy.
        if cert is not None:
            self._check_certificate(b, cert, times, policy)
            checks += [
                "certificate chains to a trusted CA",
                "embedded SCT verifies",
                "certificate identity matches policy",
            ]

        # 5. Transparency log: inclusion proof, signed checkpoint, SET.
        log = verify_entry(
            b.tlog_entry,
            self.trusted_root,
            now=now,
            witnesses=self.witnesses,
            witness_threshold=self.witness_threshold,
            witness_policy=self.witness_policy,
        )
        checks.append("inclusion proof and signed checkpoint")
        if log.promise_verified:
            checks.append("inclusion promise (SET)")
        if log.cosignatures:
            checks.append(f"{len(log.cosignatures)} witness cosignature(s)")

        # 6. Every verified time lies within the certificate's validity.
        if cert is not None:
            for t in times:
                if not cert.not_valid_before_utc <= t.time <= cert.not_valid_after_utc:
                    raise CertificateError(
                        f"signing certificate was not valid at the verified time "
                        f"{t.time:%Y-%m-%dT%H:%M:%SZ} ({t.source})"
                    )
            checks.append("verified times within certificate validity")

        material = Material(cert, public_key, b.certificate)
        result = VerificationResult(b, cert, tuple(times), log, tuple(checks))
        return result, material

    def _establish_times(self, b: Bundle) -> list[VerifiedTime]:
        """Step 1: RFC 3161 tokens over the signature, and (Rekor v1) the integrated time —
        which counts only when an inclusion promise binds it (verified in step 5)."""
        times, failures = verify_timestamps(b.timestamps, b.signature, self.trusted_root)
        entry = b.tlog_entry
        if entry.integrated_time and entry.inclusion_promise is not None:
            if (entry.kind, entry.version) not in REKOR_V1_KINDS:
                raise TimestampError(
                    f"integrated time is not supported for {entry.kind}/{entry.version} entries"
                )
            when = datetime.fromtimestamp(entry.integrated_time, UTC)
            times.append(VerifiedTime("rekor-integrated-time", when))
        if len(times) < VERIFIED_TIME_THRESHOLD:
            why = f" ({failures[-1]})" if failures else ""
            raise TimestampError(f"not enough sources of verified time{why}")
        return times

    def _check_certificate(
        self, b: Bundle, cert: Any, times: list[VerifiedTime], policy: VerificationPolicy
    ) -> None:
        """Steps 2–4. The time-independent facts of steps 2–3 (issuer signatures, SCT) are
        remembered per exact certificate; validity windows are re-checked at every use."""
        assert b.certificate is not None
        with self._lock:
            chain = self._chains.get(b.certificate)
        if chain is None or not all(self._path_valid_at(cert, chain, t.time) for t in times):
            chain = self._verify_chain_and_sct(cert, times)
            if self._cache_size:
                with self._lock:
                    self._chains[b.certificate] = chain
                    if len(self._chains) > self._cache_size:
                        self._chains.popitem(last=False)
        # 4. Leaf profile (KU digitalSignature, EKU codeSigning), then the caller's policy.
        _check_leaf_profile(cert)
        policy.verify(cert)

    def check_certificate(
        self,
        cert: Any,
        times: list[VerifiedTime],
        policy: VerificationPolicy,
        *,
        sct: bool = True,
    ) -> list[Any]:
        """Steps 2–4 for a certificate that came without a bundle (cosign's detached
        ``--certificate``): chain and SCT at every verified time, leaf profile, policy.
        ``sct=False`` is cosign's ``--insecure-ignore-sct``. Returns the verified chain
        (the leaf's issuers, up to a trusted root)."""
        if sct:
            chain = self._verify_chain_and_sct(cert, times)
        else:
            chain = self._verify_chain(cert, times[0].time)
        _check_leaf_profile(cert)
        policy.verify(cert)
        return chain

    def _verify_chain_and_sct(self, cert: Any, times: list[VerifiedTime]) -> list[Any]:
        # 2. The certificate chains to a trusted Fulcio CA at every verified time.
        chain = self._verify_chain(cert, times[0].time)
        for t in times[1:]:
            # Signatures do not depend on time: re-check only validity windows, and
            # fall back to full path building if this path is not valid then.
            if not self._path_valid_at(cert, chain, t.time):
                chain = self._verify_chain(cert, t.time)
        # 3. Exactly one embedded SCT, signed by a trusted CT log.
        verify_sct(cert, chain, self.trusted_root)
        return chain

    def _verify_chain(self, cert: Any, when: datetime) -> list[Any]:
        """pyca's WebPKI client verifier over the trusted-root CAs valid at ``when``; the
        bundle's own intermediates are not used (as sigstore-python)."""

        ca_policy, ee_policy = _extension_policies()
        verifier = (
            PolicyBuilder()
            .store(self.trusted_root.fulcio_store(when))
            .time(when)
            .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
            .build_client_verifier()
        )
        try:
            return list(verifier.verify(cert, []).chain[1:])
        except (X509Error, UnsupportedGeneralNameType) as e:
            detail = str(e)
            if "candidates exhausted" in detail and "no interior errors" in detail:
                detail = "it was not issued by a CA the trusted root lists"
            raise CertificateError(f"certificate chain does not verify: {detail}") from None

    def _path_valid_at(self, cert: Any, chain: list[Any], when: datetime) -> bool:
        trusted = self.trusted_root.ca_certificates_at(when)
        return all(c in trusted for c in chain) and all(
            c.not_valid_before_utc <= when <= c.not_valid_after_utc for c in (cert, *chain)
        )

    # -- steps 7–8 ----------------------------------------------------------------------

    def _verify_message(
        self, b: Bundle, sig: MessageSignature, material: Any, digest: Digest
    ) -> None:
        if digest.algorithm != "sha256":
            raise SignatureError("message signatures are verified over a SHA-256 digest")
        # 7. The bundle's digest (if any) is the input's; the signature covers it.
        if sig.digest is not None and sig.digest != digest.value:
            raise SignatureError("artifact digest does not match the bundle's message digest")
        _verify_prehashed(material.public_key, sig.signature, digest.value)
        # 8. The log entry says the same thing as the bundle.
        check_hashedrekord(b.tlog_entry, material, sig.signature, digest.value)

    def _verify_envelope(self, b: Bundle, env: DsseEnvelope, material: Any) -> tuple[str, bytes]:
        # 7. Exactly one signature (checked at parse), valid over PAE(type, payload).
        try:
            KeyVerifier(material.public_key).verify(env.signatures[0][0], env.pae())
        except Exception as e:  # InputError for odd keys, VerificationError for bad sigs
            raise SignatureError("DSSE envelope signature does not verify") from e
        # 8. The log entry matches the envelope.
        check_dsse(b.tlog_entry, material, env)
        return env.payload_type, env.payload


# -- helpers ----------------------------------------------------------------------------


_POLICIES: list[Any] = []


def _extension_policies() -> tuple[Any, Any]:
    """WebPKI defaults, relaxed only for EKU: Fulcio leaves carry codeSigning, not
    clientAuth (built once; the objects are immutable)."""
    if not _POLICIES:
        _POLICIES.append(
            ExtensionPolicy.webpki_defaults_ca().may_be_present(
                ExtendedKeyUsage, Criticality.NON_CRITICAL, None
            )
        )
        _POLICIES.append(
            ExtensionPolicy.webpki_defaults_ee().may_be_present(
                ExtendedKeyUsage, Criticality.NON_CRITICAL, None
            )
        )
    return _POLICIES[0], _POLICIES[1]


def _as_bundle(bundle: Bundle | bytes | str) -> Bundle:
    return bundle if isinstance(bundle, Bundle) else Bundle.from_json(bundle)


def _digest(artifact: bytes | Path | Digest) -> Digest:
    if isinstance(artifact, Digest):
        return artifact
    if isinstance(artifact, bytes | bytearray | memoryview):
        return Digest(hashlib.sha256(artifact).digest())
    return hash_file(artifact)


def _replace(
    result: VerificationResult,
    checks: list[str],
    payload_type: str | None = None,
    payload: bytes | None = None,
    statement: dict[str, Any] | None = None,
) -> VerificationResult:
    return replace(
        result,
        checks=tuple(checks),
        payload_type=payload_type,
        payload=payload,
        statement=statement,
    )


def _load_leaf(b: Bundle) -> Any:
    assert b.certificate is not None
    try:
        cert = load_der_x509_certificate(b.certificate)
        chain = [load_der_x509_certificate(c) for c in b.chain]
        for c in (cert, *chain):
            _ = c.extensions  # parsed lazily by pyca: surface malformed ones here
    except ValueError as e:
        raise BundleError(f"bundle certificate is not valid X.509: {e}") from None
    if _is_ca(cert):
        raise BundleError("bundle's first certificate is a CA, not a signing certificate")
    for c in chain:
        # protobuf-specs: the chain MUST NOT include a root CA.
        if _is_ca(c) and c.subject == c.issuer:
            raise BundleError("bundle certificate chain contains a root CA")
    return cert


def _is_ca(cert: Any) -> bool:
    bc = extension_value(cert, ExtensionOID.BASIC_CONSTRAINTS)
    return bool(bc.ca) if bc is not None else False


def _check_leaf_profile(cert: Any) -> None:
    ku = extension_value(cert, ExtensionOID.KEY_USAGE)
    eku = extension_value(cert, ExtensionOID.EXTENDED_KEY_USAGE)
    for oid, value in ((ExtensionOID.KEY_USAGE, ku), (ExtensionOID.EXTENDED_KEY_USAGE, eku)):
        if value is None:
            raise CertificateError(f"signing certificate lacks {oid._name}")
    assert ku is not None and eku is not None
    if not ku.digital_signature:
        raise CertificateError("signing certificate key usage lacks digitalSignature")
    if ExtendedKeyUsageOID.CODE_SIGNING not in eku:
        raise CertificateError("signing certificate extended key usage lacks codeSigning")


_ECDSA_SHA256_PREHASHED = ec.ECDSA(Prehashed(hashes.SHA256()))  # immutable: built once


def _verify_prehashed(public_key: Any, signature: bytes, digest: bytes) -> None:
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, digest, _ECDSA_SHA256_PREHASHED)
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            raise SignatureError("Ed25519 keys cannot verify a prehashed message signature")
        else:
            raise SignatureError(f"unsupported signing key {type(public_key).__name__}")
    except InvalidSignature:
        raise SignatureError("artifact signature does not verify") from None


def parse_statement(payload_type: str, payload: bytes) -> dict[str, Any]:
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise SignatureError(f"DSSE payload type is {payload_type!r}, not in-toto")
    try:
        statement = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise SignatureError("in-toto statement is not JSON") from None
    if not isinstance(statement, dict) or not isinstance(statement.get("subject"), list):
        raise SignatureError("in-toto statement has no subject list")
    return statement


def _match_subject(payload_type: str, payload: bytes, digest: Digest) -> dict[str, Any]:
    statement = parse_statement(payload_type, payload)
    for subject in statement["subject"]:
        digests = subject.get("digest") if isinstance(subject, dict) else None
        if isinstance(digests, dict) and digests.get(digest.algorithm, "").lower() == digest.hex:
            return statement
    raise SignatureError(f"artifact {digest} is not a subject of the in-toto statement")
