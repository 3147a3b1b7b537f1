"""``sceau bundle inspect B [--json]``: show what a Sigstore bundle says and which of its
trust checks pass against a trusted root (default: public-good production, offline)."""

from __future__ import annotations

import argparse

from sceau.cli.verify import add_trust_arguments, read_bundle, trusted_root_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="operation", metavar="OPERATION", required=True)
    p = sub.add_parser("inspect", help="describe a bundle")
    p.add_argument("bundle", metavar="B", help="the bundle file")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.add_argument(
        "--no-checks", action="store_true", help="only describe the bundle; run no trust checks"
    )
    add_trust_arguments(p)


def run(args: argparse.Namespace) -> int:
    import json

    from sceau.client.inspect import format_report, inspect_bundle

    bundle = read_bundle(args.bundle)
    root = None if args.no_checks else trusted_root_from_args(args)
    report = inspect_bundle(bundle, root)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    # Scripts test the exit status: a failed trust check is a failure, not a description.
    return 1 if report.get("verification", {}).get("ok") is False else 0
