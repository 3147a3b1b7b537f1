"""Split a raw git commit or tag object into the signed payload and its signature.

What git signs: for a commit, the object without its ``gpgsig`` header (whose value
continues on lines starting with one space); for a tag, the object up to the armored
signature appended to its message. These are the bytes ``git verify-commit`` hands to the
signing program, so ``sceau git verify`` and git agree on what was signed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sceau.errors import InputError

_SIG_HEADERS = (b"gpgsig", b"gpgsig-sha256")
_ARMOR_STARTS = (b"-----BEGIN SIGNED MESSAGE-----", b"-----BEGIN PGP SIGNATURE-----")


@dataclass(frozen=True)
class SignedObject:
    kind: str  # "commit" or "tag"
    payload: bytes
    signature: bytes | None  # None: the object is not signed


def split_commit(raw: bytes) -> SignedObject:
    head, sep, message = raw.partition(b"\n\n")
    lines = head.split(b"\n")
    kept: list[bytes] = []
    sig_lines: list[bytes] | None = None
    in_sig = False
    for line in lines:
        if in_sig and line.startswith(b" "):
            assert sig_lines is not None
            sig_lines.append(line[1:])
            continue
        in_sig = False
        name = line.split(b" ", 1)[0]
        if name in _SIG_HEADERS and sig_lines is None and name == b"gpgsig":
            sig_lines = [line[len(name) + 1 :]]
            in_sig = True
            continue
        kept.append(line)
    payload = b"\n".join(kept) + sep + message
    signature = b"\n".join(sig_lines) + b"\n" if sig_lines is not None else None
    return SignedObject("commit", payload, signature)


def split_tag(raw: bytes) -> SignedObject:
    best = -1
    for start in _ARMOR_STARTS:
        i = raw.rfind(b"\n" + start)
        best = max(best, i + 1 if i >= 0 else -1)
    if best < 0:
        return SignedObject("tag", raw, None)
    return SignedObject("tag", raw[:best], raw[best:])


def split(kind: str, raw: bytes) -> SignedObject:
    if kind == "commit":
        return split_commit(raw)
    if kind == "tag":
        return split_tag(raw)
    raise InputError(f"cannot verify a git {kind} object: only commits and tags are signed")


def parse_object_file(text: bytes) -> SignedObject:
    """A raw object as ``git cat-file commit|tag`` prints it; the kind from its first line."""
    if text.startswith(b"tree "):
        return split_commit(text)
    if text.startswith(b"object "):
        return split_tag(text)
    raise InputError("not a git commit or tag object")
