"""Verify cosign's detached material: a signature, a certificate (or a key) and a Rekor entry.

cosign ``verify-blob`` rules, the subset sceau keeps (``docs/cosign.md``):

1. The verified time is the log entry's integrated time, bound by its Signed Entry
   Timestamp (verified with a Rekor key of the trusted root, valid then); with an
   inclusion proof and checkpoint the entry is also proven in the log. Without an entry,
   only ``--insecure-ignore-tlog`` lets verification go on, and the time is now.
2. The certificate chains to a CA of the trusted root at that time (never to a CA the
   caller supplies: a ``--certificate-chain`` must be the path the trusted root gives),
   carries a valid SCT, has the code-signing profile and matches the identity policy.
3. The signature verifies over the artifact's SHA-256 digest with the certificate's (or
   the given) key.
4. The log entry (hashedrekord) names this digest, this signature and this key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import load_der_x509_certificate

from sceau.client.bundle import TlogEntry
from sceau.client.entries import Material, check_hashedrekord
from sceau.client.errors import BundleError, CertificateError, PolicyError, SignatureError
from sceau.client.hashing import Digest
from sceau.client.policy import (
    PublicKey,
    SignedByCertificate,
    VerificationPolicy,
)
from sceau.client.timestamps import VerifiedTime
from sceau.client.tlog import find_log, verify_entry, verify_set
from sceau.client.trust import TrustedRoot
from sceau.client.verify import Verifier


@dataclass(frozen=True)
class DetachedResult(SignedByCertificate):
    certificate: Any | None
    time: datetime
    time_source: str
    log_index: int | None
    checks: tuple[str, ...] = field(default=())


def verify_detached(
    trusted_root: TrustedRoot,
    digest: Digest,
    signature: bytes,
    policy: VerificationPolicy,
    *,
    certificate: bytes | None = None,
    chain: list[bytes] | None = None,
    entry: TlogEntry | None = None,
    ignore_tlog: bool = False,
    ignore_sct: bool = False,
    now: datetime | None = None,
) -> DetachedResult:
    now = now or datetime.now(UTC)
    if digest.algorithm != "sha256":
        raise SignatureError("detached signatures are verified over a SHA-256 digest")
    cert = _material(certificate, policy)
    public_key = cert.public_key() if cert is not None else _key(policy)
    material = Material(cert, public_key, certificate)
    checks: list[str] = []

    # 1. The time, from the log entry (or, when told to ignore the log, now).
    if entry is not None:
        if entry.inclusion_proof is not None:
            verify_entry(entry, trusted_root, now=now)
            checks.append("inclusion proof and signed checkpoint")
        if entry.inclusion_promise is None or not entry.integrated_time:
            raise BundleError("log entry has no Signed Entry Timestamp to bind its time")
        verify_set(entry, find_log(entry, trusted_root, now))
        checks.append("inclusion promise (SET)")
        when, source = datetime.fromtimestamp(entry.integrated_time, UTC), "rekor-integrated-time"
    elif ignore_tlog:
        when, source = now, "current time (--insecure-ignore-tlog)"
    else:
        raise BundleError(
            "no transparency log entry: give --bundle, --rekor-url URL to look it up, "
            "or --insecure-ignore-tlog"
        )

    # 2. The certificate, at that time.
    if cert is not None:
        times = [VerifiedTime(source, when)]
        if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
            raise CertificateError(
                f"signing certificate was not valid at {when:%Y-%m-%dT%H:%M:%SZ} ({source}): "
                f"valid {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} to "
                f"{cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}"
            )
        path = Verifier(trusted_root).check_certificate(cert, times, policy, sct=not ignore_sct)
        if chain:
            _check_chain(chain, path, trusted_root.ca_certificates_at(when))
        checks += ["certificate chains to a trusted CA", "identity matches policy"]
        checks.append("SCT not checked (--insecure-ignore-sct)" if ignore_sct else "embedded SCT")

    # 3. The signature.
    _verify_prehashed(public_key, signature, digest.value)
    checks.append("artifact signature (SHA-256)")

    # 4. The entry says the same.
    if entry is not None:
        check_hashedrekord(entry, material, signature, digest.value)
        checks.append("log entry matches signature, key and digest")
    index = entry.log_index if entry is not None else None
    return DetachedResult(cert, when, source, index, tuple(checks))


def _material(certificate: bytes | None, policy: VerificationPolicy) -> Any:
    if certificate is None:
        if not isinstance(policy, PublicKey):
            raise PolicyError("no certificate to check the identity against: give --certificate")
        return None
    if isinstance(policy, PublicKey):
        raise PolicyError("give either --key or --certificate, not both")
    try:
        return load_der_x509_certificate(certificate)
    except ValueError as e:
        raise BundleError(f"certificate is not valid X.509: {e}") from None


def _key(policy: VerificationPolicy) -> Any:
    assert isinstance(policy, PublicKey)
    return policy.key


def _check_chain(given: list[bytes], path: list[Any], trusted: frozenset[Any]) -> None:
    """A supplied chain adds no trust: it must start at the leaf's verified issuer, go up
    issuer by issuer, and hold only CA certificates of the trusted root."""
    certs = [load_der_x509_certificate(d) for d in given]
    linked = all(a.issuer == b.subject for a, b in pairwise(certs))
    if (
        not path
        or given[0] != path[0].public_bytes(Encoding.DER)
        or not linked
        or not all(c in trusted for c in certs)
    ):
        raise CertificateError(
            "--certificate-chain is not the certificate's path to the trusted root's CA"
        )


_ECDSA = ec.ECDSA(Prehashed(hashes.SHA256()))


def _verify_prehashed(public_key: Any, signature: bytes, digest: bytes) -> None:
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, digest, _ECDSA)
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        else:
            raise SignatureError(
                f"unsupported key {type(public_key).__name__} for a blob signature"
            )
    except InvalidSignature:
        raise SignatureError("artifact signature does not verify") from None
