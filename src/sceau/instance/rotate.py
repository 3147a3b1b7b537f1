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

A key in a PKCS#11 token (``[keys]``) is replaced by a new key made in the same token;
what is staged and renamed is then ``sceau.toml`` naming it, and the old key's public half
is what ``keys/retired/`` keeps (``*.pub.pem``).

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
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sceau.config import CONFIG_NAME, InstanceConfig
from sceau.durable import write_atomic
from sceau.errors import InputError, InternalError
from sceau.instance.retired import (
    OVERLAP,
    Retired,
    current_since,
    load_retired,
    save_retired,
)
from sceau.keys import FileSigner, Signer, generate_signer, load_signer, save_signer
from sceau.keys._core import public_pem

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


def _as_file(signer: Signer, name: str) -> FileSigner:
    if not isinstance(signer, FileSigner):
        raise InternalError(f"{name}: expected a key file, found {signer!r}")
    return signer


def _staged_commit(cfg: InstanceConfig, journal: dict[str, Any]) -> tuple[Path, Path]:
    """(staged, final) of the file whose rename commits a rotation: the new key file, or
    ``sceau.toml`` naming the new key in the token."""
    if journal.get("in_token"):
        return _staged(cfg.dir / CONFIG_NAME), cfg.dir / CONFIG_NAME
    key = cfg.keys_dir / f"{journal['name']}.pem"
    return _staged(key), key


