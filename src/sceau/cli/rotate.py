"""``sceau rotate NAME``: replace a log, TSA or CA key and publish the change through TUF."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="rekor-v1, rekor-v2, ct, tsa or ca-intermediate")
    p.add_argument("--dir", default="./.sceau", help="instance directory (default ./.sceau)")


def run(args: argparse.Namespace) -> int:
    from sceau.config import InstanceConfig
    from sceau.instance.rotate import rotate

    print(rotate(InstanceConfig.load(args.dir), args.name))
    return 0
