"""``sceau restore SRC --dir D``: put a backup in place, then check it like ``sceau check``."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="a directory written by `sceau backup`")
    p.add_argument("--dir", required=True, help="where to restore it: a new or empty directory")
    p.add_argument(
        "--no-check", action="store_true", help="skip the entry-by-entry check of the logs"
    )


def run(args: argparse.Namespace) -> int:
    from sceau.instance.backup import restore

    restore(args.source, args.dir)
    print(f"restored {args.source} to {args.dir}")
    if args.no_check:
        return 0
    from sceau.cli import check

    return check.run(argparse.Namespace(dir=args.dir))
