"""RFC 3161 signed timestamps as a source of verified time (docs/protocols.md §6 step 1).

Each token must be granted, signed by a TSA chain in the trusted root (checked by
``rfc3161-client`` at the token's genTime), carry an embedded signer certificate equal to
the trusted leaf if any, cover the bundle's signature bytes, and fall inside the TSA's
validity window — whose end is inclusive, as the newest conformance cases expect.
Like sigstore-python, tokens that fail are not fatal on their own: only verified ones count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rfc3161_client import VerificationError as TSAVerificationError
from rfc3161_client import VerifierBuilder, decode_timestamp_response

from sceau.client.errors import TimestampError
from sceau.client.trust import Authority, TrustedRoot

MAX_TIMESTAMPS = 32


@dataclass(frozen=True)
class VerifiedTime:
    source: str  # "rfc3161" | "rekor-integrated-time"
    time: datetime
    authority: str | None = None


def _verifier(tsa: Authority) -> Any:
    builder = VerifierBuilder().tsa_certificate(tsa.chain[0]).add_root_certificate(tsa.chain[-1])
    for cert in tsa.chain[1:-1]:
        builder = builder.add_intermediate_certificate(cert)
    return builder.build()


_VERIFIERS: dict[Authority, Any] = {}


def verify_token(token: bytes, signature: bytes, trusted_root: TrustedRoot) -> VerifiedTime:
    """Verify one DER TimeStampResp over ``signature``; raise :class:`TimestampError`."""

    try:
        response = decode_timestamp_response(token)
        gen_time = response.tst_info.gen_time
    except Exception:  # the Rust decoder raises ValueError, and others on odd ASN.1
        raise TimestampError("RFC 3161 timestamp is not a valid TimeStampResp") from None
    reasons = []
    for tsa in trusted_root.timestamp_authorities:
        if len(tsa.chain) < 2:
            reasons.append("TSA chain in trusted root is incomplete")
            continue
        verifier = _VERIFIERS.get(tsa)
        if verifier is None:
            verifier = _VERIFIERS[tsa] = _verifier(tsa)
        try:
            verifier.verify_message(response, signature)
        except (TSAVerificationError, ValueError) as e:
            reasons.append(_reason(str(e)))
            continue
        if not tsa.valid_for.contains(gen_time):
            reasons.append("genTime is outside the TSA's validity in the trusted root")
            continue
        return VerifiedTime("rfc3161", gen_time, tsa.common_name or tsa.uri)
    raise TimestampError(
        "RFC 3161 timestamp does not verify against any trusted TSA"
        + (f" ({reasons[-1]})" if reasons else "")
    )


def _reason(detail: str) -> str:
    """A person's reason for a failed token, not OpenSSL's error stack: a chain that does
    not build means another TSA signed it (usually: a bundle from another instance)."""
    if "unable to get local issuer certificate" in detail or "certificate verify error" in detail:
        return "it is signed by a TSA the trusted root does not list"
    return detail.split(": ErrorStack(")[0][:200]


def verify_timestamps(
    tokens: tuple[bytes, ...], signature: bytes, trusted_root: TrustedRoot
) -> tuple[list[VerifiedTime], list[str]]:
    """Verify every token; return the verified times and the reasons others failed."""
    if len(tokens) > MAX_TIMESTAMPS:
        raise TimestampError(f"too many RFC 3161 timestamps: {len(tokens)} > {MAX_TIMESTAMPS}")
    if len(set(tokens)) != len(tokens):
        raise TimestampError("duplicate RFC 3161 timestamp in bundle")
    if tokens and not trusted_root.timestamp_authorities:
        raise TimestampError("bundle has RFC 3161 timestamps but the trusted root has no TSA")
    times, failures = [], []
    for token in tokens:
        try:
            times.append(verify_token(token, signature, trusted_root))
        except TimestampError as e:
            failures.append(e.message)
    return times, failures
