"""``sceau init``: create an instance directory (keys, certificates, trust files, TUF repo)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", default="./.sceau", help="instance directory (default ./.sceau)")
    p.add_argument("--url", default="http://127.0.0.1:8080", help="public base URL of the instance")
    p.add_argument("--operator", default="sceau", help="operator name in the trust files")
    p.add_argument(
        "--no-dev-oidc", action="store_true", help="do not enable the development OIDC issuer"
    )


def run(args: argparse.Namespace) -> int:
    from sceau.instance import init_instance

    cfg = init_instance(
        args.dir, url=args.url, operator=args.operator, dev_oidc=not args.no_dev_oidc
    )
    print(f"created instance {cfg.dir} for {cfg.url}")
    print(f"  trust files : {cfg.trust_dir}/")
    print(f"  TUF root    : {cfg.tuf_dir / 'root.json'}")
    print(f"  start it    : sceau serve --dir {args.dir}")
    return 0
