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
    add_oidc_issuer_arguments(p)


def add_oidc_issuer_arguments(p: argparse.ArgumentParser) -> None:
    """Real identity providers: the n-th --client-id/--issuer-type go with the n-th issuer."""
    from sceau.instance import INIT_ISSUER_TYPES

    g = p.add_argument_group("identity providers the CA trusts (repeatable; docs/identity.md)")
    g.add_argument("--oidc-issuer", action="append", default=[], metavar="URL", help="issuer URL")
    g.add_argument(
        "--client-id", action="append", default=[], metavar="ID", help="its audience (sigstore)"
    )
    g.add_argument(
        "--issuer-type",
        action="append",
        default=[],
        choices=INIT_ISSUER_TYPES,
        help="what it vouches for (email)",
    )


def oidc_issuers_from_args(args: argparse.Namespace) -> list[object]:
    """Pair each --oidc-issuer with the --client-id and --issuer-type given in its place."""
    from sceau.errors import InputError
    from sceau.instance import OIDCIssuerSpec

    urls, ids, types = args.oidc_issuer, args.client_id, args.issuer_type
    if len(ids) > len(urls) or len(types) > len(urls):
        raise InputError("--client-id and --issuer-type each follow an --oidc-issuer")
    return [
        OIDCIssuerSpec(
            url,
            ids[i] if i < len(ids) else "sigstore",
            types[i] if i < len(types) else "email",
        )
        for i, url in enumerate(urls)
    ]


def run(args: argparse.Namespace) -> int:
    from sceau.instance import init_instance

    cfg = init_instance(
        args.dir,
        url=args.url,
        operator=args.operator,
        dev_oidc=args.dev_oidc,
        oidc_issuers=oidc_issuers_from_args(args),  # type: ignore[arg-type]
    )
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
