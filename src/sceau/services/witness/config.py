"""A witness directory: ``witness.toml`` (its name and the logs it witnesses), its Ed25519
key (``witness-key.pem``, 0600) and its state (``witness.sqlite``).

``witness.toml``::

    name = "witness.example/w1"          # the key name on its cosignature lines
    [[log]]
    vkey = "example.com/log+1234abcd+AQ…"   # the log's checkpoint key (vkey)
    origin = "example.com/log"              # optional: the vkey's name by default
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sceau.config import read_toml
from sceau.errors import InputError
from sceau.note import NoteError, check_log_vkey

CONFIG = "witness.toml"
KEY = "witness-key.pem"
STATE = "witness.sqlite"


@dataclass(frozen=True)
class LogEntry:
    origin: str
    vkey: str


@dataclass(frozen=True)
class WitnessConfig:
    dir: Path
    name: str
    logs: tuple[LogEntry, ...] = field(default=())

    @property
    def key_path(self) -> Path:
        return self.dir / KEY

    @property
    def state_path(self) -> Path:
        return self.dir / STATE

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> WitnessConfig:
        d = Path(directory).resolve()
        path = d / CONFIG
        raw = read_toml(path, f"run `sceau witness init --dir {directory}`")
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise InputError(f"{path}: `name` (the witness key name) is required")
        logs = raw.get("log", [])
        if not isinstance(logs, list):
            raise InputError(f"{path}: `log` must be an array of tables ([[log]])")
        return cls(d, name, tuple(_log_entry(path, i, item) for i, item in enumerate(logs)))

    def verifiers(self) -> dict[str, list[Any]]:
        """origin → note verifiers of its keys (one origin may list several keys)."""
        out: dict[str, list[Any]] = {}
        for entry in self.logs:
            out.setdefault(entry.origin, []).append(check_log_vkey(entry.vkey))
        return out


def _log_entry(path: Path, i: int, item: Any) -> LogEntry:
    if not isinstance(item, dict) or not isinstance(item.get("vkey"), str):
        raise InputError(f"{path}: log #{i + 1} needs a `vkey` string")
    try:
        verifier = check_log_vkey(item["vkey"])
    except NoteError as e:
        raise InputError(f"{path}: log #{i + 1}: {e.message}") from None
    origin = item.get("origin", verifier.name)
    if not isinstance(origin, str) or not origin or "\n" in origin:
        raise InputError(f"{path}: log #{i + 1}: `origin` must be one line of text")
    return LogEntry(origin, item["vkey"])


def _toml_string(s: str) -> str:
    import json

    return json.dumps(s)  # a JSON string literal is a valid TOML basic string


def write_config(directory: Path, name: str, logs: list[LogEntry]) -> None:
    from sceau.durable import write_atomic

    lines = [f"name = {_toml_string(name)}", ""]
    for entry in logs:
        lines += ["[[log]]", f"vkey = {_toml_string(entry.vkey)}"]
        lines += [f"origin = {_toml_string(entry.origin)}", ""]
    write_atomic(directory / CONFIG, "\n".join(lines).encode(), mode=0o644)


def init_witness(directory: str | os.PathLike[str], name: str, log_vkeys: list[str]) -> str:
    """Create a witness directory with a new Ed25519 key; return the witness's vkey."""
    from sceau.keys import generate_signer, save_signer
    from sceau.note import check_name, cosignature_signer, format_vkey

    d = Path(directory)
    if (d / CONFIG).exists() or (d / KEY).exists():
        raise InputError(f"{d} already holds a witness; remove it first or use another --dir")
    try:
        check_name(name)
    except NoteError as e:
        raise InputError(f"witness name: {e.message}") from None
    entries = []
    for vkey in log_vkeys:
        try:
            entries.append(LogEntry(check_log_vkey(vkey).name, vkey))
        except NoteError as e:
            raise InputError(f"--log {vkey!r}: {e.message}") from None
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    signer = generate_signer("ed25519")
    save_signer(signer, d / KEY)
    write_config(d, name, entries)
    return format_vkey(cosignature_signer(name, signer))


def add_log(directory: str | os.PathLike[str], vkey: str, origin: str | None) -> LogEntry:
    """Append a log to ``witness.toml`` (the running server reads it at start)."""
    cfg = WitnessConfig.load(directory)
    try:
        verifier = check_log_vkey(vkey)
    except NoteError as e:
        raise InputError(f"log vkey: {e.message}") from None
    entry = LogEntry(origin or verifier.name, vkey)
    if entry in cfg.logs:
        raise InputError(f"the witness already has log {entry.origin} with that key")
    write_config(cfg.dir, cfg.name, [*cfg.logs, entry])
    return entry
