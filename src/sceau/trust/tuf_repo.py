"""The instance's TUF repository: how clients fetch ``trusted_root.json`` securely.

Layout (consistent snapshots on, as in the public Sigstore repository, docs/protocols.md §5.4)::

    <repo>/1.root.json, 2.root.json, …   every root version, kept forever (clients walk them)
    <repo>/root.json                     copy of the newest root (for bootstrapping clients)
    <repo>/N.targets.json                targets metadata, one file per version
    <repo>/N.snapshot.json               snapshot metadata, one file per version
    <repo>/timestamp.json                the only mutable name: the commit point
    <repo>/targets/<sha256>.<name>       target files, content-addressed

Crash invariant: every change writes new, not-yet-referenced files first (targets,
``N.targets.json``, ``N.snapshot.json``, then any new root) and replaces
``timestamp.json`` last. A crash before that leaves the previous, complete repository in
place plus unreferenced files, which the next change overwrites or ignores. Old versions
stay on disk so that a client halfway through an update never meets a 404.

One repository writer at a time: mutations hold an ``flock`` on ``<repo>/.lock`` so the
server's periodic refresh and ``sceau tuf refresh`` cannot interleave.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from securesystemslib.signer import SSlibKey
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization import DeserializationError
from tuf.api.serialization.json import JSONSerializer

from sceau.durable import write_atomic
from sceau.errors import Conflict, InputError, InternalError, NotFound
from sceau.keys import Signer
from sceau.trust.tuf_keys import ROLES, SslibSigner, TufKeys

TARGET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
log = logging.getLogger("sceau.tuf")
_ROOT_FILE = re.compile(r"([1-9][0-9]{0,9})\.root\.json")
_SERIALIZER = JSONSerializer(compact=False)


@dataclass(frozen=True)
class Expiry:
    """How long each role's metadata is valid, and when :meth:`TufRepository.refresh` renews.

    A role is re-signed once less than ``refresh_fraction`` of its lifetime is left, so a
    daily refresh keeps a one-day timestamp valid at all times.
    """

    root: timedelta = timedelta(days=365)
    targets: timedelta = timedelta(days=365)
    snapshot: timedelta = timedelta(days=7)
    timestamp: timedelta = timedelta(days=1)
    refresh_fraction: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.refresh_fraction < 1:
            raise ValueError("refresh_fraction must be between 0 and 1")
        for role in ROLES:
            if self.lifetime(role) <= timedelta(0):
                raise ValueError(f"the {role} lifetime must be positive")

    def lifetime(self, role: str) -> timedelta:
        value: timedelta = getattr(self, role)
        return value


@dataclass
class _State:
    """The four current metadata objects, as read from disk."""

    root: Metadata[Root]
    targets: Metadata[Targets]
    snapshot: Metadata[Snapshot]
    timestamp: Metadata[Timestamp]
    files: dict[str, bytes] = field(default_factory=dict)  # path -> bytes to write


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TufRepository:
    """A TUF repository on disk, signed with the instance's online role keys."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        keys: TufKeys,
        expiry: Expiry | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.path = Path(path)
        self.keys = keys
        self.expiry = expiry or Expiry()
        self._clock = clock

    # ---- reading ---------------------------------------------------------------------

    def exists(self) -> bool:
        return (self.path / "timestamp.json").is_file()

    def versions(self) -> dict[str, int]:
        """Current version of each role, e.g. ``{"root": 1, "targets": 2, …}``."""
        state = self._load()
        return {role: getattr(state, role).signed.version for role in ROLES}

    def expires(self) -> dict[str, datetime]:
        state = self._load()
        return {role: getattr(state, role).signed.expires for role in ROLES}

    def target_names(self) -> list[str]:
        return sorted(self._load().targets.signed.targets)

    def read_target(self, name: str) -> bytes:
        """The current content of target ``name`` (verified against its hash)."""
        info = self._load().targets.signed.targets.get(name)
        if info is None:
            raise NotFound(f"no TUF target named {name!r}")
        data = self._read(self._target_path(info))
        info.verify_length_and_hashes(data)
        return data

    # ---- changes ---------------------------------------------------------------------

    def create(self, targets: Mapping[str, bytes]) -> None:
        """Create version 1 of every role, publishing ``targets`` (name → content)."""
        _check_names(targets)
        with self._locked():
            if self.exists():
                raise Conflict(f"a TUF repository already exists at {self.path}")
            now = self._now()
            root = Metadata(Root(expires=now + self.expiry.root, consistent_snapshot=True))
            for role in ROLES:
                root.signed.add_key(SslibSigner(self.keys.for_role(role)).public_key, role)
            state = _State(
                root=root,
                targets=Metadata(Targets(expires=now + self.expiry.targets)),
                snapshot=Metadata(Snapshot(expires=now + self.expiry.snapshot)),
                timestamp=Metadata(Timestamp(expires=now + self.expiry.timestamp)),
            )
            self._stage_targets(state, targets)
            self._sign_and_write(state, set(ROLES), bump=False)

    def refresh(self) -> list[str]:
        """Re-sign every role whose expiry is near; return the roles re-signed (in order)."""
        with self._locked():
            state = self._load()
            self._repair_root_copy(state.root.signed.version)
            now = self._now()
            due = set()
            for role in ROLES:
                md = getattr(state, role)
                left = md.signed.expires - now
                if left < self.expiry.lifetime(role) * self.expiry.refresh_fraction:
                    due.add(role)
            if "root" in due and self.keys.root is None:
                # Offline root: the ceremony (`sceau tuf sign-root`) renews it; say so.
                due.discard("root")
                log.warning(
                    "TUF root v%d expires at %s and its key is offline: run "
                    "`sceau tuf sign-root` before then",
                    state.root.signed.version,
                    state.root.signed.expires.isoformat(),
                )
            if not due:
                return []
            return self._sign_and_write(state, due)

    def update_targets(self, targets: Mapping[str, bytes], *, remove: Sequence[str] = ()) -> int:
        """Add or replace targets (and drop ``remove``); return the new targets version.

        Unchanged content is a no-op that returns the current version.
        """
        _check_names(targets)
        with self._locked():
            state = self._load()
            current = state.targets.signed.targets
            changed = any(
                name not in current or current[name] != TargetFile.from_data(name, data)
                for name, data in targets.items()
            )
            missing = [n for n in remove if n not in current]
            if missing:
                raise NotFound(f"cannot remove unknown TUF targets: {', '.join(missing)}")
            if not changed and not remove:
                return state.targets.signed.version
            for name in remove:
                del current[name]
            self._stage_targets(state, targets)
            self._sign_and_write(state, {"targets"})
            return state.targets.signed.version

    def rotate_root(self, new_keys: TufKeys) -> int:
        """Replace role keys with ``new_keys``; return the new root version.

        The new root is signed by the old and the new root key (clients need both), and
        the other roles are re-signed by old and new keys alike, so a client sees a valid
        repository whether or not it has fetched the new root yet.
        """
        with self._locked():
            state = self._load()
            previous = Metadata.from_bytes(state.root.to_bytes())
            root = state.root.signed
            for role in ROLES:
                for keyid in list(root.roles[role].keyids):
                    root.revoke_key(keyid, role)
                root.add_key(SslibSigner(new_keys.for_role(role)).public_key, role)
            self._sign_and_write(
                state, set(ROLES), keys=new_keys, also_sign_with=self.keys, previous_root=previous
            )
            self.keys = new_keys
            return state.root.signed.version

    def sign_root(
        self,
        signers: Sequence[Signer],
        *,
        add: Sequence[object] = (),
        remove: Sequence[str] = (),
        threshold: int | None = None,
    ) -> Root:
        """The offline root ceremony: publish root version N+1 with the root role's keys
        and threshold changed as asked (public keys ``add``, key IDs ``remove``) and its
        expiry renewed, signed by ``signers``. They must meet the current root's threshold
        (clients trust the new root through it) and the new root's own; if they do not,
        nothing is written. Returns the new root."""
        with self._locked():
            state = self._load()
            previous: Metadata[Root] = Metadata.from_bytes(state.root.to_bytes())
            root = state.root.signed
            for public_key in add:
                root.add_key(SSlibKey.from_crypto(public_key), "root")  # type: ignore[arg-type]
            for keyid in remove:
                if keyid not in root.roles["root"].keyids:
                    raise InputError(f"{keyid} is not a key of the root role")
                root.revoke_key(keyid, "root")
            if threshold is not None:
                if threshold < 1:
                    raise InputError(f"--threshold must be at least 1, got {threshold}")
                root.roles["root"].threshold = threshold
            role = root.roles["root"]
            if len(role.keyids) < role.threshold:
                raise InputError(
                    f"the root role would have {len(role.keyids)} key(s) for a threshold "
                    f"of {role.threshold}"
                )
            known = set(previous.signed.roles["root"].keyids) | set(role.keyids)
            for signer in signers:
                keyid = SslibSigner(signer).keyid
                if keyid not in known:
                    raise InputError(f"key {keyid} is not a root key of this or the new root")
            root.version += 1
            root.expires = self._now() + self.expiry.root
            data = self._sign(state.root, signers)
            for which, trusted in (("current", previous.signed), ("new", root)):
                try:
                    trusted.verify_delegate("root", state.root.signed_bytes, state.root.signatures)
                except UnsignedMetadataError as e:
                    need = trusted.roles["root"].threshold
                    raise InputError(
                        f"not enough root keys for the {which} root (v{trusted.version}): it "
                        f"needs {need} signature(s) from its root keys; nothing was written"
                    ) from e
            self._write(f"{root.version}.root.json", data)
            self._write("root.json", data)
            return root

    # ---- internals -------------------------------------------------------------------

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC).replace(microsecond=0)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _read(self, path: Path) -> bytes:
        try:
            return path.read_bytes()
        except FileNotFoundError as e:
            raise InternalError(f"TUF repository at {self.path} is missing {path.name}") from e

    def _parse(self, name: str, cls: type[Any]) -> Metadata[Any]:
        data = self._read(self.path / name)
        try:
            md: Metadata[Any] = Metadata.from_bytes(data)
        except DeserializationError as e:
            raise InternalError(f"TUF metadata {name} is damaged: {e}") from e
        if not isinstance(md.signed, cls):
            raise InternalError(f"TUF metadata {name} is not {cls.type} metadata")
        return md

    def _load(self) -> _State:
        """Follow timestamp → snapshot → targets, exactly as a client would."""
        if not self.exists():
            raise NotFound(f"no TUF repository at {self.path} (run `sceau init`)")
        timestamp = self._parse("timestamp.json", Timestamp)
        snapshot = self._parse(f"{timestamp.signed.snapshot_meta.version}.snapshot.json", Snapshot)
        targets_meta = snapshot.signed.meta.get("targets.json")
        if targets_meta is None:
            raise InternalError("TUF snapshot does not list targets.json")
        targets = self._parse(f"{targets_meta.version}.targets.json", Targets)
        root = self._parse(f"{self._latest_root_version()}.root.json", Root)
        return _State(root=root, targets=targets, snapshot=snapshot, timestamp=timestamp)

    def _latest_root_version(self) -> int:
        """The highest ``N.root.json`` on disk: the published root, even if a crash
        left ``root.json`` one version behind."""
        names = (p.name for p in self.path.iterdir())
        found = [int(m.group(1)) for n in names if (m := _ROOT_FILE.fullmatch(n))]
        if not found:
            raise InternalError(f"TUF repository at {self.path} has no N.root.json")
        return max(found)

    def _target_path(self, info: TargetFile) -> Path:
        return self.path / "targets" / f"{info.hashes['sha256']}.{info.path}"

    def _stage_targets(self, state: _State, targets: Mapping[str, bytes]) -> None:
        for name, data in targets.items():
            info = TargetFile.from_data(name, data, ["sha256"])
            state.targets.signed.targets[name] = info
            state.files[str(self._target_path(info))] = data

    def _sign_and_write(
        self,
        state: _State,
        roles: set[str],
        *,
        bump: bool = True,
        keys: TufKeys | None = None,
        also_sign_with: TufKeys | None = None,
        previous_root: Metadata[Root] | None = None,
    ) -> list[str]:
        """Re-sign ``roles`` and whatever depends on them, then write in commit order."""
        keys = keys or self.keys
        if "targets" in roles:
            roles.add("snapshot")
        if "snapshot" in roles:
            roles.add("timestamp")
        now = self._now()
        written: dict[str, bytes] = {}
        for role in ("root", "targets", "snapshot", "timestamp"):
            if role not in roles:
                continue
            md = getattr(state, role)
            if bump:
                md.signed.version += 1
            md.signed.expires = now + self.expiry.lifetime(role)
            if role == "snapshot" and "targets" in written:
                md.signed.meta["targets.json"] = MetaFile.from_data(
                    state.targets.signed.version, written["targets"], ["sha256"]
                )
            elif role == "timestamp" and "snapshot" in written:
                md.signed.snapshot_meta = MetaFile.from_data(
                    state.snapshot.signed.version, written["snapshot"], ["sha256"]
                )
            signers = [keys.for_role(role)]
            if also_sign_with is not None:
                signers.append(also_sign_with.for_role(role))
            written[role] = self._sign(md, signers)
        self._self_check(state, roles, previous_root)

        # Commit order (see module docstring): new content first, timestamp.json last.
        for path, data in state.files.items():
            write_atomic(path, data, 0o644)
        if "targets" in written:
            self._write(f"{state.targets.signed.version}.targets.json", written["targets"])
        if "snapshot" in written:
            self._write(f"{state.snapshot.signed.version}.snapshot.json", written["snapshot"])
        if "root" in written:
            self._write(f"{state.root.signed.version}.root.json", written["root"])
            self._write("root.json", written["root"])
        else:
            self._repair_root_copy(state.root.signed.version)
        if "timestamp" in written:
            self._write("timestamp.json", written["timestamp"])
        return [r for r in ROLES if r in written]

    @staticmethod
    def _sign(md: Metadata[Any], signers: Sequence[Any]) -> bytes:
        md.signatures.clear()
        seen = set()
        for signer in signers:
            adapter = SslibSigner(signer)
            if adapter.keyid not in seen:
                md.sign(adapter, append=True)
                seen.add(adapter.keyid)
        return md.to_bytes(_SERIALIZER)

    def _self_check(self, state: _State, roles: set[str], old_root: Metadata[Root] | None) -> None:
        """Refuse to publish metadata the (new and any old) root would not accept.

        This catches keys that do not match the repository (a wrong ``keys/`` directory)
        before anything is written.
        """
        roots = [state.root] + ([old_root] if old_root is not None else [])
        try:
            for root in roots:
                for role in roles:
                    md = getattr(state, role)
                    root.signed.verify_delegate(role, md.signed_bytes, md.signatures)
        except UnsignedMetadataError as e:
            raise InternalError(f"TUF keys do not match the repository at {self.path}: {e}") from e

    def _repair_root_copy(self, version: int) -> None:
        """Make ``root.json`` equal the newest ``N.root.json`` again after a crash between
        the two writes."""
        newest = self._read(self.path / f"{version}.root.json")
        copy = self.path / "root.json"
        if not copy.is_file() or copy.read_bytes() != newest:
            self._write("root.json", newest)

    def _write(self, name: str, data: bytes) -> None:
        write_atomic(self.path / name, data, 0o644)


def _check_names(targets: Mapping[str, bytes]) -> None:
    for name in targets:
        if not TARGET_NAME.fullmatch(name) or ".." in name:
            raise InputError(f"invalid TUF target name {name!r}")
