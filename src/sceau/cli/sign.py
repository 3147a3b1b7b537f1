"""``sceau sign FILE…``: sign files into Sigstore bundles (``FILE.sigstore.json``).

Keyless by default (an identity token, the instance's CA, TSA and log); ``--key K.pem`` or
``--key-ref pkcs11:…`` signs with a managed key instead. Also holds the option groups the
other signing commands share: where the trust and signing config come from, and where the
identity token comes from.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sceau.client.bundle import Bundle

BUNDLE_SUFFIX = ".sigstore.json"


# -- trust and services -------------------------------------------------------------------


def add_signing_trust_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group(
        "instance (default: the public-good instance through its TUF repository)"
    )
    x = g.add_mutually_exclusive_group()
    x.add_argument("--instance", metavar="URL", help="the instance's TUF repository URL")
    x.add_argument("--trust-config", metavar="FILE", help="a ClientTrustConfig file")
    x.add_argument(
        "--instance-dir", metavar="D", help="a local instance directory (reads D/trust/)"
    )
    x.add_argument(
        "--trusted-root", metavar="FILE", help="a trusted_root.json (with --signing-config)"
    )
    x.add_argument("--staging", action="store_true", help="the public-good staging instance")
    g.add_argument("--signing-config", metavar="FILE", help="a signing_config.v0.2.json")
    g.add_argument("--tuf-root", metavar="FILE", help="with --instance: initial TUF root.json")
    g.add_argument("--offline", action="store_true", help="with --instance: use the TUF cache")
    g.add_argument("--rekor-version", type=int, choices=(1, 2), help="force this Rekor API version")
    o = parser.add_argument_group(
        "service overrides (where to ask; what to trust still comes from the trusted root)"
    )
    o.add_argument("--rekor-url", metavar="URL", help="sign into this Rekor log (v1 unless known)")
    o.add_argument("--fulcio-url", metavar="URL", help="get the certificate from this CA")
    o.add_argument("--timestamp-server-url", metavar="URL", help="timestamp with this TSA")


def signing_trust_from_args(args: argparse.Namespace) -> tuple[Any, Any]:
    """``(SigningConfig, TrustedRoot)`` from whichever source the options name, with the
    ``--*-url`` overrides applied."""
    signing_config, trusted_root = _signing_trust(args)
    overrides = {
        "rekor_url": getattr(args, "rekor_url", None),
        "ca_url": getattr(args, "fulcio_url", None),
        "tsa_url": getattr(args, "timestamp_server_url", None),
    }
    if any(overrides.values()):
        signing_config = signing_config.with_overrides(
            rekor_version=getattr(args, "rekor_version", None), **overrides
        )
    return signing_config, trusted_root


def _signing_trust(args: argparse.Namespace) -> tuple[Any, Any]:
    from sceau.client.signing_config import SigningConfig, load_signing_config
    from sceau.client.trust import TrustedRoot, load_trusted_root
    from sceau.errors import InputError

    instance = getattr(args, "instance", None)
    if (getattr(args, "tuf_root", None) or getattr(args, "offline", False)) and not instance:
        raise InputError("--tuf-root and --offline apply to --instance only")
    signing_config = getattr(args, "signing_config", None)
    if signing_config and not getattr(args, "trusted_root", None):
        raise InputError("--signing-config goes with --trusted-root")
    if getattr(args, "trusted_root", None):
        if not signing_config:
            raise InputError("--trusted-root needs --signing-config (or use --trust-config)")
        return load_signing_config(signing_config), load_trusted_root(args.trusted_root)
    if getattr(args, "trust_config", None) or getattr(args, "instance_dir", None):
        path = (
            Path(args.trust_config)
            if getattr(args, "trust_config", None)
            else Path(args.instance_dir) / "trust" / "trust_config.json"
        )
        try:
            data = path.read_bytes()
        except OSError as e:
            raise InputError(f"cannot read trust config {path}: {e.strerror}") from None
        return SigningConfig.from_trust_config(data), TrustedRoot.from_trust_config(data)
    from sceau.client import tuf

    url = instance or (tuf.STAGING_URL if getattr(args, "staging", False) else tuf.PRODUCTION_URL)
    trust = tuf.instance_trust(
        url, bootstrap_root=getattr(args, "tuf_root", None), offline=args.offline
    )
    return trust.signing_config, trust.trusted_root


# -- identity -----------------------------------------------------------------------------


def add_identity_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group(
        "identity (default: $SIGSTORE_ID_TOKEN, then GitHub Actions' ambient token)"
    )
    g.add_argument("--identity-token", metavar="T", help="an OIDC ID token (audience sigstore)")
    g.add_argument(
        "--dev-email",
        metavar="ADDR",
        help="get a token from the instance's development OIDC issuer (local instances)",
    )
    g.add_argument(
        "--oidc-issuer",
        metavar="URL",
        help="log in at this OpenID provider (default with the options below: the instance's)",
    )
    g.add_argument(
        "--oidc-client-id", metavar="ID", help="the OAuth client id to log in as (sigstore)"
    )
    g.add_argument(
        "--oidc-client-secret",
        metavar="S",
        help="its secret, for providers that want one (or $SIGSTORE_OIDC_CLIENT_SECRET)",
    )
    g.add_argument(
        "--oidc-device-flow",
        action="store_true",
        help="log in on another device with a code (RFC 8628) instead of this browser",
    )


def _wants_login(args: argparse.Namespace) -> bool:
    names = ("oidc_issuer", "oidc_client_id", "oidc_client_secret", "oidc_device_flow")
    return any(getattr(args, n, None) for n in names)


def login_from_args(args: argparse.Namespace, signing_config: Any) -> Any:
    """Log the user in at ``--oidc-issuer`` (or the signing config's OIDC provider)."""
    import os

    from sceau.client.oidc import login
    from sceau.errors import InputError

    if getattr(args, "identity_token", None) or getattr(args, "dev_email", None):
        raise InputError("--oidc-* logs in: do not combine it with --identity-token/--dev-email")
    issuer = getattr(args, "oidc_issuer", None)
    if not issuer:
        services = signing_config.select(rekor_version=getattr(args, "rekor_version", None))
        if services.oidc is None:
            raise InputError("--oidc-issuer is needed: the signing config names no OIDC issuer")
        issuer = services.oidc.url
    return login(
        issuer,
        getattr(args, "oidc_client_id", None) or "sigstore",
        # The environment keeps a secret out of the process list (sigstore-python's name).
        client_secret=getattr(args, "oidc_client_secret", None)
        or os.environ.get("SIGSTORE_OIDC_CLIENT_SECRET")
        or None,
        device=bool(getattr(args, "oidc_device_flow", False)),
    )


def add_key_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("managed key (instead of an identity)")
    k = g.add_mutually_exclusive_group()
    k.add_argument("--key", metavar="KEY.pem", help="an ECDSA P-256 private key (PEM)")
    k.add_argument("--key-ref", metavar="URI", help="a key in a PKCS#11 token: pkcs11:…")


def identity_from_args(args: argparse.Namespace, signing_config: Any) -> Any:
    from sceau.client.identity import get_identity_token

    if _wants_login(args):
        return login_from_args(args, signing_config)
    oidc_url = None
    if getattr(args, "dev_email", None):
        services = signing_config.select(rekor_version=getattr(args, "rekor_version", None))
        oidc_url = services.oidc.url if services.oidc else None
    return get_identity_token(
        getattr(args, "identity_token", None),
        dev_email=getattr(args, "dev_email", None),
        oidc_url=oidc_url,
    )


def key_from_args(args: argparse.Namespace) -> Any | None:
    from sceau.errors import InputError

    ref = getattr(args, "key", None) or getattr(args, "key_ref", None)
    if ref is None:
        return None
    if (
        getattr(args, "identity_token", None)
        or getattr(args, "dev_email", None)
        or _wants_login(args)
    ):
        raise InputError("--key/--key-ref cannot be combined with an identity token")
    if getattr(args, "key_ref", None) and not args.key_ref.startswith("pkcs11:"):
        raise InputError("--key-ref takes a pkcs11: URI (use --key for a PEM file)")
    from sceau.client.keysign import load_key

    return load_key(ref)


def add_overwrite_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--overwrite", action="store_true", help="replace existing output files (else refused)"
    )


