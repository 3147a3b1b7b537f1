"""``sceau tuf``: maintain the instance's TUF repository.

``sceau tuf refresh [--dir DIR]`` re-signs the metadata that is close to expiry (what the
server also does on a schedule), using ``<dir>/tuf`` and the role keys
``<dir>/keys/tuf-{root,targets,snapshot,timestamp}.pem``. Run it from cron when the
repository is published by something other than ``sceau serve`` (a static web server).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="tuf_command", metavar="ACTION", required=True)
    refresh = sub.add_parser(
        "refresh",
        help="re-sign TUF metadata that is close to expiry",
        description="re-sign TUF metadata that is close to expiry",
    )
    refresh.add_argument("--dir", default="./.sceau", help="instance directory (default ./.sceau)")
    publish = sub.add_parser(
        "publish",
        help="rebuild the trust files from the instance's keys and publish them through TUF",
        description="rebuild trusted_root.json and signing_config.v0.2.json from the instance's "
        "current keys, certificates and sceau.toml, and publish a new TUF targets version "
        "if they changed",
    )
    publish.add_argument("--dir", default="./.sceau", help="instance directory (default ./.sceau)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sceau.errors import NotFound
    from sceau.trust import TufKeys, TufRepository

    directory = Path(args.dir)
    if args.tuf_command == "publish":
        from sceau.config import InstanceConfig
        from sceau.instance import publish_instance_trust

        before = TufRepository(directory / "tuf", TufKeys.load(directory / "keys")).versions()
        publish_instance_trust(InstanceConfig.load(directory))
        after = TufRepository(directory / "tuf", TufKeys.load(directory / "keys")).versions()
        if after.get("targets") != before.get("targets"):
            print(f"published targets v{after['targets']}")
        else:
            print("trust files unchanged: nothing published")
        return 0
    if not (directory / "tuf" / "timestamp.json").is_file():
        raise NotFound(f"no TUF repository in {directory / 'tuf'} (run `sceau init` first)")
    repo = TufRepository(directory / "tuf", TufKeys.load(directory / "keys"))
    resigned = repo.refresh()
    versions = repo.versions()
    expires = repo.expires()
    if resigned:
        done = ", ".join(f"{role} (v{versions[role]})" for role in resigned)
        print(f"re-signed {done}")
    else:
        print("nothing to re-sign")
    soonest = min(expires, key=lambda role: expires[role])
    when = expires[soonest].strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"next expiry: {soonest} at {when}")
    return 0
