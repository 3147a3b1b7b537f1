"""``sceau verify FILE_OR_DIGEST --bundle B``: verify an artifact against a Sigstore bundle.

Also holds the option groups the other verifying commands share (trust root selection and
identity policy), so every command spells them the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
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
    from sceau.client.tuf import REFRESH_INTERVAL, instance_trust
    from sceau.errors import InputError

    if getattr(args, "refresh", False) and args.offline:
        raise InputError("--refresh and --offline contradict each other")
    return instance_trust(
        args.instance,
        bootstrap_root=args.tuf_root,
        offline=args.offline,
        max_age=0.0 if getattr(args, "refresh", False) else REFRESH_INTERVAL,
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
    group.add_argument(
        "--refresh",
        action="store_true",
        help="with --instance: fetch the trust root now (after the instance rotated a key)",
    )


# Symptoms of verifying against the wrong (or an outdated) trust root, whatever the check.
_TRUST_SYMPTOMS = (
    "not in the trusted root",
    "the trusted root does not list",
    "certificate chain does not verify",
    "has no TSA",
)


@contextlib.contextmanager
def trust_hints(args: argparse.Namespace) -> Iterator[None]:
    """Add what to do to an error that means "this trust root does not describe where the
    bundle comes from": which root was used, and how to give the right or a fresh one."""
    from sceau.errors import VerificationError

    try:
        yield
    except VerificationError as e:
        if not any(s in e.message for s in _TRUST_SYMPTOMS):
            raise
        e.message = f"{e.message}; {_trust_hint(args)}"
        e.args = (e.message,)
        raise


def _trust_hint(args: argparse.Namespace) -> str:
    if getattr(args, "instance", None):
        return (
            f"the trust root came from {args.instance} (TUF): if that instance rotated a "
            "key since, run again with --refresh"
        )
    for option in ("trusted_root", "trust_config"):
        if getattr(args, option, None):
            flag = "--" + option.replace("_", "-")
            return (
                f"checked against {flag} {getattr(args, option)}: is the bundle from that "
                "instance, and is that file current (an instance that rotated a key "
                "publishes a new one)?"
            )
    which = "staging" if getattr(args, "staging", False) else "public-good production"
    return (
        f"checked against the {which} trust root (the default): for a bundle from another "
        "instance give --instance URL, --trust-config FILE or --trusted-root FILE"
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
        help="regular expression the SAN must match (as cosign: anywhere unless anchored "
        "with ^...$)",
    )
    iss = g.add_mutually_exclusive_group()
    iss.add_argument("--certificate-oidc-issuer", metavar="URL", help="exact OIDC issuer")
    iss.add_argument(
        "--certificate-oidc-issuer-regexp",
        metavar="RE",
        help="regular expression the OIDC issuer must match (as cosign: anywhere unless "
        "anchored with ^...$)",
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
        "artifacts",
        nargs="+",
        metavar="FILE_OR_DIGEST",
        help="signed files (each with FILE.sigstore.json), or sha256:<hex> with --bundle",
    )
    parser.add_argument(
        "--bundle",
        metavar="B",
        help=f"the Sigstore bundle (one FILE only; default FILE{DEFAULT_BUNDLE_SUFFIX})",
    )
    add_policy_arguments(parser)
    add_trust_arguments(parser)
    add_witness_arguments(parser)
    from sceau.cli.cosign_args import add_detached_verify_arguments

    add_detached_verify_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Verify every file; report each, and fail if any fails (all are still checked, so
    one run tells which of a release's files are bad)."""
    from sceau.cli import cosign_args
    from sceau.errors import InputError, VerificationError

    if cosign_args.wants_cosign_verify(args):
        if len(args.artifacts) != 1:
            raise InputError("--signature/--certificate verify one FILE at a time")
        with trust_hints(args):
            return cosign_args.run_cosign_verify(
                args,
                policy_from_args(args),
                trusted_root_from_args(args),
                artifact_from_arg(args.artifacts[0]),
            )

    if args.bundle and len(args.artifacts) != 1:
        raise InputError("--bundle takes one FILE; without it each FILE has FILE.sigstore.json")
    pairs = []
    for artifact in args.artifacts:
        bundle_path = args.bundle
        if bundle_path is None:
            if artifact.startswith("sha256:"):
                raise InputError("--bundle is required when verifying a digest")
            bundle_path = artifact + DEFAULT_BUNDLE_SUFFIX
        pairs.append((artifact, bundle_path))
    policy = policy_from_args(args)
    verifier = verifier_from_args(args)
    failed = 0
    for artifact, bundle_path in pairs:
        try:
            with trust_hints(args):
                bundle = read_bundle(bundle_path)
                result = verifier.verify_artifact(bundle, artifact_from_arg(artifact), policy)
        except (VerificationError, InputError) as e:
            if len(pairs) == 1:
                raise
            print(f"FAIL: {artifact}: {e.message}", file=sys.stderr)
            failed += 1
            continue
        who = result.identity or "the given key"
        suffix = f" ({result.issuer})" if result.issuer else ""
        print(f"OK: {artifact} signed by {who}{suffix}", file=sys.stdout)
    if failed:
        print(f"error: {failed} of {len(pairs)} files failed verification", file=sys.stderr)
        return 1
    return 0
