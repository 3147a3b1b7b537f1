"""The logs a trusted root names, as things a monitor can follow.

A trusted root says where a log is (``baseUrl``) and which key signs it, not which protocol
it speaks; sceau tells them apart the way its own trusted roots are built (docs/protocols.md
§3.6): an Ed25519 transparency log is a Rekor v2 (tlog-tiles) log, an ECDSA one a Rekor v1
log, and a CT log serves its tiles under ``<baseUrl>/ct`` with the checkpoint key named
``<host[:port]>/ct``. Retired keys (a ``validFor.end`` in the past) are skipped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ed25519

from sceau.client.trust import LogInstance, TrustedRoot
from sceau.errors import InputError

KINDS = ("rekor-v1", "rekor-v2", "ct")


@dataclass(frozen=True)
class LogTarget:
    """One log to follow: its kind, where it is, and the note verifier of its checkpoints."""

    kind: str  # rekor-v1 | rekor-v2 | ct
    base_url: str  # the trusted root's baseUrl, without a trailing slash
    name: str  # checkpoint key name
    log_id: bytes
    verifier: Any
    public_key: Any = None  # for RFC 6962 tree heads, which are not signed notes
    witness_policy: Any = None  # a WitnessPolicy its checkpoints must satisfy (or None)

    @property
    def label(self) -> str:
        """How reports name the log: ``<kind> <baseUrl>``."""
        return f"{self.kind} {self.base_url}"

    @property
    def slug(self) -> str:
        """A file name for its state: kind plus a hash of the log ID."""
        return f"{self.kind}-{hashlib.sha256(self.log_id).hexdigest()[:16]}"

    def origin_ok(self, origin: str) -> bool:
        """Whether a checkpoint origin line belongs to this log (C2SP: verifiers check it)."""
        if self.kind == "rekor-v1":  # "<host> - <tree ID>", as rekor.sigstore.dev does
            return origin.startswith(f"{self.name} - ")
        return origin == self.name

    def entry_url(self, index: int) -> str:
        if self.kind == "rekor-v1":
            return f"{self.base_url}/api/v1/log/entries?logIndex={index}"
        if self.kind == "rekor-v2":
            return f"{self.base_url}/api/v2/log/entries/{index}"
        return f"{self.base_url}/ct/v1/get-entries?start={index}&end={index}"


def with_witness_policy(logs: list[LogTarget], policy: Any) -> list[LogTarget]:
    """Require ``policy``'s quorum of cosignatures on the checkpoints of the logs it names
    (``log`` lines); a policy that names no log applies to every log followed."""
    from dataclasses import replace

    from sceau.errors import SceauError

    out = []
    for t in logs:
        try:
            policy.check_log(t.verifier)
        except SceauError:
            out.append(t)  # not a log the policy speaks of
            continue
        out.append(replace(t, witness_policy=policy))
    return out


def targets(
    root: TrustedRoot, kinds: tuple[str, ...] = KINDS, now: datetime | None = None
) -> list[LogTarget]:
    """Every current log of ``root`` whose kind is in ``kinds``, in trusted-root order."""
    from sceau import note

    now = now or datetime.now(UTC)
    out: list[LogTarget] = []
    seen: set[tuple[str, str]] = set()
    candidates = [(log, False) for log in root.tlogs] + [(log, True) for log in root.ctlogs]
    for log, is_ct in candidates:
        if log.public_key is None or _retired(log, now):
            continue
        base = log.base_url.rstrip("/")
        if is_ct:
            kind = "ct"
            split = urlsplit(base)
            name = f"{split.netloc}{split.path}/ct"
        else:
            kind = (
                "rekor-v2" if isinstance(log.public_key, ed25519.Ed25519PublicKey) else "rekor-v1"
            )
            name = log.name
        if kind not in kinds or (kind, base) in seen:
            continue
        try:
            verifier = note.note_verifier(name, log.public_key)
        except note.NoteError as e:
            raise InputError(
                f"log {base} ({kind}): its key cannot verify checkpoints: {e}"
            ) from None
        seen.add((kind, base))
        out.append(LogTarget(kind, base, name, log.log_id, verifier, log.public_key))
    return out


def _retired(log: LogInstance, now: datetime) -> bool:
    return log.valid_for is not None and log.valid_for.end is not None and log.valid_for.end < now
