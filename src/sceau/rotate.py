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
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sceau.config import InstanceConfig
from sceau.durable import write_atomic
from sceau.errors import InputError, InternalError
from sceau.keys import FileSigner, generate_signer, load_signer, save_signer

RETIRED_FILE = "retired.json"
# Old and new windows overlap by this much: RFC 3161 genTime and SETs are whole seconds,
# so a signature made in the second of the rotation must verify under either key.
OVERLAP = dt.timedelta(seconds=2)


@dataclass(frozen=True)
class Retired:
    """A key that signed for this instance until ``valid_until``."""

    name: str
    key: Path
    certs: tuple[Path, ...]  # leaf first (TSA: leaf, root; CA: intermediate)
    valid_from: dt.datetime
    valid_until: dt.datetime

    def signer(self) -> FileSigner:
        return load_signer(self.key)

    def certificates(self) -> list[x509.Certificate]:
        return [x509.load_pem_x509_certificate(p.read_bytes()) for p in self.certs]


def log_note_names(cfg: InstanceConfig) -> dict[str, tuple[str, str]]:
    """Key file → (engine log name, checkpoint key name) for the instance's logs."""
    host = cfg.host
    return {
        "rekor-v1": ("rekor-v1", host),
        "rekor-v2": ("rekor-v2", host),
        "ct": ("ct", f"{host}/ct"),
    }


ROTATABLE = ("rekor-v1", "rekor-v2", "ct", "tsa", "ca-intermediate")


def load_retired(cfg: InstanceConfig) -> list[Retired]:
    path = cfg.dir / RETIRED_FILE
    if not path.exists():
        return []
    try:
        rows = json.loads(path.read_text())
        return [
            Retired(
                r["name"],
                cfg.dir / r["key"],
                tuple(cfg.dir / c for c in r.get("certs", [])),
                dt.datetime.fromisoformat(r["valid_from"]),
                dt.datetime.fromisoformat(r["valid_until"]),
            )
            for r in rows
        ]
    except (ValueError, KeyError, TypeError) as e:
        raise InternalError(f"{path} is damaged: {e}") from e


def current_since(cfg: InstanceConfig, name: str, default: dt.datetime) -> dt.datetime:
    """When the current key ``name`` took over (its last rotation, or ``default``)."""
    ends = [r.valid_until - OVERLAP for r in load_retired(cfg) if r.name == name]
    return max([default, *ends])


def _save_retired(cfg: InstanceConfig, retired: list[Retired]) -> None:
    rows = [
        {
            "name": r.name,
            "key": str(r.key.relative_to(cfg.dir)),
            "certs": [str(c.relative_to(cfg.dir)) for c in r.certs],
            "valid_from": r.valid_from.isoformat(),
            "valid_until": r.valid_until.isoformat(),
        }
        for r in retired
    ]
    write_atomic(cfg.dir / RETIRED_FILE, json.dumps(rows, indent=2).encode() + b"\n", 0o644)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _resign_log(
    cfg: InstanceConfig, log_name: str, key_name: str, old: FileSigner, new: FileSigner
) -> int:
    """Re-sign the stored head of ``log_name`` with ``new`` after checking it with ``old``."""
    from sceau.app import open_storage
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
    from sceau.instance import KEY_FILES, Material, publish_instance_trust, valid_from

    if name not in ROTATABLE:
        raise InputError(f"cannot rotate {name!r}; choose one of {', '.join(ROTATABLE)}")
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
        log_name, key_name = log_note_names(cfg)[name]
        size = _resign_log(cfg, log_name, key_name, old, new)
        summary = f"log {log_name} continues at size {size} under the new key"
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

    # Commit order: keep the old key, record it, then replace; a crash before the
    # replacement leaves the instance on its old key with a harmless extra record.
    old_key_path = retired_dir / f"{name}-{stamp}.pem"
    save_signer(old, old_key_path)
    retired = [*load_retired(cfg), Retired(name, old_key_path, tuple(retired_certs), since, until)]
    _save_retired(cfg, retired)
    for file, data in new_certs.items():
        write_atomic(cfg.dir / "certs" / file, data, 0o644)
    save_signer(new, cfg.keys_dir / f"{name}.pem")
    os.chmod(cfg.keys_dir / f"{name}.pem", 0o600)
    publish_instance_trust(cfg)
    return f"rotated {name}: {summary}; trust files republished (restart `sceau serve`)"
