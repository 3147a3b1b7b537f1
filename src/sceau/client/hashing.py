"""Artifact digests: stream a file through SHA-256 (with a progress bar on a TTY) or take
a precomputed ``sha256:<hex>`` digest. Verification never needs the artifact in memory."""

from __future__ import annotations

import hashlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sceau.errors import InputError

_HEX = re.compile(r"[0-9a-fA-F]+")
_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
CHUNK = 1 << 20
PROGRESS_MIN = 64 << 20  # only files this large get a progress bar


@dataclass(frozen=True)
class Digest:
    """A digest of an artifact: ``algorithm`` is ``sha256`` / ``sha384`` / ``sha512``."""

    value: bytes
    algorithm: str = "sha256"

    def __post_init__(self) -> None:
        size = _SIZES.get(self.algorithm)
        if size is None:
            raise InputError(f"unsupported digest algorithm {self.algorithm!r}")
        if len(self.value) != size:
            raise InputError(f"a {self.algorithm} digest is {size} bytes, got {len(self.value)}")

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse ``sha256:<64 hex>`` (the conformance and CLI form)."""
        algorithm, sep, hexval = text.partition(":")
        if not sep or algorithm not in _SIZES or not _HEX.fullmatch(hexval):
            raise InputError(f"not a digest of the form sha256:<hex>: {text!r}")
        if len(hexval) != 2 * _SIZES[algorithm]:
            raise InputError(f"not a digest of the form sha256:<hex>: {text!r} (wrong length)")
        return cls(bytes.fromhex(hexval), algorithm)

    @classmethod
    def of_bytes(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(hashlib.new(algorithm, data).digest(), algorithm)

    @property
    def hex(self) -> str:
        return self.value.hex()

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.value.hex()}"


def is_digest_argument(text: str) -> bool:
    """True if a CLI argument names a digest rather than a file."""
    return any(text.startswith(f"{a}:") for a in _SIZES) and not os.path.exists(text)


def hash_file(
    path: str | os.PathLike[str], algorithm: str = "sha256", progress: IO[str] | None = None
) -> Digest:
    """Stream ``path`` through the hash; draw a bar on ``progress`` (default: stderr if a TTY)."""
    p = Path(path)
    try:
        f = p.open("rb")
    except OSError as e:
        raise InputError(f"cannot read {p}: {e.strerror}") from None
    h = hashlib.new(algorithm)
    with f:
        total = os.fstat(f.fileno()).st_size
        if progress is None and total >= PROGRESS_MIN and sys.stderr.isatty():
            progress = sys.stderr
        if progress is None or total < PROGRESS_MIN:
            # hashlib.file_digest releases the GIL and avoids Python-level copies.
            return Digest(hashlib.file_digest(f, algorithm).digest(), algorithm)
        done = 0
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while n := f.readinto(buf):
            h.update(view[:n])
            done += n
            _draw(progress, p.name, done, total)
        progress.write("\n")
    return Digest(h.digest(), algorithm)


def _draw(out: IO[str], name: str, done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    pct = 100 * done // max(total, 1)
    out.write(f"\rhashing {name} [{'#' * filled}{'.' * (width - filled)}] {pct:3d}%")
    out.flush()
