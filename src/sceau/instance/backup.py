"""Online backups of an instance: a complete instance directory, taken while it serves.

``backup(cfg, dest)`` writes everything a restore needs — configuration, keys (mode
0600), certificates, trust files, the TUF repository, the witness's state and the logs —
to ``dest``, which ``sceau check --dir`` accepts and ``sceau serve --dir`` serves.

Consistency while the server writes:

- each SQLite database is copied with SQLite's online backup API in a single step, which
  reads one snapshot (a WAL reader never blocks the writer, nor is blocked by it);
- the log database is copied **before** the CT chain store: a chain is stored before its
  entry is appended, so the later copy of the chains covers every entry of the earlier copy
  of the log;
- the leaf index (``data/sceau-leaves.sqlite``) is derived from the tiles and is left out:
  ``serve`` rebuilds it from the copied tiles, so it can never run ahead of them;
- the copy is made in a sibling ``DEST.partial-*`` directory and renamed into place last,
  so an interrupted backup never leaves a directory that looks complete.

PostgreSQL logs are not copied here: the backup holds the files and names the ``pg_dump``
to run (``docs/operations.md``).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from sceau.config import CONFIG_NAME, InstanceConfig
from sceau.durable import fsync_dir
from sceau.errors import InputError

DERIVED = ("sceau-leaves.sqlite",)  # rebuilt at start from the tiles
RUNTIME_SUFFIXES = (".lock", ".sock", "-wal", "-shm", "-journal")  # live state, not data


@dataclass
class BackupReport:
    """What was copied, for the command's summary."""

    databases: dict[str, int] = field(default_factory=dict)  # relative path → bytes
    files: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def check_destination(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InputError(f"{dest} exists and is not an empty directory: choose a new path")


def backup(cfg: InstanceConfig, dest: str | os.PathLike[str]) -> BackupReport:
    """Copy the instance of ``cfg`` to ``dest`` (a new or empty directory)."""
    from sceau.instance.storage import driver_name

    dest = Path(dest)
    check_destination(dest)
    start = time.perf_counter()
    report = BackupReport()
    partial = dest.with_name(f"{dest.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        databases = _copy_files(cfg.dir, partial, report)
        postgres = driver_name(cfg) == "postgres"
        log_db = None if postgres else cfg.path("storage", "path", "data/sceau.sqlite")
        ordered = sorted(databases, key=lambda p: (p != log_db, str(p)))
        if log_db is not None and log_db not in databases:  # kept outside the directory
            ordered.insert(0, log_db)
            report.notes.append(
                f"the log database {log_db} lives outside the instance directory: it is "
                f"copied to data/sceau.sqlite; set [storage] path accordingly in {dest}"
            )
        for db in ordered:
            inside = _relative(cfg.dir, db) or Path("data") / "sceau.sqlite"
            target = partial / inside
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _copy_database(db, target)
            report.databases[str(inside)] = target.stat().st_size
        if postgres:
            report.notes.append(
                "the logs are in PostgreSQL and are not in this backup: run "
                '`pg_dump --format=custom --file=postgres.dump "$SCEAU_STORAGE_DSN"` '
                "(and --schema if [storage] schema is set) right after it, and restore with "
                "pg_restore before serving"
            )
        _fsync_tree(partial)
        if dest.exists():
            dest.rmdir()  # checked empty above
        os.rename(partial, dest)
        fsync_dir(dest.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    report.seconds = time.perf_counter() - start
    return report


def restore(source: str | os.PathLike[str], dest: str | os.PathLike[str]) -> None:
    """Copy a backup directory to ``dest`` (new or empty), keeping modes; the same
    partial-then-rename discipline as :func:`backup`."""
    source, dest = Path(source), Path(dest)
    if not (source / CONFIG_NAME).is_file():
        raise InputError(f"{source} is not a sceau backup: it has no {CONFIG_NAME}")
    check_destination(dest)
    partial = dest.with_name(f"{dest.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        shutil.copytree(source, partial, copy_function=shutil.copy2, symlinks=True)
        _fsync_tree(partial)
        if dest.exists():
            dest.rmdir()
        os.rename(partial, dest)
        fsync_dir(dest.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _relative(root: Path, path: Path) -> Path | None:
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return None


def _copy_files(root: Path, dest: Path, report: BackupReport) -> list[Path]:
    """Copy every regular file but databases and runtime state, keeping modes; return the
    databases, to be copied through SQLite."""
    databases: list[Path] = []
    dest.mkdir(mode=0o700, parents=True)
    shutil.copystat(root, dest)
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        rel = here.relative_to(root)
        if rel == Path("."):  # run/: the serving process's socket and marker, not state
            dirs[:] = [d for d in dirs if d != "run"]
        for d in dirs:
            (dest / rel / d).mkdir(mode=0o700)
            shutil.copystat(here / d, dest / rel / d)
        for name in files:
            path = here / name
            if not path.is_file() or path.is_symlink() or name.endswith(RUNTIME_SUFFIXES):
                continue
            if name.endswith(".sqlite"):
                if name not in DERIVED:
                    databases.append(path)
                continue
            shutil.copy2(path, dest / rel / name)
            report.files += 1
    return databases


def _copy_database(source: Path, target: Path) -> None:
    """One consistent snapshot of ``source`` (SQLite's backup API, all pages at once)."""
    try:
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as e:
        raise InputError(f"cannot open {source} for backup: {e}") from e
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # pages=-1: one step, one read transaction
            dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal
        finally:
            dst.close()
    except sqlite3.Error as e:
        raise InputError(f"cannot back up {source}: {e}") from e
    finally:
        src.close()
    os.chmod(target, source.stat().st_mode & 0o777)


def _fsync_tree(root: Path) -> None:
    for directory, _, files in os.walk(root):
        for name in files:
            fd = os.open(Path(directory) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(directory))
