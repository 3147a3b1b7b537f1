"""``sceau attest --predicate F --type T FILE``: sign an in-toto attestation about FILE.

The statement is in-toto Statement v1 with FILE as its subject (name and SHA-256), the
predicate read from F (a JSON object) and ``predicateType`` T. It is signed as a DSSE
envelope (``application/vnd.in-toto+json``) and logged as ``dsse`` 0.0.1 on Rekor v1 or as a
hashedrekord over the PAE on Rekor v2. Verify with ``sceau verify-attestation``.
"""

from __future__ import annotations

import argparse

from sceau.cli.sign import (
    add_identity_arguments,
    add_key_arguments,
    add_overwrite_argument,
    add_signing_trust_arguments,
    describe,
    identity_from_args,
    key_from_args,
    refuse_overwrite,
    signing_trust_from_args,
)
from sceau.client.cosign.predicates import PREDICATE_TYPES as PREDICATE_TYPES  # image_cmd

BUNDLE_SUFFIX = ".intoto.sigstore.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="the artifact the attestation is about")
    parser.add_argument(
        "--predicate", required=True, metavar="F", help="the predicate (a JSON object file)"
    )
    parser.add_argument(
        "--type",
        default="custom",
        metavar="T",
        help="predicate type URI, or cosign's short name: "
        + ", ".join(PREDICATE_TYPES)
        + " (default: custom, as cosign)",
    )
    parser.add_argument(
        "--bundle", metavar="OUT", help=f"bundle path (default FILE{BUNDLE_SUFFIX})"
    )
    add_overwrite_argument(parser)
    add_identity_arguments(parser)
    add_key_arguments(parser)
    add_signing_trust_arguments(parser)


def _predicate(path: str) -> object:
    import json
    from pathlib import Path

    from sceau.errors import InputError

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise InputError(f"cannot read predicate {path}: {e.strerror}") from None
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"predicate {path} is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise InputError(f"predicate {path} must be a JSON object")
    return value


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sceau.client.cosign.predicates import predicate_type as resolve_type
    from sceau.client.hashing import hash_file
    from sceau.client.sign import SigningContext, in_toto_statement, write_bundle
    from sceau.errors import InputError

    predicate_type = resolve_type(args.type)
    if not Path(args.file).is_file():
        raise InputError(f"cannot attest {args.file}: not a readable file")
    predicate = _predicate(args.predicate)
    statement = in_toto_statement(
        [(Path(args.file).name, hash_file(args.file))], predicate_type, predicate
    )
    out = Path(args.bundle or args.file + BUNDLE_SUFFIX)
    refuse_overwrite(args, [out])
    signing_config, trusted_root = signing_trust_from_args(args)
    key = key_from_args(args)
    if key is not None:
        from sceau.client.keysign import sign_dsse_with_key

        bundle = sign_dsse_with_key(
            statement, key, signing_config, trusted_root, rekor_version=args.rekor_version
        )
        who = "the given key"
    else:
        token = identity_from_args(args, signing_config)
        ctx = SigningContext(signing_config, trusted_root, rekor_version=args.rekor_version)
        with ctx.signer(token) as signer:
            bundle = signer.sign_dsse(statement)
        who = token.identity
    write_bundle(bundle, out)
    print(f"attested {args.file} ({predicate_type}) -> {out} as {who} ({describe(bundle)})")
    return 0
