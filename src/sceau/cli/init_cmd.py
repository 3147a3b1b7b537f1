"""``sceau init``: create an instance directory (keys, certificates, trust files, TUF repo)."""

from __future__ import annotations

import argparse
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", default="./.sceau", help="instance directory (default ./.sceau)")
    p.add_argument("--url", default="http://127.0.0.1:8080", help="public base URL of the instance")
    p.add_argument("--operator", default="sceau", help="operator name in the trust files")
    p.add_argument(
        "--pkcs11",
        metavar="URI",
        default=None,
        help="make the online keys (CA intermediate, CT, Rekor v1/v2, TSA, TUF targets/"
        "snapshot/timestamp) in this PKCS#11 token, e.g. pkcs11:token=sceau; PIN from "
        "$SCEAU_PKCS11_PIN or $SCEAU_PKCS11_PIN_FILE",
    )
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


class _IssuerOption(argparse.Action):
    """--oidc-issuer starts an issuer; --client-id/--issuer-type set the one just named."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        issuers: list[dict[str, str]] = list(getattr(namespace, "oidc_issuers", None) or [])
        key = self.dest.removeprefix("oidc_issuer_")  # an OIDCIssuerSpec field
        if key == "url":
            issuers.append({"url": values})
        elif not issuers:
            parser.error(f"{option_string} must follow the --oidc-issuer it is about")
        elif key in issuers[-1]:
            parser.error(f"{option_string} given twice for {issuers[-1]['url']}")
        else:
            issuers[-1][key] = values
        namespace.oidc_issuers = issuers


def add_oidc_issuer_arguments(p: argparse.ArgumentParser) -> None:
    """Real identity providers the CA trusts; each option applies to the issuer before it."""
    from sceau.instance.init import INIT_ISSUER_TYPES

    g = p.add_argument_group("identity providers the CA trusts (repeatable; docs/identity.md)")
    p.set_defaults(oidc_issuers=[])
    g.add_argument(
        "--oidc-issuer",
        action=_IssuerOption,
        dest="oidc_issuer_url",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="an issuer URL; the options below apply to the last one named",
    )
    g.add_argument(
        "--client-id",
        action=_IssuerOption,
        dest="oidc_issuer_client_id",
        default=argparse.SUPPRESS,
        metavar="ID",
        help="the audience its tokens carry (default sigstore)",
    )
    g.add_argument(
        "--issuer-type",
        action=_IssuerOption,
        dest="oidc_issuer_type",
        default=argparse.SUPPRESS,
        metavar="TYPE",
        choices=INIT_ISSUER_TYPES,
        help="what it vouches for: " + ", ".join(INIT_ISSUER_TYPES) + " (email)",
    )


def oidc_issuers_from_args(args: argparse.Namespace) -> list[Any]:
    """The issuers named on the command line, with their defaults filled in."""
    from sceau.instance.init import OIDCIssuerSpec

    return [OIDCIssuerSpec(**entry) for entry in args.oidc_issuers]


def run(args: argparse.Namespace) -> int:
    from sceau.instance.init import init_instance

    cfg = init_instance(
        args.dir,
        url=args.url,
        operator=args.operator,
        dev_oidc=args.dev_oidc,
        oidc_issuers=oidc_issuers_from_args(args),
        pkcs11=args.pkcs11,
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
