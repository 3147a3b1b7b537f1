"""Transparency log entry verification (docs/protocols.md §6 step 5): inclusion proof, signed
checkpoint, optional witness cosignatures, and the Rekor v1 inclusion promise (SET).

Pure functions of the entry and the trusted root; no network (an entry without an
inclusion proof is refused, never looked up online).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sceau import merkle
from sceau import note as notes
from sceau.client.bundle import TlogEntry
from sceau.client.errors import LogEntryError
from sceau.client.trust import LogInstance, TrustedRoot
from sceau.client.witness import Witness, WitnessPolicy

# Entry kinds written by Rekor v2 (rekor-tiles): index is tree-local, no SET, no time.
REKOR_V2_KINDS = frozenset({("hashedrekord", "0.0.2"), ("dsse", "0.0.2")})
# Entry kinds whose integrated time may count as verified time (Rekor v1 with a promise).
REKOR_V1_KINDS = frozenset({("hashedrekord", "0.0.1"), ("dsse", "0.0.1"), ("intoto", "0.0.2")})


@dataclass(frozen=True)
class LogVerification:
    log: LogInstance
    tree_size: int
    root_hash: bytes
    promise_verified: bool
    cosignatures: tuple[str, ...] = ()


def find_log(entry: TlogEntry, trusted_root: TrustedRoot, now: datetime) -> LogInstance:
    log = trusted_root.tlog(entry.log_id)
    if log is None or log.public_key is None:
        raise LogEntryError(
            f"log entry is from a log not in the trusted root (log ID {entry.log_id.hex()[:16]}…)"
        )
    if not log.started(now):
        raise LogEntryError(f"log key of {log.base_url} is not yet valid")
    return log


def verify_entry(
    entry: TlogEntry,
    trusted_root: TrustedRoot,
    *,
    now: datetime | None = None,
    witnesses: Sequence[Witness] = (),
    witness_threshold: int = 0,
    witness_policy: WitnessPolicy | None = None,
) -> LogVerification:
    """Step 5 for one entry. Witnesses are required by ``witness_policy`` or, without one,
    as ``witness_threshold`` (0: all) of ``witnesses``."""
    now = now or datetime.now(UTC)
    log = find_log(entry, trusted_root, now)
    proof = entry.inclusion_proof
    if proof is None or proof.checkpoint is None:
        raise LogEntryError("log entry has no inclusion proof with checkpoint (offline only)")
    if (entry.kind, entry.version) in REKOR_V2_KINDS and proof.log_index != entry.log_index:
        raise LogEntryError("Rekor v2 entry: inclusion proof index differs from the entry index")

    # 5a. Inclusion of SHA-256(0x00 ‖ canonicalizedBody) under the proof's root.
    leaf = merkle.leaf_hash(entry.canonicalized_body)
    try:
        merkle.verify_inclusion(
            proof.log_index, proof.tree_size, leaf, list(proof.hashes), proof.root_hash
        )
    except merkle.ProofError as e:
        raise LogEntryError(f"inclusion proof does not verify: {e.message}") from None

    # 5b. The checkpoint is signed by this log (and, if configured, by enough witnesses)
    #     and commits to the same tree as the proof.
    checkpoint, cosigned = _open_checkpoint(
        proof.checkpoint, log, witnesses, witness_threshold, witness_policy
    )
    if checkpoint.root_hash != proof.root_hash or checkpoint.size != proof.tree_size:
        raise LogEntryError("checkpoint does not match the inclusion proof's tree (size/root)")

    # 5d. The Signed Entry Timestamp (Rekor v1), verified when there is a time to bind.
    promise = False
    if entry.inclusion_promise is not None and entry.integrated_time:
        verify_set(entry, log)
        promise = True
    return LogVerification(log, checkpoint.size, checkpoint.root_hash, promise, cosigned)


def _open_checkpoint(
    text: str,
    log: LogInstance,
    witnesses: Sequence[Witness] = (),
    threshold: int = 0,
    policy: WitnessPolicy | None = None,
) -> tuple[Any, tuple[str, ...]]:
    if policy is None and witnesses:
        policy = WitnessPolicy.threshold(witnesses, threshold)
    verifier = log_verifier(log)
    extra = policy.verifiers() if policy is not None else []
    try:
        parsed = notes.verify_note(text, [verifier, *extra])
        checkpoint = notes.Checkpoint.parse(parsed.body)
    except notes.NoteError as e:
        raise LogEntryError(f"checkpoint does not verify: {e.message}") from None
    if not any(s.name == verifier.name and s.key_id == verifier.key_id for s in parsed.verified):
        raise LogEntryError("checkpoint is not signed by the log")
    if policy is None:
        return checkpoint, ()
    policy.check_log(verifier)
    return checkpoint, policy.check(parsed)


def log_verifier(log: LogInstance) -> Any:
    """The note verifier of a log, named host[:port] of its base URL (the js rule); its key
    hint must be the log ID's first 4 bytes (the python rule)."""

    try:
        verifier = log.note_verifier
    except notes.NoteError as e:
        raise LogEntryError(f"log key of {log.name} cannot verify checkpoints: {e}") from None
    if bytes(verifier.key_id) not in {i[:4] for i in log.ids()}:
        raise LogEntryError(f"checkpoint key ID of {log.name} does not match its log ID")
    return verifier


def set_payload(entry: TlogEntry) -> bytes:
    """RFC 8785 JSON of body, integratedTime, logID (hex), logIndex (global) — the SET input.

    Keys are written in JCS order and every value is base64, hex or an integer (nothing to
    escape), so this formatted string is exactly the canonical form.
    """
    body = base64.b64encode(entry.canonicalized_body).decode()
    return (
        f'{{"body":"{body}","integratedTime":{entry.integrated_time},'
        f'"logID":"{entry.log_id.hex()}","logIndex":{entry.log_index}}}'
    ).encode()


def verify_set(entry: TlogEntry, log: LogInstance) -> None:
    assert entry.inclusion_promise is not None
    when = datetime.fromtimestamp(entry.integrated_time, UTC)
    if log.valid_for is not None and not log.valid_for.contains(when):
        raise LogEntryError("integrated time is outside the log key's validity in the trusted root")
    if not log.verify(entry.inclusion_promise, set_payload(entry)):
        raise LogEntryError("inclusion promise (SET) does not verify with the log key")


def entry_leaf_hash(entry: TlogEntry) -> bytes:
    return hashlib.sha256(b"\x00" + entry.canonicalized_body).digest()