def refuse_overwrite(args: argparse.Namespace, outputs: Sequence[Path]) -> None:
    """Refuse, before anything is signed, to replace an existing output (as sigstore-python
    does): a bundle that already exists is often the one a release needs."""
    from sceau.errors import InputError

    if getattr(args, "overwrite", False):
        return
    for out in outputs:
        if out.exists():
            raise InputError(f"refusing to overwrite {out}: it exists (give --overwrite)")


def describe(bundle: Bundle) -> str:
    """One line about a signed bundle."""
    e = bundle.tlog_entry
    n = len(bundle.timestamps)
    return f"log index {e.log_index}, {e.kind} {e.version}, {n} timestamp(s)"


# -- the command --------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="files to sign")
    parser.add_argument(
        "--bundle", metavar="OUT", help=f"bundle path (one FILE only; default FILE{BUNDLE_SUFFIX})"
    )
    add_overwrite_argument(parser)
    add_identity_arguments(parser)
    add_key_arguments(parser)
    add_signing_trust_arguments(parser)
    from sceau.cli.cosign_args import add_detached_sign_arguments

    add_detached_sign_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from sceau.cli import cosign_args
    from sceau.client.sign import SigningContext, write_bundle
    from sceau.errors import InputError

    cosign_args.check_detached_sign_args(args)
    if args.bundle and len(args.files) != 1:
        raise InputError("--bundle takes one FILE; without it each FILE gets FILE.sigstore.json")
    for f in args.files:
        if not Path(f).is_file():
            raise InputError(f"cannot sign {f}: not a readable file")
    outputs = [Path(args.bundle)] if args.bundle else [Path(f + BUNDLE_SUFFIX) for f in args.files]
    refuse_overwrite(args, outputs)
    signing_config, trusted_root = signing_trust_from_args(args)
    key = key_from_args(args)
    if key is not None:
        from sceau.client.keysign import sign_artifact_with_key

        for f, out in zip(args.files, outputs, strict=True):
            bundle = sign_artifact_with_key(
                Path(f), key, signing_config, trusted_root, rekor_version=args.rekor_version
            )
            write_bundle(bundle, out)
            cosign_args.write_detached(args, bundle)
            print(f"signed {f} -> {out} ({describe(bundle)})", file=sys.stdout)
        return 0
    token = identity_from_args(args, signing_config)
    ctx = SigningContext(signing_config, trusted_root, rekor_version=args.rekor_version)
    with ctx.signer(token) as signer:
        for f, out in zip(args.files, outputs, strict=True):
            bundle = signer.sign_artifact(Path(f))
            write_bundle(bundle, out)
            cosign_args.write_detached(args, bundle)
            print(f"signed {f} -> {out} as {token.identity} ({describe(bundle)})")
    return 0


