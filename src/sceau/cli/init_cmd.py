"""``sceau init``: create an instance directory (keys, certificates, trust files, TUF repo)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", default="./.sceau", help="instance directory (default ./.sceau)")
    p.add_argument("--url", default="http://127.0.0.1:8080", help="public base URL of the instance")
    p.add_argument("--operator", default="sceau", help="operator name in the trust files")
    dev = p.add_mutually_exclusive_group()
    dev.add_argument(
        "--dev-oidc",
        action="store_true",
        default=None,
        help="trust and serve the development OIDC issuer, which signs a token for any "
        "identity on request (default: only for a loopback --url)",
    )
    dev.add_argument(
        "--no-dev-oidc",
        dest="dev_oidc",
        action="store_false",
        help="do not enable the development OIDC issuer",
    )


def run(args: argparse.Namespace) -> int:
    from sceau.instance import init_instance

    cfg = init_instance(args.dir, url=args.url, operator=args.operator, dev_oidc=args.dev_oidc)
    print(f"created instance {cfg.dir} for {cfg.url}")
    print(f"  trust files : {cfg.trust_dir}/")
    print(f"  TUF root    : {cfg.tuf_dir / 'root.json'}")
    if cfg.get("oidc", "dev", False):
        from urllib.parse import urlsplit

        from sceau.config import is_loopback_host

        if not is_loopback_host(urlsplit(cfg.url).hostname):
            print(
                "  WARNING     : the development OIDC issuer is on for a non-loopback URL: "
                "anyone who reaches it can sign as anyone; `sceau serve` wants --dev-oidc "
                "again to serve it"
            )
    print(f"  start it    : sceau serve --dir {args.dir}")
    return 0
