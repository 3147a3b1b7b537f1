"""``sceau log info|get|search|verify|consistency``: rekor-cli's questions, with answers checked.

Which log: ``--rekor-url URL`` (API v1 unless ``--rekor-version 2``), or ``--instance-dir D``
(the instance's own logs, and its trust config as the trusted root), else the public-good
Rekor. Checkpoints and entries are verified with the trusted root's keys — a log is
recognised by the key that signs it, not by its URL — and an answer no trusted key signed
is shown as unverified, never as good.
``info`` remembers the last verified checkpoint of each log (as rekor-cli does) and proves
the log only grew since.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Any

from sceau.cli.verify import add_trust_arguments, trusted_root_from_args

PUBLIC_GOOD_REKOR = "https://rekor.sigstore.dev"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="log_command", metavar="OPERATION", required=True)
    ops = {
        "info": "the log's size and root, from its verified checkpoint",
        "get": "an entry by index or UUID, decoded, its inclusion verified",
        "search": "entries by e-mail, artifact SHA-256 or public key",
        "verify": "a bundle's entry is in the log now, and the log is consistent with it",
        "consistency": "prove the log at one size extends the log at a smaller size",
    }
    parsers = {name: sub.add_parser(name, help=h, description=h) for name, h in ops.items()}
    g = parsers["get"].add_mutually_exclusive_group(required=True)
    g.add_argument("--index", type=int, metavar="N", help="the entry's log index")
    g.add_argument("--uuid", metavar="U", help="the entry's UUID (Rekor v1)")
    s = parsers["search"]
    s.add_argument("--email", metavar="E", help="the signer's e-mail")
    s.add_argument("--sha256", metavar="HEX", help="the artifact's SHA-256")
    s.add_argument("--artifact", metavar="F", help="an artifact file (searched by its SHA-256)")
    s.add_argument("--public-key", metavar="F", help="a PEM public key or certificate")
    v = parsers["verify"]
    v.add_argument("--bundle", required=True, metavar="B", help="a Sigstore bundle")
    v.add_argument("--artifact", metavar="F", help="the signed file (checked against the entry)")
    c = parsers["consistency"]
    c.add_argument("--from", dest="first", type=int, required=True, metavar="N")
    c.add_argument("--to", dest="second", type=int, metavar="M", help="default: the log's size")
    c.add_argument(
        "--from-root", metavar="HEX", help="the root at size N you hold (Rekor v1 cannot say)"
    )
    for p in parsers.values():
        w = p.add_argument_group("log")
        x = w.add_mutually_exclusive_group()
        x.add_argument("--rekor-url", metavar="URL", help=f"the log (default {PUBLIC_GOOD_REKOR})")
        x.add_argument(
            "--instance-dir", metavar="D", help="a local instance: its logs and trust config"
        )
        w.add_argument("--rekor-version", type=int, choices=(1, 2), help="API version (default 1)")
        p.add_argument("--output", choices=("text", "json"), default="text")
        add_trust_arguments(p)


# -- choosing the log ---------------------------------------------------------------------


def _instance_trust(directory: str) -> tuple[Any, Any]:
    from sceau.client.signing_config import SigningConfig
    from sceau.client.trust import TrustedRoot
    from sceau.errors import InputError

    path = Path(directory) / "trust" / "trust_config.json"
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(
            f"cannot read {path}: {e.strerror} (is {directory} an instance?)"
        ) from None
    return SigningConfig.from_trust_config(data), TrustedRoot.from_trust_config(data)


def _one_trust_source(args: argparse.Namespace) -> None:
    """``--instance-dir`` brings its own trust config: another trust option would be
    silently ignored, so it is refused."""
    from sceau.cli.verify import TRUST_SOURCES
    from sceau.errors import InputError

    if args.instance_dir and any(getattr(args, dest, None) for dest in TRUST_SOURCES):
        raise InputError("--instance-dir uses the instance's trust config: drop the trust option")


def open_log(args: argparse.Namespace) -> Any:
    from sceau.client.logquery import RekorLog
    from sceau.errors import InputError

    _one_trust_source(args)
    if args.instance_dir:
        signing_config, trusted_root = _instance_trust(args.instance_dir)
        logs = {s.major_api_version: s.url for s in signing_config.rekor_tlog_urls}
        version = args.rekor_version or (1 if 1 in logs else 2)
        if version not in logs:
            raise InputError(f"the instance {args.instance_dir} has no Rekor v{version} log")
        return RekorLog(logs[version], version, trusted_root)
    return RekorLog(
        args.rekor_url or PUBLIC_GOOD_REKOR, args.rekor_version or 1, trusted_root_from_args(args)
    )


def _trusted_root(args: argparse.Namespace) -> Any:
    _one_trust_source(args)
    if args.instance_dir:
        return _instance_trust(args.instance_dir)[1]
    return trusted_root_from_args(args)


# -- output -------------------------------------------------------------------------------


def _emit(args: argparse.Namespace, doc: dict[str, Any], lines: list[str]) -> None:
    if args.output == "json":
        print(json.dumps(doc, indent=2))
    else:
        print("\n".join(lines))


def _verified_word(value: bool | None) -> str:
    return {True: "verified", False: "NOT verified", None: "unverified (log not in trust root)"}[
        value
    ]


# -- operations ---------------------------------------------------------------------------


def _info(args: argparse.Namespace) -> int:
    from sceau.client.logstate import LogState

    with open_log(args) as log:
        head = log.head()
        grown = None
        if head.verified:
            grown = LogState.default().advance(log, head)
    doc = {
        "url": log.url,
        "api_version": log.version,
        "origin": head.origin,
        "tree_size": head.tree_size,
        "root_hash": head.root_hash.hex(),
        "checkpoint": head.checkpoint,
        "verified": head.verified,
        "consistent_with_previous": grown,
    }
    lines = [
        f"log:        {log.url} (Rekor v{log.version})",
        f"origin:     {head.origin}",
        f"tree size:  {head.tree_size}",
        f"root hash:  {head.root_hash.hex()}",
        f"checkpoint: {_verified_word(head.verified)}",
    ]
    if grown is not None:
        lines.append(f"consistent with the checkpoint seen before at size {grown}")
    _emit(args, doc, lines)
    return 0


def entry_document(entry: Any) -> dict[str, Any]:
    e = entry.entry
    return {
        "uuid": entry.uuid,
        "index": entry.index,
        "kind": e.kind,
        "api_version": e.version,
        "integrated_time": e.integrated_time or None,
        "log_id": e.log_id.hex(),
        "body": entry.body,
        "verified": entry.verified,
        "transparency_log_entry": entry.tlog,
    }


def _get(args: argparse.Namespace) -> int:
    with open_log(args) as log:
        entry = (
            log.entry_by_index(args.index) if args.uuid is None else log.entry_by_uuid(args.uuid)
        )
    doc = entry_document(entry)
    lines = [
        f"index:      {entry.index}",
        *([f"uuid:       {entry.uuid}"] if entry.uuid else []),
        f"kind:       {entry.entry.kind} {entry.entry.version}",
        *(
            [f"integrated: {_when(entry.entry.integrated_time)}"]
            if entry.entry.integrated_time
            else []
        ),
        f"inclusion:  {_verified_word(entry.verified)}",
        "body:",
        json.dumps(entry.body, indent=2),
    ]
    _emit(args, doc, lines)
    return 0


def _when(seconds: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _search(args: argparse.Namespace) -> int:
    from sceau.errors import InputError

    digest = args.sha256
    if args.artifact:
        if digest:
            raise InputError("give --sha256 or --artifact, not both")
        from sceau.client.hashing import hash_file

        digest = hash_file(args.artifact).hex
    key = None
    if args.public_key:
        try:
            key = Path(args.public_key).read_bytes()
        except OSError as e:
            raise InputError(f"cannot read {args.public_key}: {e.strerror}") from None
    with open_log(args) as log:
        found = log.search(email=args.email, sha256=digest, public_key_pem=key)
    what = "uuids" if log.version == 1 else "indexes"
    _emit(args, {what: found}, found or ["no entries found"])
    return 0


def _verify(args: argparse.Namespace) -> int:
    from sceau.cli.verify import read_bundle
    from sceau.client.logquery import RekorLog
    from sceau.client.tlog import REKOR_V2_KINDS, verify_entry
    from sceau.errors import VerificationError

    bundle = read_bundle(args.bundle)
    trusted_root = _trusted_root(args)
    entry = bundle.tlog_entry
    # Offline first: the bundle's own proof and checkpoint.
    offline = verify_entry(entry, trusted_root)
    if args.artifact:
        _check_artifact(entry, args.artifact)
    version = 2 if (entry.kind, entry.version) in REKOR_V2_KINDS else 1
    url = args.rekor_url or offline.log.base_url
    with RekorLog(url, args.rekor_version or version, trusted_root) as log:
        head = log.head()
        if head.verified is not True:
            raise VerificationError(f"the log at {url} is not the one the trusted root names")
        online = log.entry_by_index(entry.log_index)
        if online.entry.canonicalized_body != entry.canonicalized_body:
            raise VerificationError(
                f"the log holds a different entry at index {entry.log_index} than the bundle"
            )
        log.verify_consistency(offline.tree_size, offline.root_hash, head.tree_size, head.root_hash)
    doc = {
        "index": entry.log_index,
        "log": url,
        "bundle_tree_size": offline.tree_size,
        "tree_size": head.tree_size,
        "root_hash": head.root_hash.hex(),
        "included": True,
        "consistent": True,
    }
    _emit(
        args,
        doc,
        [
            f"OK: entry {entry.log_index} is in {url} (tree size {head.tree_size}), and the log "
            f"is consistent with the bundle's checkpoint (size {offline.tree_size})",
            "(the signer's identity was not checked: `sceau verify` does that)",
        ],
    )
    return 0


def _check_artifact(entry: Any, artifact: str) -> None:
    """The entry records this artifact's digest (hashedrekord 0.0.1: hex; 0.0.2: base64)."""
    from sceau.client.hashing import hash_file
    from sceau.errors import VerificationError

    if entry.kind != "hashedrekord":
        return  # a DSSE entry names the envelope, not the artifact
    spec = json.loads(entry.canonicalized_body).get("spec", {})
    if entry.version == "0.0.1":
        recorded = spec.get("data", {}).get("hash", {}).get("value")
    else:
        recorded = spec.get("hashedRekordV002", {}).get("data", {}).get("digest")
    digest = hash_file(artifact)
    if recorded not in (digest.hex, _b64(digest.value)):
        raise VerificationError(f"{artifact} is not the artifact the log entry records")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _consistency(args: argparse.Namespace) -> int:
    from sceau.errors import InputError, VerificationError

    with open_log(args) as log:
        head = log.head()
        second = args.second if args.second is not None else head.tree_size
        if second > head.tree_size:
            raise InputError(f"--to {second} is beyond the log's size {head.tree_size}")
        proof, second_root = log.consistency_proof(args.first, second)
        first_root = bytes.fromhex(args.from_root) if args.from_root else log.root_at(args.first)
        if second_root is None:
            second_root = log.root_at(second)
        if second == head.tree_size and second_root != head.root_hash:
            raise VerificationError(
                f"the log's root at size {second} is not its checkpoint's root: a fork"
            )
        verified = None
        if first_root is not None and second_root is not None:
            log.verify_consistency(args.first, first_root, second, second_root)
            verified = True
    doc = {
        "from": args.first,
        "to": second,
        "from_root": first_root.hex() if first_root else None,
        "to_root": second_root.hex() if second_root else None,
        "hashes": [h.hex() for h in proof],
        "verified": verified,
    }
    lines = [f"consistency proof {args.first} -> {second}: {len(proof)} hashes", *doc["hashes"]]
    lines.append(
        "verified" if verified else "not verified: give --from-root (Rekor v1 cannot say it)"
    )
    _emit(args, doc, lines)
    return 0


OPERATIONS = {
    "info": _info,
    "get": _get,
    "search": _search,
    "verify": _verify,
    "consistency": _consistency,
}


def run(args: argparse.Namespace) -> int:
    from sceau.errors import InputError

    if getattr(args, "from_root", None):
        try:
            bytes.fromhex(args.from_root)
        except ValueError:
            raise InputError("--from-root must be hex") from None
    code = OPERATIONS[args.log_command](args)
    sys.stdout.flush()
    return code