def _with_key_uri(cfg: InstanceConfig, name: str, uri: str) -> bytes:
    """sceau.toml with ``[keys] name`` set to ``uri``, everything else as it is."""
    lines = (cfg.dir / CONFIG_NAME).read_text().splitlines(keepends=True)
    table, done = "", False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("["):
            table = stripped.split("]")[0].strip("[ ")
        elif table == "keys" and stripped.split("=")[0].strip() == name:
            lines[i] = f'{name} = "{uri}"\n'
            done = True
    if not done:
        raise InputError(f"sceau.toml: no `{name} = ...` line in [keys] to point at the new key")
    return "".join(lines).encode()


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _resign_log(cfg: InstanceConfig, log_name: str, key_name: str, old: Any, new: Signer) -> int:
    """Re-sign the stored head of ``log_name`` with ``new`` after checking it with ``old``
    (the old key's public half)."""
    from sceau.instance.storage import open_storage
    from sceau.log.model import LogConfig, resign_write
    from sceau.note import NoteError, note_signer, note_verifier, open_checkpoint

    storage = open_storage(cfg)
    try:
        head = storage.load_head(log_name)
        if head is None:
            raise InternalError(f"log {log_name!r} does not exist in storage")
        if head.size == 0:
            return 0
        try:
            cp = open_checkpoint(head.note, [note_verifier(key_name, old)])
        except NoteError as e:
            raise InternalError(
                f"log {log_name!r}: stored checkpoint does not verify "
                f"with the current key: {e.message}"
            ) from e
        if (cp.size, cp.root_hash) != (head.size, head.root_hash):
            raise InternalError(f"log {log_name!r}: stored checkpoint does not match its head")
        # the same head under the new key, as a running server's sequencer re-signs it
        config = LogConfig(log_name, cp.origin, [note_signer(key_name, new)])
        storage.commit(resign_write(config, head))
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

    token_uri = token_keys(cfg).get(name)  # the key is in a PKCS#11 token: so is the next
    from sceau.instance.control import ask, running_server

    ping = ask(cfg, "ping", timeout=10)  # is a `sceau serve` of this instance running?
    online = ping is not None
    if ping is not None and not ping.get("ok"):
        raise InputError(
            f"sceau serve is running on this instance but its admin socket fails "
            f"({ping.get('error')}); nothing was changed"
        )
    server = running_server(cfg)
    if not online and server is not None:
        raise InputError(
            f"sceau serve (pid {server['pid']}, --workers {server['workers']}) is running on "
            "this instance and cannot switch keys online: stop it, rotate, start it again"
        )
    if recover_rotation(cfg, online=online):
        cfg = InstanceConfig.load(cfg.dir)  # it may have changed sceau.toml's [keys]
    m = Material.load(cfg)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    successor_from = now - OVERLAP / 2  # when the new key is valid from
    # The old key stays valid until the server has switched: at once when it is stopped,
    # else until it answers the reload (and at most ONLINE_GRACE if that answer is lost).
    until = now + (ONLINE_GRACE if online else OVERLAP / 2)
    old = m.signer(name)
    if token_uri is None:
        new: Signer = generate_signer(KEY_FILES[name])
        new_uri = None
    else:
        from sceau.keys.pkcs11 import generate_in_token, relabel

        new_uri = relabel(token_uri, f"sceau-{name}-{stamp}")
        new = generate_in_token(
            new_uri, KEY_FILES[name], module=cfg.get("pkcs11", "module"), role=name
        )
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
            organization=operator,
            leaf_signer=new,
            root_signer=_as_file(m.signer("tsa-root"), "tsa-root"),
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

    # Stage everything beside the current files, then the journal that names it all. A
    # key in a token stays there: its public half is kept, and sceau.toml is staged instead.
    if new_uri is None:
        old_key_path = retired_dir / f"{name}-{stamp}.pem"
        save_signer(_as_file(old, name), old_key_path)
        save_signer(_as_file(new, name), _staged(cfg.keys_dir / f"{name}.pem"))
    else:
        old_key_path = retired_dir / f"{name}-{stamp}.pub.pem"
        write_atomic(old_key_path, public_pem(old.public_key()), 0o644)
        write_atomic(_staged(cfg.dir / CONFIG_NAME), _with_key_uri(cfg, name, new_uri), 0o644)
    for file, data in new_certs.items():
        write_atomic(_staged(cfg.dir / "certs" / file), data, 0o644)
    log = log_note_names(cfg).get(name)
    journal = {
        "name": name,
        "in_token": new_uri,
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
        size = _resign_log(cfg, log[0], log[1], old.public_key(), new)
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
    staged, final = _staged_commit(cfg, journal)
    if staged.exists():  # the commit point of a CA or TSA rotation, or an online one
        os.replace(staged, final)
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
    staged, _final = _staged_commit(cfg, journal)
    committed = not staged.exists()
    if not committed and journal.get("log"):
        if online:  # the log's storage is the running server's
            raise InputError(
                f"a rotation of {name} was interrupted before its log was re-signed; stop "
                "`sceau serve` (it finishes or undoes the rotation at start) and rotate again"
            )
        new = _journal_key(cfg, journal, staged)
        committed = _head_signed_by(cfg, journal["log"], new.public_key())
    if committed:
        _finish(cfg, journal)
        return f"completed the interrupted rotation of {name}"
    staged.unlink()  # a key made in a token stays there, unused (its label has the date)
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
    from sceau.instance.material import token_keys, token_signer

    by_name: dict[str, Retired] = {}
    for r in load_retired(cfg):  # the newest retired key of each name
        by_name[r.name] = r
    done = []
    in_token = token_keys(cfg)
    for key_file, (log_name, key_name) in log_note_names(cfg).items():
        previous = by_name.get(key_file)
        path = cfg.keys_dir / f"{key_file}.pem"
        if previous is None or (key_file not in in_token and not path.exists()):
            continue
        current = (
            token_signer(cfg, key_file, in_token[key_file])
            if key_file in in_token
            else load_signer(path)
        )
        if _head_signed_by(cfg, [log_name, key_name], current.public_key()):
            continue
        if _head_signed_by(cfg, [log_name, key_name], previous.public_key()):
            size = _resign_log(cfg, log_name, key_name, previous.public_key(), current)
            done.append(f"log {log_name}: re-signed its head (size {size}) with the new key")
    return done


def _journal_key(cfg: InstanceConfig, journal: dict[str, Any], staged: Path) -> Signer:
    """The new key a journal names: the staged file, or the key made in the token."""
    if journal.get("in_token"):
        from sceau.keys.pkcs11 import Pkcs11Signer

        return Pkcs11Signer(journal["in_token"], module=cfg.get("pkcs11", "module"))
    return load_signer(staged)


def _head_signed_by(cfg: InstanceConfig, log: list[str], key: Any) -> bool:
    from sceau.instance.storage import open_storage
    from sceau.note import NoteError, note_verifier, open_checkpoint

    storage = open_storage(cfg)
    try:
        head = storage.load_head(log[0])
    finally:
        storage.close()
    if head is None or head.size == 0:
        return False
    try:
        open_checkpoint(head.note, [note_verifier(log[1], key)])
    except NoteError:
        return False
    return True
