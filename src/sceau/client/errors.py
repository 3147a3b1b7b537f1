"""Verification failures, one class per check so callers (and tests) can tell them apart.

Every class is a :class:`sceau.errors.VerificationError`; the CLI prints the message on one
line and exits 1. Messages name the check that failed.
"""

from __future__ import annotations

from sceau.errors import VerificationError


class ClientVerificationError(VerificationError):
    """Base of the client's failures: the message is always a single line (it may quote
    errors from pyca, rfc3161-client or sceau.note)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class BundleError(ClientVerificationError):
    """The bundle is malformed, of an unknown version, or breaks a client invariant."""


class TrustRootError(ClientVerificationError):
    """The trusted root (or trust config) is malformed or lacks what is needed."""


class TimestampError(ClientVerificationError):
    """No verified time could be established (RFC 3161 tokens, inclusion promise)."""


class CertificateError(ClientVerificationError):
    """The signing certificate does not chain to the trusted root or breaks the profile."""


class SCTError(CertificateError):
    """The certificate's embedded SCT is missing or does not verify."""


class PolicyError(ClientVerificationError):
    """The certificate (or key) is not the identity the caller asked for."""


class LogEntryError(ClientVerificationError):
    """The transparency log entry, its proof, checkpoint or promise does not verify."""


class SignatureError(ClientVerificationError):
    """The artifact signature (or DSSE envelope) does not verify, or mismatches the input."""
