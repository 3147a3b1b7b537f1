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

A running ``sceau serve`` keeps the keys it loaded: restart it after rotating.

Crash safety: the new key and certificates are first staged beside the current ones
(``*.next``) and described in ``keys/rotation.json``; the commit point is step 3 for a log
(its head now verifies only with the new key) or the new key's rename into place for the
CA and TSA. :func:`recover_rotation`, run by ``serve`` and ``rotate`` before anything else,
finishes a rotation past its commit point and undoes one before it, so a crash at any
point leaves an instance that starts (``tests/e2e/test_rotate.py``).
"""

from __future__ import annotations

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
    recover_rotation(cfg)
    m = Material.load(cfg)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    until = now + OVERLAP / 2  # the new key is valid from now - OVERLAP / 2
    old = m.signer(name)
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
            organization=operator, leaf_signer=new, root_signer=m.signer("tsa-root")
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
        "log": list(log) if log else None,
    }
    write_atomic(cfg.keys_dir / JOURNAL, json.dumps(journal, indent=2).encode(), 0o600)
    _step("staged")
    if log is not None:  # the commit point of a log rotation
        size = _resign_log(cfg, log[0], log[1], old, new)
        summary = f"log {log[0]} continues at size {size} under the new key"
        _step("resigned")
    _finish(cfg, journal)
    return f"rotated {name}: {summary}; trust files republished (restart `sceau serve`)"


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
        )
        save_retired(cfg, [*retired, record])
    _step("recorded")
    publish_instance_trust(cfg)
    _step("published")
    (cfg.keys_dir / JOURNAL).unlink()


def recover_rotation(cfg: InstanceConfig) -> str | None:
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
