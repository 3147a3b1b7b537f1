"""gpg's machine-readable status lines (``--status-fd``), the part git reads.

git looks for ``\\n[GNUPG:] SIG_CREATED `` after signing and ``\\n[GNUPG:] GOODSIG `` after
verifying (both preceded by a newline, hence a first line: BEGIN_SIGNING / NEWSIG, as
gpg and gitsign emit). Key ids are the certificate's SHA-1 fingerprint, as gpgsm writes.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from typing import IO, Any
from urllib.parse import quote

PREFIX = "[GNUPG:] "
PK_ECDSA = 19  # OpenPGP public-key algorithm ids (RFC 4880 §9.1), as gitsign reports
HASH_SHA256 = 8


def fingerprint(cert: Any) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding

    return hashlib.sha1(cert.public_bytes(Encoding.DER), usedforsecurity=False).hexdigest().upper()


def escape(text: str) -> str:
    """gpg's %XX escaping of a user id (spaces kept, controls and % escaped)."""
    return quote(text, safe=" !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~")


class StatusWriter:
    def __init__(self, stream: IO[str] | None) -> None:
        self.stream = stream

    def emit(self, *fields: object) -> None:
        if self.stream is None:
            return
        self.stream.write(PREFIX + " ".join(str(f) for f in fields) + "\n")
        self.stream.flush()

    def sig_created(self, cert: Any, detached: bool = True) -> None:
        kind = "D" if detached else "S"
        self.emit(
            "SIG_CREATED", kind, PK_ECDSA, HASH_SHA256, "00", int(time.time()), fingerprint(cert)
        )

    def good(self, cert: Any, who: str, signed_at: datetime | None) -> None:
        fpr = fingerprint(cert)
        when = signed_at or cert.not_valid_before_utc
        self.emit("GOODSIG", fpr, escape(who))
        self.emit(
            "VALIDSIG", fpr, f"{when:%Y-%m-%d}", int(when.timestamp()), 0, 0, 0,
            PK_ECDSA, HASH_SHA256, "00", fpr,
        )  # fmt: skip
        self.emit("TRUST_FULLY", 0, "shell")

    def bad(self, cert: Any, who: str) -> None:
        self.emit("BADSIG", fingerprint(cert), escape(who))

    def error(self, cert: Any | None, rc: int) -> None:
        """ERRSIG: the signature could not be checked (4 bad algorithm, 9 no usable key)."""
        keyid = fingerprint(cert) if cert is not None else "0000000000000000"
        self.emit("ERRSIG", keyid, PK_ECDSA, HASH_SHA256, "00", int(time.time()), rc)
