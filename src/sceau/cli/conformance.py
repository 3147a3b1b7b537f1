"""``sceau conformance …``: the Sigstore conformance client protocol (docs/protocols.md §8.1).

    sceau conformance verify-bundle [--staging] --bundle FILE
        (--certificate-identity ID --certificate-oidc-issuer URL | --key KEY.pub)
        [--trusted-root TR] FILE_OR_DIGEST

    sceau conformance sign-bundle [--staging] [--in-toto] --identity-token TOKEN --bundle OUT
        [--trusted-root TR] [--signing-config SC] FILE

Exit 0 on success, 1 with one ``error:`` line on failure.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="operation", metavar="OPERATION", required=True)

    v = sub.add_parser("verify-bundle", help="verify a bundle (exit 0 = verified)")
    v.add_argument("--staging", action="store_true")
    v.add_argument("--bundle", required=True, metavar="FILE")
    v.add_argument("--certificate-identity", metavar="ID")
    v.add_argument("--certificate-oidc-issuer", metavar="URL")
    v.add_argument("--key", metavar="KEY.pub")
    v.add_argument("--trusted-root", metavar="TR")
    v.add_argument("artifact", metavar="FILE_OR_DIGEST")
    v.set_defaults(handler=_verify_bundle)

    s = sub.add_parser("sign-bundle", help="sign a file into a bundle")
    s.add_argument("--staging", action="store_true")
    s.add_argument("--in-toto", action="store_true", help="FILE is an in-toto statement")
    s.add_argument("--identity-token", required=True, metavar="TOKEN")
    s.add_argument("--bundle", required=True, metavar="OUT")
    s.add_argument("--trusted-root", metavar="TR")
    s.add_argument("--signing-config", metavar="SC")
    s.add_argument("file", metavar="FILE")
    s.set_defaults(handler=_sign_bundle)


def run(args: argparse.Namespace) -> int:
    return int(args.handler(args) or 0)


def _verify_bundle(args: argparse.Namespace) -> int:
    from sceau.cli.verify import (
        artifact_from_arg,
        policy_from_args,
        read_bundle,
        trusted_root_from_args,
    )
    from sceau.client.verify import Verifier

    policy = policy_from_args(args)
    bundle = read_bundle(args.bundle)
    # --trusted-root wins over --staging (the harness may pass both).
    if args.trusted_root:
        args.staging = False
    Verifier(trusted_root_from_args(args)).verify_artifact(
        bundle, artifact_from_arg(args.artifact), policy
    )
    return 0


def _sign_bundle(args: argparse.Namespace) -> int:
    # Implemented beside `sceau sign`, which shares its trust and signing code.
    from sceau.cli.sign import conformance_sign_bundle

    return conformance_sign_bundle(args)
