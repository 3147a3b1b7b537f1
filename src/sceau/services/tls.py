"""TLS for ``sceau serve --tls-cert/--tls-key``: check the files before binding.

uvicorn reads the files itself, but only once it is starting, and its errors are
tracebacks. These checks turn a wrong path, a world-readable key, a key that is not the
certificate's or an expired certificate into one line, before the port is taken. HTTP/2 is
not offered: uvicorn speaks HTTP/1.1 only (docs/operations.md).
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sceau.errors import InputError


@dataclass(frozen=True)
class TlsFiles:
    """A checked certificate chain and private key, PEM files on disk."""

    cert: Path
    key: Path

    def uvicorn_options(self) -> dict[str, Any]:
        """What ``uvicorn.Config`` takes (its context is TLS 1.2+ by Python's default)."""
        return {"ssl_certfile": str(self.cert), "ssl_keyfile": str(self.key)}


def check_tls_files(
    cert: str | None, key: str | None, *, now: dt.datetime | None = None
) -> TlsFiles | None:
    """``None`` without TLS; else the files, checked to make a working server context."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise InputError("--tls-cert and --tls-key go together: give both or neither")
    cert_path, key_path = Path(cert), Path(key)
    for what, path in (("certificate", cert_path), ("key", key_path)):
        if not path.is_file():
            raise InputError(f"TLS {what} {path} does not exist or is not a file")
    mode = key_path.stat().st_mode
    if mode & 0o077:
        raise InputError(
            f"TLS key {key_path} is readable by others (mode {mode & 0o777:o}); chmod 600"
        )
    if not os.access(key_path, os.R_OK) or not os.access(cert_path, os.R_OK):
        raise InputError(f"cannot read {key_path} or {cert_path}: check their owner")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert_path, key_path)
    except ssl.SSLError as e:
        reason = getattr(e, "reason", None) or str(e)
        if "KEY_VALUES_MISMATCH" in str(reason):
            raise InputError(f"TLS key {key_path} is not the key of {cert_path}") from None
        raise InputError(
            f"cannot use {cert_path} / {key_path} for TLS: not a PEM certificate and key ({reason})"
        ) from None
    _check_validity(cert_path, now or dt.datetime.now(dt.UTC))
    return TlsFiles(cert_path, key_path)


def _check_validity(path: Path, now: dt.datetime) -> None:
    from cryptography import x509

    try:
        leaf = x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError:
        return  # the ssl module accepted it; leave unusual encodings to it
    if now > leaf.not_valid_after_utc:
        raise InputError(
            f"TLS certificate {path} expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
        )
    if now < leaf.not_valid_before_utc:
        raise InputError(
            f"TLS certificate {path} is not valid before "
            f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )
