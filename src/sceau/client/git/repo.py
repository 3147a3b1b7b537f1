"""Reading objects from the repository with the real ``git`` (argument lists, no shell)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from sceau.client.git.objects import SignedObject, split
from sceau.errors import InputError

_OID = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
TIMEOUT = 60


def _git(args: list[str], cwd: Path | None) -> bytes:
    try:
        proc = subprocess.run(["git", *args], capture_output=True, cwd=cwd, timeout=TIMEOUT)
    except FileNotFoundError:
        raise InputError("git is not installed (or not on PATH)") from None
    except subprocess.TimeoutExpired:
        raise InputError(f"git {args[0]} timed out") from None
    if proc.returncode != 0:
        why = proc.stderr.decode(errors="replace").strip().splitlines()
        raise InputError(f"git {args[0]}: {why[-1] if why else 'failed'}")
    return proc.stdout


def resolve(rev: str, cwd: Path | None = None) -> str:
    """The object id ``rev`` names (an annotated tag stays a tag object)."""
    out = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", rev], cwd).decode()
    oid = out.strip()
    if not _OID.match(oid):
        raise InputError(f"{rev!r} does not name a git object")
    return oid


def read_object(oid: str, cwd: Path | None = None) -> SignedObject:
    if not _OID.match(oid):
        raise InputError(f"not an object id: {oid!r}")
    kind = _git(["cat-file", "-t", oid], cwd).decode().strip()
    if kind not in ("commit", "tag"):
        raise InputError(f"{oid[:12]} is a {kind}: only commits and tags carry signatures")
    return split(kind, _git(["cat-file", kind, oid], cwd))


def rev_list(spec: str, cwd: Path | None = None) -> list[str]:
    """The commits of a range such as ``A..B``, oldest first."""
    if spec.startswith("-"):
        raise InputError(f"not a revision range: {spec!r}")
    out = _git(["rev-list", "--reverse", spec, "--"], cwd).decode().split()
    return [o for o in out if _OID.match(o)]
