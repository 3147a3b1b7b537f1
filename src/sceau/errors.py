"""One exception tree for all of sceau, split by who is at fault.

- :class:`InputError` and its children: the caller sent something wrong (HTTP 4xx,
  CLI exit 1). The message is safe to show to the caller.
- :class:`RemoteError`: a service we depend on misbehaved (HTTP 502, CLI exit 1).
- :class:`InternalError`: our bug or a broken instance (HTTP 500); the message is logged,
  not shown in full.

Each layer may subclass these; servers map them to status codes in one place
(:mod:`sceau.services._http`).
"""

from __future__ import annotations


class SceauError(Exception):
    """Root of every error sceau raises on purpose."""

    status = 500
    code = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(SceauError):
    """The caller's input is malformed, unsupported or does not verify."""

    status = 400
    code = "invalid_argument"


class Unauthenticated(InputError):
    """A credential (OIDC token) is missing, forged, expired or not for us."""

    status = 401
    code = "unauthenticated"


class NotFound(InputError):
    status = 404
    code = "not_found"


class Conflict(InputError):
    """The thing already exists; ``existing`` says where (an index, a URL)."""

    status = 409
    code = "already_exists"

    def __init__(self, message: str, existing: object = None) -> None:
        super().__init__(message)
        self.existing = existing


class PayloadTooLarge(InputError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(InputError):
    status = 415
    code = "unsupported_media_type"


class Overloaded(SceauError):
    """Too much pending work: the caller should retry after ``retry_after`` seconds."""

    status = 503
    code = "unavailable"

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RemoteError(SceauError):
    """A service we called (OIDC issuer, CT log, …) failed or answered nonsense."""

    status = 502
    code = "bad_gateway"


class InternalError(SceauError):
    """A broken invariant or a damaged instance: stop, do not guess."""

    status = 500
    code = "internal"


class VerificationError(SceauError):
    """A signature, proof, certificate or bundle did not verify (client side)."""

    status = 400
    code = "verification_failed"
