"""``sceau tuf``: maintain the instance's TUF repository.

``sceau tuf refresh [--dir DIR]`` re-signs the metadata that is close to expiry (what the
server also does on a schedule), using ``<dir>/tuf`` and the role keys
``<dir>/keys/tuf-{root,targets,snapshot,timestamp}.pem``. Run it from cron when the
repository is published by something other than ``sceau serve`` (a static web server).

The root key is not needed to serve: take ``keys/tuf-root.pem`` offline after ``init``.
A new root — renewed before it expires, or with other root keys and a higher threshold —
is an offline ceremony (docs/security.md)::

    sceau tuf keygen alice.pem                       # each key holder, on their machine
    sceau tuf sign-root --dir D --key old-root.pem --key alice.pem --key bob.pem \
        --add-key alice.pem --add-key bob.pem --remove-key OLD_KEYID --threshold 2
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sceau.trust import TufKeys


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
    keygen = sub.add_parser(
        "keygen",
        help="make a TUF root key for a key holder (prints its key ID)",
        description="write a new private key (PKCS#8 PEM, 0600; encrypted when "
        "SCEAU_KEY_PASSPHRASE(_FILE) is set) and print its TUF key ID",
    )
    keygen.add_argument("out", metavar="KEY.pem", help="where to write the key (must not exist)")
    keygen.add_argument(
        "--algorithm", default="ecdsa-p256", choices=("ecdsa-p256", "ecdsa-p384", "ed25519")
    )
    sign_root = sub.add_parser(
        "sign-root",
        help="publish a new TUF root version, signed offline by the root key holders",
        description="publish root version N+1 with the root role's keys and threshold changed "
        "as asked and its expiry renewed; the --key signatures must meet both the current "
        "root's threshold and the new one's, else nothing is written",
    )
    sign_root.add_argument("--dir", default="./.sceau", help="instance directory")
    sign_root.add_argument(
        "--key", action="append", default=[], metavar="KEY.pem", required=True,
        help="a root key holder's private key (repeat for each signature)",
    )  # fmt: skip
    sign_root.add_argument(
        "--add-key", action="append", default=[], metavar="KEY.pem",
        help="make this key (public or private PEM) a root key",
    )  # fmt: skip
    sign_root.add_argument(
        "--remove-key", action="append", default=[], metavar="KEYID",
        help="stop trusting this root key ID",
    )  # fmt: skip
    sign_root.add_argument("--threshold", type=int, help="root signatures a new root needs")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sceau.errors import NotFound
    from sceau.trust import TufRepository

    if args.tuf_command == "keygen":
        return _keygen(args)
    directory = Path(args.dir)
    if args.tuf_command == "sign-root":
        return _sign_root(args, directory)
    if args.tuf_command == "publish":
        from sceau.config import InstanceConfig
        from sceau.instance.trust_files import publish_instance_trust

        before = TufRepository(directory / "tuf", _keys(directory)).versions()
        publish_instance_trust(InstanceConfig.load(directory))
        after = TufRepository(directory / "tuf", _keys(directory)).versions()
        if after.get("targets") != before.get("targets"):
            print(f"published targets v{after['targets']}")
        else:
            print("trust files unchanged: nothing published")
        return 0
    if not (directory / "tuf" / "timestamp.json").is_file():
        raise NotFound(f"no TUF repository in {directory / 'tuf'} (run `sceau init` first)")
    repo = TufRepository(directory / "tuf", _keys(directory))
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


def _keygen(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sceau.errors import Conflict
    from sceau.keys import generate_signer, save_signer
    from sceau.trust.tuf_keys import SslibSigner

    out = Path(args.out)
    if out.exists():
        raise Conflict(f"{out} already exists")
    signer = generate_signer(args.algorithm)
    save_signer(signer, out)
    print(f"{SslibSigner(signer).keyid}  {out}")
    return 0


def _public_key(path: str) -> object:
    """A public key from a PEM public key or private key file."""
    from pathlib import Path

    from sceau.errors import InputError
    from sceau.keys import load_public_key_pem, load_signer

    data = Path(path).read_bytes() if Path(path).is_file() else None
    if data is None:
        raise InputError(f"--add-key {path}: no such file")
    if b"PRIVATE KEY-----" in data:
        return load_signer(path).public_key()
    return load_public_key_pem(data)


def _sign_root(args: argparse.Namespace, directory: object) -> int:
    from pathlib import Path

    from sceau.keys import load_signer
    from sceau.trust import TufRepository
    from sceau.trust.tuf_keys import SslibSigner

    d = Path(str(directory))
    repo = TufRepository(d / "tuf", _keys(d))
    signers = [load_signer(k) for k in args.key]
    root = repo.sign_root(
        signers,
        add=[_public_key(k) for k in args.add_key],
        remove=args.remove_key,
        threshold=args.threshold,
    )
    role = root.roles["root"]
    print(f"published root v{root.version}, expires {root.expires:%Y-%m-%dT%H:%M:%SZ}")
    print(f"root keys (threshold {role.threshold}): {', '.join(sorted(role.keyids))}")
    print(f"signed by: {', '.join(SslibSigner(s).keyid for s in signers)}")
    return 0


def _keys(directory: object) -> TufKeys:
    """The instance's TUF keys (files, or a token's for roles in ``[keys]``)."""
    from pathlib import Path

    from sceau.config import CONFIG_NAME, InstanceConfig
    from sceau.instance.material import tuf_keys
    from sceau.trust import TufKeys

    d = Path(str(directory))
    if (d / CONFIG_NAME).exists():
        return tuf_keys(InstanceConfig.load(d))
    return TufKeys.load(d / "keys")
