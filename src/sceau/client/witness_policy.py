"""C2SP tlog-policy files: the logs, witnesses, groups and quorum a verifier requires.

The format Sigsum's tools use (there with raw hex keys), written with vkeys::

    log <vkey> [<url>]
    witness <name> <vkey> [<url>]
    group <name> all|any|<k> <member>...
    quorum <name>|none

Parsed strictly: names are defined before use and once, a member appears once per group,
``1 <= k <= n``, exactly one quorum line, no duplicate keys, only tab, newline and printable
or high-bit octets. Witness keys must be cosignature/v1 (Ed25519) vkeys.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from sceau.client.witness import NONE, Group, WitnessPolicy
from sceau.errors import InputError
from sceau.note import NoteError, check_log_vkey, check_witness_vkey

MAX_ITEMS = 256  # the spec asks for at least 32 logs, 32 witnesses and 32 groups
_BAD_OCTET = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")
_SPACE = re.compile(r"[ \t]+")
_K = re.compile(r"[1-9][0-9]{0,3}")


class PolicyError(InputError):
    """A witness policy file is malformed."""


def load_policy(path: str | os.PathLike[str]) -> WitnessPolicy:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise PolicyError(f"cannot read witness policy {path}: {e.strerror}") from None
    return parse_policy(data, str(path))


def _raw_key(verifier: Any) -> bytes:
    from sceau.keys import spki_der

    return spki_der(verifier.public_key)


def parse_policy(data: bytes, where: str = "policy") -> WitnessPolicy:
    """Parse a tlog-policy file; raise :class:`PolicyError` naming the line."""
    bad = _BAD_OCTET.search(data)
    if bad:
        raise PolicyError(f"{where}: control character at byte {bad.start()}")
    text = data.decode("utf-8", "surrogateescape")  # high-bit octets stay opaque and distinct
    logs: list[Any] = []
    witnesses: dict[str, Any] = {}
    groups: dict[str, Group] = {}
    keys: set[bytes] = set()
    quorum: str | None = None
    for number, line in enumerate(text.split("\n"), 1):
        words = [w for w in _SPACE.split(line.strip(" \t")) if w]
        if not words or words[0].startswith("#"):
            continue

        def fail(message: str, n: int = number) -> PolicyError:
            return PolicyError(f"{where}:{n}: {message}")

        keyword, args = words[0], words[1:]
        defined = witnesses.keys() | groups.keys()
        if keyword == "log":
            if len(args) not in (1, 2):
                raise fail("expected 'log <vkey> [<url>]'")
            try:
                verifier = check_log_vkey(args[0])
            except NoteError as e:
                raise fail(e.message) from None
            if _raw_key(verifier) in keys:
                raise fail("duplicate key")
            keys.add(_raw_key(verifier))
            logs.append(verifier)
        elif keyword == "witness":
            if len(args) not in (2, 3):
                raise fail("expected 'witness <name> <vkey> [<url>]'")
            name = args[0]
            if name == NONE or name in defined:
                raise fail(f"name {name!r} is already defined")
            try:
                verifier = check_witness_vkey(args[1])
            except NoteError as e:
                raise fail(e.message) from None
            if _raw_key(verifier) in keys:
                raise fail("duplicate key")
            keys.add(_raw_key(verifier))
            witnesses[name] = verifier
        elif keyword == "group":
            if len(args) < 3:
                raise fail("expected 'group <name> all|any|<k> <member>...'")
            name, threshold, members = args[0], args[1], args[2:]
            if name == NONE or name in defined:
                raise fail(f"name {name!r} is already defined")
            for m in members:
                if m not in defined:
                    raise fail(f"group member {m!r} is not defined on an earlier line")
            if len(set(members)) != len(members):
                raise fail("a group lists a member twice")
            if threshold == "all":
                k = len(members)
            elif threshold == "any":
                k = 1
            elif _K.fullmatch(threshold) and int(threshold) <= len(members):
                k = int(threshold)
            else:
                raise fail(f"threshold must be all, any or 1..{len(members)}, got {threshold!r}")
            groups[name] = Group(k, tuple(members))
        elif keyword == "quorum":
            if len(args) != 1:
                raise fail("expected 'quorum <name>'")
            if quorum is not None:
                raise fail("a second quorum line")
            if args[0] != NONE and args[0] not in defined:
                raise fail(f"quorum {args[0]!r} is not defined on an earlier line")
            quorum = args[0]
        else:
            raise fail(f"unknown keyword {keyword!r}")
        if len(logs) > MAX_ITEMS or len(witnesses) > MAX_ITEMS or len(groups) > MAX_ITEMS:
            raise fail(f"more than {MAX_ITEMS} logs, witnesses or groups")
    if quorum is None:
        raise PolicyError(f"{where}: no quorum line")
    return WitnessPolicy(witnesses, quorum, groups, tuple(logs))
