"""``sceau backup --dir D DEST``: a consistent copy of a running instance (docs/operations.md)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", default="./.sceau", help="instance directory (default ./.sceau)")
    p.add_argument("dest", help="a new (or empty) directory to write the backup to")


def run(args: argparse.Namespace) -> int:
    from sceau.config import InstanceConfig
    from sceau.instance.backup import backup

    cfg = InstanceConfig.load(args.dir)
    report = backup(cfg, args.dest)
    size = sum(report.databases.values())
    print(
        f"backed up {cfg.dir} to {args.dest}: {report.files} files and "
        f"{len(report.databases)} databases ({size / 1e6:.1f} MB) in {report.seconds:.1f} s"
    )
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"check it with: sceau check --dir {args.dest}")
    return 0
