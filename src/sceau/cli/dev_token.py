"""``sceau dev-token``: print an ID token from the instance's development OIDC issuer.

Signs locally with ``<dir>/keys/dev-oidc.pem`` as issuer ``<instance url>/oidc`` (email) or
``<instance url>/oidc/github`` (GitHub workflow), the URLs ``sceau serve --dev-oidc``
publishes and its CA trusts. No server needs to be running.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sceau.services.oidc import DevIssuer

DEFAULT_URL = "http://127.0.0.1:8080"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default="./.sceau", help="instance directory (default ./.sceau)")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", metavar="ADDR", help="a verified-email identity")
    who.add_argument(
        "--github-workflow",
        metavar="OWNER/REPO/.github/workflows/F.yml@REF",
        help="a GitHub Actions workflow identity",
    )
    parser.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="K=V",
        help="set or override a claim of a --github-workflow token (repeatable)",
    )
    parser.add_argument(
        "--lifetime", type=int, default=600, help="seconds until the token expires (default 600)"
    )


def run(args: argparse.Namespace) -> int:
    from sceau.errors import InputError

    if args.claim and not args.github_workflow:
        raise InputError("--claim applies to --github-workflow tokens only")
    if not 1 <= args.lifetime <= 24 * 3600:
        raise InputError("--lifetime must be between 1 and 86400 seconds")
    extra = {}
    for item in args.claim:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--claim {item!r} is not K=V")
        extra[key] = value
    issuer = load_dev_issuer(Path(args.dir))
    if args.email is not None:
        token = issuer.mint_email(args.email, lifetime=args.lifetime)
    else:
        token = issuer.mint_github_workflow(args.github_workflow, extra, lifetime=args.lifetime)
    print(token)
    return 0


def load_dev_issuer(directory: Path) -> DevIssuer:
    """The dev issuer of the instance in ``directory``, from its config and key."""
    import tomllib

    from sceau.errors import InputError
    from sceau.keys import load_signer
    from sceau.services.oidc import KEY_PATH, DevIssuer

    url = DEFAULT_URL
    config_path = directory / "sceau.toml"
    if config_path.exists():
        try:
            config = tomllib.loads(config_path.read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise InputError(f"cannot read {config_path}: {e}") from e
        instance = config.get("instance", {})
        url = instance.get("url", DEFAULT_URL) if isinstance(instance, dict) else DEFAULT_URL
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InputError(f"{config_path}: [instance] url must be an http(s) URL")
    key_path = directory / KEY_PATH
    if not key_path.exists():
        raise InputError(
            f"the instance at {directory} has no dev OIDC issuer key ({key_path}); "
            "create the instance with the dev OIDC issuer enabled"
        )
    return DevIssuer.for_instance(load_signer(key_path), url)
