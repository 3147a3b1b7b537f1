"""One pass over one log: verify its checkpoint, prove it only grew, scan the new entries.

The proof of growth is a recomputation: the compact range of the last verified tree (kept in
the state directory) is extended with the leaf hash of every new entry, and the result must
equal the new checkpoint's signed root. That proves the new tree contains the old one *and*
that the entries just read — the ones matched against the watch rules — are the log's own.
Matches are handed out only after that check passed; the caller delivers them, then
:meth:`Pass.commit` moves the state (so a failed delivery is retried by the next run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sceau import note
from sceau.errors import RemoteError
from sceau.merkle import CompactRange, leaf_hash
from sceau.monitor.entries import Entry, parse_ct_leaf, parse_rekor
from sceau.monitor.errors import LogAlarm
from sceau.monitor.logs import LogTarget
from sceau.monitor.state import LogState, load_state, save_state
from sceau.monitor.watch import Watch


class Source(Protocol):
    index_offset: int  # reported index = tree index + offset (sharded Rekor v1)

    def latest(self, target: LogTarget) -> tuple[note.Checkpoint, str]: ...

    def start_range(self, size: int) -> CompactRange: ...

    def entries(self, start: int, end: int, size: int) -> Any: ...


Progress = Callable[[int, int], None]


def source_for(target: LogTarget, http: Any) -> Source:
    """How to read ``target``: Rekor v1 by index, Rekor v2 by tiles, a CT log by tiles when
    it serves them (``<base>/ct/checkpoint``) and otherwise by its RFC 6962 API."""
    from sceau.monitor.rfc6962 import RFC6962Source
    from sceau.monitor.sources import MAX_CHECKPOINT, RekorV1Source, TileSource

    if target.kind == "rekor-v1":
        return RekorV1Source(http, target.base_url)
    if target.kind == "rekor-v2":
        return TileSource(http, f"{target.base_url}/api/v2")
    status, _ = http.request("GET", f"{target.base_url}/ct/checkpoint", MAX_CHECKPOINT)
    if status == 404:
        return RFC6962Source(http, target.base_url)
    return TileSource(http, f"{target.base_url}/ct")


@dataclass
class Pass:
    """What one pass saw: the sizes it went between and the matches it found."""

    target: LogTarget
    first_run: bool
    old_size: int
    new_size: int
    matches: list[dict[str, Any]] = field(default_factory=list)
    state: LogState | None = None  # the verified tree, to save once matches are delivered

    @property
    def scanned(self) -> int:
        return self.new_size - self.old_size

    def commit(self, state_dir: Path) -> None:
        """Record the verified tree (atomically): the next pass starts from it."""
        if self.state is not None:
            save_state(state_dir, self.target.slug, self.state)


def match_record(target: LogTarget, index: int, entry: Entry, rules: list[str]) -> dict[str, Any]:
    """The JSON object printed for a match (docs/monitoring.md lists the keys)."""
    identity = entry.identities[0] if entry.identities else (
        entry.dns_names[0] if entry.dns_names else None)  # fmt: skip
    record: dict[str, Any] = {
        "log": target.base_url,
        "log_type": target.kind,
        "index": index,
        "identity": identity,
        "issuer": entry.issuer,
        "artifact_digest": entry.artifact_digest,
        "entry_url": target.entry_url(index),
        "kind": entry.kind,
        "rules": rules,
        "identities": entry.identities,
        "key_fingerprint": entry.key_fingerprint,
    }
    for key in ("subject", "github_repository", "github_workflow"):
        if value := getattr(entry, key):
            record[key] = value
    if entry.dns_names:
        record["dns_names"] = entry.dns_names
    return record


def run_pass(
    target: LogTarget,
    source: Source,
    state_dir: Path,
    watch: Watch,
    *,
    from_index: int | None = None,
    progress: Progress | None = None,
) -> Pass:
    """Follow ``target`` from its saved state (or from now / ``from_index``) to its latest
    checkpoint; the state is not saved (:meth:`Pass.commit`). Raises :class:`LogAlarm` on
    any inconsistency or bad signature."""
    cp, text = source.latest(target)
    state = load_state(state_dir, target.slug)
    if state is None:
        start = cp.size if from_index is None else min(from_index, cp.size)
        compact = source.start_range(start)
    else:
        _check_against(target, state, cp)
        start, compact = state.size, state.compact_range()
    result = Pass(target, state is None, start, cp.size)
    parse = parse_ct_leaf if target.kind == "ct" else parse_rekor
    is_ct = target.kind == "ct"
    needles = watch.needles
    total, done = cp.size - start, 0
    for index, leaf in source.entries(start, cp.size, cp.size):
        if index != compact.size:
            raise RemoteError(f"{target.label}: entry {index} came out of order")
        compact.append(leaf_hash(leaf))
        entry = parse(leaf, needles)
        rules = watch.match(entry, is_ct)
        if rules:
            number = index + source.index_offset
            result.matches.append(match_record(target, number, entry, rules))
        done += 1
        if progress is not None and done % 4096 == 0:
            progress(done, total)
    if compact.size != cp.size:
        raise RemoteError(
            f"{target.label}: read {compact.size} entries, the checkpoint says {cp.size}"
        )
    if compact.root() != cp.root_hash:
        if state is None:
            raise LogAlarm(
                f"{target.label}: the log's entries and hashes do not lead to its signed root "
                f"at size {cp.size}"
            )
        raise LogAlarm(
            f"{target.label}: LOG INCONSISTENT: the signed tree of size {cp.size} does not "
            f"extend the tree of size {state.size} verified before (a fork or a rewritten "
            "history)"
        )
    if progress is not None and total:
        progress(total, total)
    result.state = LogState(target.label, cp.origin, cp.size, cp.root_hash, text, compact.hashes)
    return result


def _check_against(target: LogTarget, state: LogState, cp: note.Checkpoint) -> None:
    """The cheap alarms, before any entry is read: another origin, a smaller tree, or the
    same size with another root."""
    if cp.origin != state.origin:
        raise LogAlarm(
            f"{target.label}: checkpoint origin changed from {state.origin!r} to {cp.origin!r}"
        )
    if cp.size < state.size:
        raise LogAlarm(
            f"{target.label}: LOG ROLLED BACK: its signed tree has {cp.size} entries, "
            f"but a tree of {state.size} was verified before"
        )
    if cp.size == state.size and cp.root_hash != state.root_hash:
        raise LogAlarm(
            f"{target.label}: LOG FORKED: two signed trees of size {cp.size} with different "
            "root hashes"
        )
