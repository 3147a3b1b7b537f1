"""``sceau verify FILE_OR_DIGEST --bundle B``: verify an artifact against a Sigstore bundle.

Also holds the option groups the other verifying commands share (trust root selection and
identity policy), so every command spells them the same way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

DEFAULT_BUNDLE_SUFFIX = ".sigstore.json"


# -- trust selection ----------------------------------------------------------------------
# Each entry maps an option (dest) to a loader; --instance (TUF) will slot in here.
def _from_trusted_root(args: argparse.Namespace) -> Any:
    from sceau.client.trust import load_trusted_root

    return load_trusted_root(args.trusted_root)


def _from_trust_config(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from sceau.client.errors import TrustRootError
    from sceau.client.trust import TrustedRoot

    try:
        data = Path(args.trust_config).read_bytes()
    except OSError as e:
        raise TrustRootError(
            f"cannot read trust config {args.trust_config}: {e.strerror}"
        ) from None
    return TrustedRoot.from_trust_config(data)


def _from_staging(args: argparse.Namespace) -> Any:
    from sceau.client.trust import TrustedRoot

    return TrustedRoot.staging()


def _from_instance(args: argparse.Namespace) -> Any:
    from sceau.client.tuf import instance_trust

    return instance_trust(
        args.instance, bootstrap_root=args.tuf_root, offline=args.offline
    ).trusted_root


TRUST_SOURCES: dict[str, Callable[[argparse.Namespace], Any]] = {
    "trusted_root": _from_trusted_root,
    "trust_config": _from_trust_config,
    "staging": _from_staging,
    "instance": _from_instance,
}


def add_trust_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("trust (default: the public-good production root, offline)")
    excl = group.add_mutually_exclusive_group()
    excl.add_argument("--trusted-root", metavar="FILE", help="a trusted_root.json file")
    excl.add_argument(
        "--trust-config",
        metavar="FILE",
        help="a ClientTrustConfig (as `sigstore --trust-config` takes)",
    )
    excl.add_argument(
        "--staging", action="store_true", help="the public-good staging root shipped with sceau"
    )
    excl.add_argument(
        "--instance",
        metavar="URL",
        help="an instance's TUF repository (cached; refreshed at most every 5 minutes)",
    )
    group.add_argument(
        "--tuf-root", metavar="FILE", help="with --instance, first use: the TUF root.json to trust"
    )
    group.add_argument(
        "--offline", action="store_true", help="with --instance: use the cached trust, no network"
    )


def trusted_root_from_args(args: argparse.Namespace) -> Any:
    for dest, loader in TRUST_SOURCES.items():
        if getattr(args, dest, None):
            return loader(args)
    from sceau.client.trust import TrustedRoot

    return TrustedRoot.production()


def add_witness_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--witness-policy",
        metavar="FILE",
        help="require witness cosignatures on the log checkpoint, as this C2SP tlog-policy "
        "file says (witness, group and quorum lines; docs/witness.md)",
    )


def verifier_from_args(args: argparse.Namespace) -> Any:
    """A bundle verifier for the chosen trust root and, if given, witness policy."""
    from sceau.client.verify import Verifier

    policy = None
    if getattr(args, "witness_policy", None):
        from sceau.client.witness_policy import load_policy

        policy = load_policy(args.witness_policy)
    return Verifier(trusted_root_from_args(args), witness_policy=policy)


# -- identity policy ----------------------------------------------------------------------


def add_policy_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("identity (keyless) — or --key for a managed key")
    ident = g.add_mutually_exclusive_group()
    ident.add_argument(
        "--certificate-identity",
        metavar="ID",
        help="exact SAN (email or URI) of the signing certificate",
    )
    ident.add_argument(
        "--certificate-identity-regexp",
        metavar="RE",
        help="regular expression the SAN must fully match",
    )
    iss = g.add_mutually_exclusive_group()
    iss.add_argument("--certificate-oidc-issuer", metavar="URL", help="exact OIDC issuer")
    iss.add_argument(
        "--certificate-oidc-issuer-regexp",
        metavar="RE",
        help="regular expression the OIDC issuer must fully match",
    )
    g.add_argument("--github-repository", metavar="OWNER/REPO")
    g.add_argument("--github-ref", metavar="REF")
    g.add_argument("--github-sha", metavar="SHA")
    g.add_argument("--github-trigger", metavar="EVENT")
    g.add_argument("--github-workflow-name", metavar="NAME")
    g.add_argument("--key", metavar="KEY.pub", help="verify with this PEM public key instead")


def policy_from_args(args: argparse.Namespace) -> Any:
    from sceau.client import policy as p
    from sceau.errors import InputError

    identity = getattr(args, "certificate_identity", None)
    identity_re = getattr(args, "certificate_identity_regexp", None)
    issuer = getattr(args, "certificate_oidc_issuer", None)
    issuer_re = getattr(args, "certificate_oidc_issuer_regexp", None)
    github = {
        claim: getattr(args, f"github_{claim}", None)
        for claim in ("repository", "ref", "sha", "trigger", "workflow_name")
    }
    if getattr(args, "key", None):
        if identity or identity_re or issuer or issuer_re or any(github.values()):
            raise InputError("--key cannot be combined with certificate identity options")
        from pathlib import Path

        try:
            data = Path(args.key).read_bytes()
        except OSError as e:
            raise InputError(f"cannot read key {args.key}: {e.strerror}") from None
        try:
            return p.PublicKey(data)
        except ValueError as e:
            raise InputError(str(e)) from None
    if not (identity or identity_re) or not (issuer or issuer_re):
        raise InputError(
            "give --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp], or --key"
        )
    try:
        children: list[Any] = [
            p.SAN(identity) if identity else p.SANRegexp(identity_re or ""),
            p.Issuer(issuer) if issuer else p.IssuerRegexp(issuer_re or ""),
        ]
    except ValueError as e:
        raise InputError(str(e)) from None
    children += [p.GitHubClaim(c, v) for c, v in github.items() if v]
    return p.AllOf(children)


def artifact_from_arg(text: str) -> Any:
    """A path, or a ``sha256:<hex>`` digest (when no file of that name exists)."""
    from pathlib import Path

    from sceau.client.hashing import Digest, is_digest_argument

    if is_digest_argument(text):
        return Digest.parse(text)
    return Path(text)


def read_bundle(path: str) -> Any:
    from pathlib import Path

    from sceau.client.bundle import Bundle
    from sceau.errors import InputError

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise InputError(f"cannot read bundle {path}: {e.strerror}") from None
    return Bundle.from_json(data)


# -- the command --------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "artifact", metavar="FILE_OR_DIGEST", help="the signed file, or sha256:<hex> of it"
    )
    parser.add_argument(
        "--bundle", metavar="B", help=f"the Sigstore bundle (default: FILE{DEFAULT_BUNDLE_SUFFIX})"
    )
    add_policy_arguments(parser)
    add_trust_arguments(parser)
    add_witness_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from sceau.errors import InputError

    bundle_path = args.bundle
    if bundle_path is None:
        if args.artifact.startswith("sha256:"):
            raise InputError("--bundle is required when verifying a digest")
        bundle_path = args.artifact + DEFAULT_BUNDLE_SUFFIX
    policy = policy_from_args(args)
    bundle = read_bundle(bundle_path)
    artifact = artifact_from_arg(args.artifact)
    result = verifier_from_args(args).verify_artifact(bundle, artifact, policy)
    who = result.identity or "the given key"
    suffix = f" ({result.issuer})" if result.issuer else ""
    print(f"OK: {args.artifact} signed by {who}{suffix}", file=sys.stdout)
    return 0
