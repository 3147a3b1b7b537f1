"""Key rotation: replace a log, TSA or CA key and publish the change through TUF.

``rotate(cfg, name)`` for ``rekor-v1``, ``rekor-v2``, ``ct``, ``tsa`` or
``ca-intermediate``:

1. the old key (and certificate) move to ``keys/retired/`` (``certs/retired/``) and a line
   is added to ``retired.json``: its validity window ends now;
2. a new key (and, for the TSA and CA, a new certificate) takes its place;
3. for a log, its current tree head is re-signed with the new key, so the stored
   checkpoint verifies at the next start and the tree continues unbroken under the new key;
4. the trust files list the retired key with ``validFor.end`` = now and the new one from now,
   and a new TUF targets version publishes them. Clients verify old bundles with the old key
   and new ones with the new key.

On a running ``sceau serve`` (found by its admin socket, :mod:`sceau.instance.control`)
the log is not touched here: the new key is renamed into place (the commit point), the
trust files are published with the old key still valid, and the server is asked to reload
(:mod:`sceau.instance.live`: it re-signs the log's head itself, between two batches); then
the old key's window is closed at the moment the server stopped using it. A server that
stops before re-signing does it at its next start (:func:`finish_online_rotations`).

Crash safety: the new key and certificates are first staged beside the current ones
(``*.next``) and described in ``keys/rotation.json``; the commit point is step 3 for a log
(its head now verifies only with the new key) or the new key's rename into place for the
CA and TSA. :func:`recover_rotation`, run by ``serve`` and ``rotate`` before anything else,
finishes a rotation past its commit point and undoes one before it, so a crash at any
point leaves an instance that starts (``tests/e2e/test_rotate.py``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sceau.config import InstanceConfig
from sceau.durable import write_atomic
from sceau.errors import InputError, InternalError
from sceau.instance.retired import (
    OVERLAP,
    Retired,
    current_since,
    load_retired,
    save_retired,
)
from sceau.keys import FileSigner, generate_signer, load_signer, save_signer

JOURNAL = "rotation.json"  # in keys/: a rotation under way (see recover_rotation)


def log_note_names(cfg: InstanceConfig) -> dict[str, tuple[str, str]]:
    """Key file → (engine log name, checkpoint key name) for the instance's logs."""
    host = cfg.host
    return {
        "rekor-v1": ("rekor-v1", host),
        "rekor-v2": ("rekor-v2", host),
        "ct": ("ct", f"{host}/ct"),
    }


ROTATABLE = ("rekor-v1", "rekor-v2", "ct", "tsa", "ca-intermediate")


