"""Why a login failed; each message is one line, safe to show, and never holds a token."""

from __future__ import annotations

from sceau.errors import RemoteError, Unauthenticated


class LoginError(Unauthenticated):
    """The login did not produce a usable ID token (denied, timed out, tampered with)."""


class LoginDenied(LoginError):
    """The user or the provider refused (``access_denied`` and other OAuth errors)."""


class LoginTimeout(LoginError):
    """No answer in time: the browser never came back, or the device code expired."""


class ProviderError(RemoteError):
    """The provider could not be reached or answered something that is not OAuth."""
