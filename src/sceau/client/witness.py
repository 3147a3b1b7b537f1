"""Witness cosignatures (C2SP tlog-cosignature/v1) required on a log checkpoint.

Only checked when the caller configures witnesses, either as ``k`` of a list
(:meth:`WitnessPolicy.threshold`) or as a C2SP tlog-policy file
(:mod:`sceau.client.witness_policy`). The checkpoint's note is verified with the log's key
*and* every witness key in one pass (``sceau.note.verify_note``: unknown lines ignored, a
known line that fails rejects the note), then the witnesses among the verified signers must
satisfy the policy's quorum. Without witnesses, cosignature lines are ignored.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sceau.client.errors import LogEntryError

NONE = "none"  # the predefined quorum that asks for no cosignature


@dataclass(frozen=True)
class Witness:
    """A C2SP tlog-witness: its name and Ed25519 public key."""

    name: str
    public_key: Any


@dataclass(frozen=True)
class Group:
    """``k`` of ``members`` (witness or group names) must have witnessed."""

    k: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class WitnessPolicy:
    """Witnesses by policy name (→ cosignature verifier), groups, the quorum, and the logs
    whose checkpoints the policy accepts (empty: the log is known from other context)."""

    witnesses: Mapping[str, Any]
    quorum: str
    groups: Mapping[str, Group] = field(default_factory=dict)
    logs: tuple[Any, ...] = ()

    @classmethod
    def threshold(cls, witnesses: Sequence[Witness], k: int = 0) -> WitnessPolicy:
        """``k`` of ``witnesses`` (0: all of them)."""
        named = {w.name: w for w in witnesses}
        verifiers = dict(zip(named, witness_verifiers(list(named.values())), strict=True))
        if not verifiers:
            return cls({}, NONE)
        group = Group(k or len(verifiers), tuple(verifiers))
        return cls(verifiers, "quorum", {"quorum": group})

    def verifiers(self) -> list[Any]:
        return list(self.witnesses.values())

    def witnessed(self, name: str, cosigners: Collection[str]) -> bool:
        """Has ``name`` (the quorum, a group or a witness) witnessed, given who cosigned?"""
        if name == NONE:
            return True
        group = self.groups.get(name)
        if group is None:
            return name in cosigners
        return sum(self.witnessed(m, cosigners) for m in group.members) >= group.k

    def cosigners(self, note: Any) -> tuple[str, ...]:
        """Policy names of the witnesses whose lines are among the note's verified ones."""
        verified = {(s.name, bytes(s.key_id)) for s in getattr(note, "verified", ())}
        return tuple(
            name for name, v in self.witnesses.items() if (v.name, bytes(v.key_id)) in verified
        )

    def check(self, note: Any) -> tuple[str, ...]:
        """The cosigners of a verified note; raise unless they satisfy the quorum."""
        names = self.cosigners(note)
        if not self.witnessed(self.quorum, names):
            raise LogEntryError(
                f"checkpoint has {len(names)} valid witness cosignature(s)"
                f"{' (' + ', '.join(names) + ')' if names else ''}, which do not meet the "
                f"witness policy's quorum ({self.describe()})"
            )
        return names

    def describe(self, name: str | None = None) -> str:
        name = self.quorum if name is None else name
        group = self.groups.get(name)
        if group is None:
            return name
        inner = ", ".join(self.describe(m) for m in group.members)
        return f"{group.k} of [{inner}]"

    def check_log(self, verifier: Any) -> None:
        """Refuse a checkpoint of a log the policy does not list (when it lists logs)."""
        if not self.logs:
            return
        from sceau.keys import spki_der

        key = spki_der(verifier.public_key)
        if not any(spki_der(v.public_key) == key for v in self.logs):
            raise LogEntryError(f"the log {verifier.name} is not among the witness policy's logs")


def witness_verifiers(witnesses: Sequence[Witness]) -> list[Any]:
    from sceau.note import cosignature_verifier

    return [cosignature_verifier(w.name, w.public_key) for w in witnesses]


def count_cosigners(note: Any, verifiers: Sequence[Any], threshold: int) -> tuple[str, ...]:
    """Names of witnesses whose cosignature is among the note's verified signatures;
    raise below ``threshold`` (0 means every configured witness)."""
    need = threshold or len(verifiers)
    ids = {(v.name, bytes(v.key_id)) for v in verifiers}
    names = tuple(
        sig.name for sig in getattr(note, "verified", ()) if (sig.name, sig.key_id) in ids
    )
    if len(names) < need:
        raise LogEntryError(
            f"checkpoint has {len(names)} valid witness cosignature(s), need {need}"
        )
    return names