def _file_signer(m: Any, name: str) -> FileSigner:
    signer = m.signer(name)
    if not isinstance(signer, FileSigner):
        raise InputError(f"{name} is not a key file: it cannot be rotated by sceau rotate")
    return signer


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _resign_log(
    cfg: InstanceConfig, log_name: str, key_name: str, old: FileSigner, new: FileSigner
) -> int:
    """Re-sign the stored head of ``log_name`` with ``new`` after checking it with ``old``."""
    from sceau.instance.storage import open_storage
    from sceau.log.storage import BatchWrite, TreeHead
    from sceau.note import Checkpoint, NoteError, note_signer, open_checkpoint, sign_note

    storage = open_storage(cfg)
    try:
        head = storage.load_head(log_name)
        if head is None:
            raise InternalError(f"log {log_name!r} does not exist in storage")
        if head.size == 0:
            return 0
        try:
            cp = open_checkpoint(head.note, [note_signer(key_name, old).verifier()])
        except NoteError as e:
            raise InternalError(
                f"log {log_name!r}: stored checkpoint does not verify "
                f"with the current key: {e.message}"
            ) from e
        if (cp.size, cp.root_hash) != (head.size, head.root_hash):
            raise InternalError(f"log {log_name!r}: stored checkpoint does not match its head")
        body = Checkpoint(cp.origin, cp.size, cp.root_hash, cp.extensions).body()
        note = sign_note(body, [note_signer(key_name, new)])
        ts = max(time.time_ns() // 1_000_000, head.timestamp_ms)
        storage.commit(
            BatchWrite(
                log_name, head.size, TreeHead(head.size, head.root_hash, note, ts), {}, [], []
            )
        )
        size: int = head.size
        return size
    finally:
        storage.close()


def rotate(cfg: InstanceConfig, name: str) -> str:
    """Rotate key ``name``; returns a one-line summary."""
    from sceau.instance.material import KEY_FILES, Material, valid_from

    if name not in ROTATABLE:
        raise InputError(f"cannot rotate {name!r}; choose one of {', '.join(ROTATABLE)}")
    from sceau.instance.material import token_keys

    if name in token_keys(cfg):
        raise InputError(
            f"{name} is held in a PKCS#11 token ([keys] in sceau.toml): sceau rotate "
            'replaces key files only (docs/operations.md, "Keys")'
        )
    from sceau.instance.control import ask, running_server

    online = ask(cfg, "ping") is not None  # a `sceau serve` of this instance is running
    server = running_server(cfg)
    if not online and server is not None:
        raise InputError(
            f"sceau serve (pid {server['pid']}, --workers {server['workers']}) is running on "
            "this instance and cannot switch keys online: stop it, rotate, start it again"
        )
    recover_rotation(cfg, online=online)
    m = Material.load(cfg)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    successor_from = now - OVERLAP / 2  # when the new key is valid from
    # The old key stays valid until the server has switched: at once when it is stopped,
    # else until it answers the reload (and at most ONLINE_GRACE if that answer is lost).
    until = now + (ONLINE_GRACE if online else OVERLAP / 2)
    old = _file_signer(m, name)
    new = generate_signer(KEY_FILES[name])
    retired_dir, certs_dir = cfg.keys_dir / "retired", cfg.dir / "certs" / "retired"
    retired_dir.mkdir(mode=0o700, exist_ok=True)
    certs_dir.mkdir(exist_ok=True)
    default_start = min(
        valid_from(m.ca_root), valid_from(m.ca_intermediate), valid_from(m.tsa_leaf)
    )
    since = current_since(cfg, name, default_start)
    retired_certs: list[Path] = []
    new_certs: dict[str, bytes] = {}
    summary = ""

    if name in log_note_names(cfg):
        pass  # the stored head is re-signed below, at the commit point
    elif name == "tsa":
        from sceau.services.tsa import make_tsa_chain

        operator = str(cfg.get("instance", "operator", "sceau"))
        chain = make_tsa_chain(
            organization=operator, leaf_signer=new, root_signer=_file_signer(m, "tsa-root")
        )
        for label, cert in (("tsa-leaf", m.tsa_leaf), ("tsa-root", m.tsa_root)):
            path = certs_dir / f"{label}-{stamp}.pem"
            write_atomic(path, _pem(cert), 0o644)
            retired_certs.append(path)
        new_certs = {"tsa-leaf.pem": _pem(chain.leaf), "tsa-root.pem": _pem(chain.root)}
        summary = "new TSA certificate chain issued"
    else:  # ca-intermediate
        from sceau.services.ca.authority import make_intermediate

        operator = str(cfg.get("instance", "operator", "sceau"))
        cert = make_intermediate(new, m.ca_root, m.signer("ca-root"), organization=operator)
        path = certs_dir / f"ca-intermediate-{stamp}.pem"
        write_atomic(path, _pem(m.ca_intermediate), 0o644)
        retired_certs.append(path)
        new_certs = {"ca-intermediate.pem": _pem(cert)}
        summary = "new CA intermediate issued under the same root"

    # Stage everything beside the current files, then the journal that names it all.
    old_key_path = retired_dir / f"{name}-{stamp}.pem"
    save_signer(old, old_key_path)
    save_signer(new, _staged(cfg.keys_dir / f"{name}.pem"))
    for file, data in new_certs.items():
        write_atomic(_staged(cfg.dir / "certs" / file), data, 0o644)
    log = log_note_names(cfg).get(name)
    journal = {
        "name": name,
        "old_key": str(old_key_path.relative_to(cfg.dir)),
        "old_certs": [str(c.relative_to(cfg.dir)) for c in retired_certs],
        "new_certs": sorted(new_certs),
        "valid_from": since.isoformat(),
        "valid_until": until.isoformat(),
        "successor_from": successor_from.isoformat(),
        # online, the running server re-signs the log; the commit point is the key's rename
        "log": list(log) if log and not online else None,
    }
    write_atomic(cfg.keys_dir / JOURNAL, json.dumps(journal, indent=2).encode(), 0o600)
    _step("staged")
    if log is not None and not online:  # the commit point of an offline log rotation
        size = _resign_log(cfg, log[0], log[1], old, new)
        summary = f"log {log[0]} continues at size {size} under the new key"
        _step("resigned")
    _finish(cfg, journal)
    if not online:
        return f"rotated {name}: {summary}; trust files republished"
    return _switch_running_server(cfg, name, old_key_path, summary, log)


ONLINE_GRACE = dt.timedelta(minutes=5)


def _switch_running_server(
    cfg: InstanceConfig, name: str, old_key: Path, summary: str, log: tuple[str, str] | None
) -> str:
    """The new key is in place and published: the running server loads it, then the old
    key's window is narrowed to the moment the server stopped using it."""
    from sceau.instance.control import ask
    from sceau.instance.trust_files import publish_instance_trust

    answer = ask(cfg, "reload")
    if answer is None or not answer.get("ok"):
        why = "it stopped" if answer is None else answer.get("error", "no reason given")
        raise InternalError(
            f"rotated {name} on disk and published it, but the running server did not "
            f"switch ({why}): it signs with the old key, valid until "
            f"{ONLINE_GRACE.seconds // 60} minutes from now; restart `sceau serve`"
        )
    switched = dt.datetime.fromisoformat(answer["switched_at"]) + OVERLAP / 2
    retired = load_retired(cfg)
    narrowed = [
        dataclasses.replace(r, valid_until=max(switched, r.successor_from or switched))
        if r.key == old_key else r
        for r in retired
    ]  # fmt: skip
    save_retired(cfg, narrowed)
    publish_instance_trust(cfg)
    if log is not None:
        size = answer.get("logs", {}).get(log[0])
        summary = f"log {log[0]} continues at size {size} under the new key"
    return f"rotated {name}: {summary}; the running server switched without a restart"


def _staged(path: Path) -> Path:
    return path.with_name(path.name + ".next")


def _step(name: str) -> None:
    """A named point between two durable writes of a rotation (crash tests stop here)."""


def _finish(cfg: InstanceConfig, journal: dict[str, Any]) -> None:
    """Past the commit point: put the staged files in place, record the retired key and
    publish. Every step is idempotent, so recovery can run it again from the start."""
    from sceau.instance.trust_files import publish_instance_trust

    name = journal["name"]
    key = cfg.keys_dir / f"{name}.pem"
    if _staged(key).exists():  # the commit point of a CA or TSA rotation
        os.replace(_staged(key), key)
    _step("key")
    for file in journal["new_certs"]:
        cert = cfg.dir / "certs" / file
        if _staged(cert).exists():
            os.replace(_staged(cert), cert)
    _step("certs")
    old_key = cfg.dir / journal["old_key"]
    retired = load_retired(cfg)
    if all(r.key != old_key for r in retired):
        record = Retired(
            name,
            old_key,
            tuple(cfg.dir / c for c in journal["old_certs"]),
            dt.datetime.fromisoformat(journal["valid_from"]),
            dt.datetime.fromisoformat(journal["valid_until"]),
            (
                dt.datetime.fromisoformat(journal["successor_from"])
                if "successor_from" in journal
                else None
            ),
        )
        save_retired(cfg, [*retired, record])
    _step("recorded")
    publish_instance_trust(cfg)
    _step("published")
    (cfg.keys_dir / JOURNAL).unlink()


def recover_rotation(cfg: InstanceConfig, *, online: bool = False) -> str | None:
    """Finish or undo a rotation a crash interrupted (``sceau serve`` and ``sceau rotate``
    call this first); returns what was done, or None if no rotation was under way.

    The commit point is the stored log head re-signed with the new key (log rotations) or
    the new key file renamed into place (CA, TSA). Before it, the staged files go and the
    instance keeps its old key; after it, the rotation is completed."""
    path = cfg.keys_dir / JOURNAL
    if not path.exists():
        return None
    try:
        journal = json.loads(path.read_text())
        name = journal["name"]
    except (ValueError, KeyError, TypeError) as e:
        raise InternalError(f"{path} is damaged: {e}; restore keys/ from a backup") from e
    staged = _staged(cfg.keys_dir / f"{name}.pem")
    committed = not staged.exists()
    if not committed and journal.get("log"):
        if online:  # the log's storage is the running server's
            raise InputError(
                f"a rotation of {name} was interrupted before its log was re-signed; stop "
                "`sceau serve` (it finishes or undoes the rotation at start) and rotate again"
            )
        committed = _head_signed_by(cfg, journal["log"], load_signer(staged))
    if committed:
        _finish(cfg, journal)
        return f"completed the interrupted rotation of {name}"
    staged.unlink()
    for file in journal["new_certs"]:
        _staged(cfg.dir / "certs" / file).unlink(missing_ok=True)
    for rel in [journal["old_key"], *journal["old_certs"]]:
        (cfg.dir / rel).unlink(missing_ok=True)
    path.unlink()
    return f"undid the interrupted rotation of {name}"


def finish_online_rotations(cfg: InstanceConfig) -> list[str]:
    """A server stopped between an online rotation's key rename and its re-signing of the
    log leaves a head signed by the retired key only: re-sign it (``sceau serve`` runs this
    before the logs open, so they start under the current key)."""
    from sceau.instance.material import token_keys

    by_name: dict[str, Retired] = {}
    for r in load_retired(cfg):  # the newest retired key of each name
        by_name[r.name] = r
    done = []
    in_token = token_keys(cfg)
    for key_file, (log_name, key_name) in log_note_names(cfg).items():
        previous = by_name.get(key_file)
        path = cfg.keys_dir / f"{key_file}.pem"
        if previous is None or key_file in in_token or not path.exists():
            continue
        current = load_signer(path)
        if _head_signed_by(cfg, [log_name, key_name], current):
            continue
        if _head_signed_by(cfg, [log_name, key_name], previous.signer()):
            size = _resign_log(cfg, log_name, key_name, previous.signer(), current)
            done.append(f"log {log_name}: re-signed its head (size {size}) with the new key")
    return done


def _head_signed_by(cfg: InstanceConfig, log: list[str], key: FileSigner) -> bool:
    from sceau.instance.storage import open_storage
    from sceau.note import NoteError, note_signer, open_checkpoint

    storage = open_storage(cfg)
    try:
        head = storage.load_head(log[0])
    finally:
        storage.close()
    if head is None or head.size == 0:
        return False
    try:
        open_checkpoint(head.note, [note_signer(log[1], key).verifier()])
    except NoteError:
        return False
    return True