# -- conformance --------------------------------------------------------------------------


def conformance_sign_bundle(args: argparse.Namespace) -> int:
    """``sceau conformance sign-bundle`` (docs/protocols.md §8.1): files given win; whatever is
    missing comes from the public-good (or ``--staging``) TUF repository."""
    from sceau.client.identity import IdentityToken
    from sceau.client.sign import SigningContext, write_bundle
    from sceau.client.signing_config import load_signing_config
    from sceau.client.trust import load_trusted_root

    trust: Any = None
    if not (args.trusted_root and args.signing_config):
        from sceau.client import tuf

        trust = tuf.instance_trust(tuf.STAGING_URL if args.staging else tuf.PRODUCTION_URL)
    if args.signing_config:
        signing_config = load_signing_config(args.signing_config)
    else:
        signing_config = trust.signing_config
    if args.trusted_root:
        trusted_root = load_trusted_root(args.trusted_root)
    else:
        trusted_root = trust.trusted_root
    token = IdentityToken.parse(args.identity_token)
    ctx = SigningContext(signing_config, trusted_root)
    with ctx.signer(token) as signer:
        if args.in_toto:
            try:
                statement = Path(args.file).read_bytes()
            except OSError as e:
                from sceau.errors import InputError

                raise InputError(f"cannot read {args.file}: {e.strerror}") from None
            bundle = signer.sign_dsse(statement)
        else:
            bundle = signer.sign_artifact(Path(args.file))
    write_bundle(bundle, args.bundle)
    return 0
