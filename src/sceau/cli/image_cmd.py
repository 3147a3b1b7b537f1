"""``sceau image …``: sign, attest and verify container images in OCI registries, as cosign
does (docs/images.md).

- ``sign REF``: resolves REF to a digest once, signs the digest and attaches the signature:
  by default a Sigstore bundle (DSSE, predicate ``https://sigstore.dev/cosign/sign/v1``) as
  an OCI referrer, as cosign v3 does; with ``--layout legacy`` a ``sha256-<hex>.sig`` tag
  with a simple-signing payload, as cosign v2 did.
- ``attest REF --predicate F --type T``: an in-toto statement about the digest, as a referrer.
- ``verify REF`` / ``verify-attestation REF``: every signature attached in either layout,
  verified offline against the trust root; exit 0 only if one verifies.
- ``tree REF`` / ``download REF``: what is attached; the bundles.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sceau.cli.attest import PREDICATE_TYPES
from sceau.cli.sign import (
    add_identity_arguments,
    add_key_arguments,
    add_signing_trust_arguments,
    identity_from_args,
    key_from_args,
    signing_trust_from_args,
)
from sceau.cli.verify import (
    add_policy_arguments,
    add_trust_arguments,
    policy_from_args,
    trust_hints,
    trusted_root_from_args,
)

SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
LEGACY_TYPE = "cosign container image signature"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="image_command", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("ref", metavar="REF", help="host[:port]/repo[:tag|@sha256:…]")
        p.add_argument(
            "--allow-insecure-registry",
            action="store_true",
            help="plain HTTP to a registry that is not on loopback",
        )

    sign = sub.add_parser("sign", help="sign an image by digest")
    common(sign)
    sign.add_argument("--layout", choices=("referrer", "legacy"), default="referrer")
    sign.add_argument("--recursive", action="store_true", help="also every platform manifest")
    sign.add_argument("-a", "--annotation", action="append", default=[], metavar="KEY=VALUE")
    add_identity_arguments(sign)
    add_key_arguments(sign)
    add_signing_trust_arguments(sign)

    attest = sub.add_parser("attest", help="attach an in-toto attestation about an image")
    common(attest)
    attest.add_argument("--predicate", required=True, metavar="FILE")
    attest.add_argument("--type", required=True, metavar="URI")
    add_identity_arguments(attest)
    add_key_arguments(attest)
    add_signing_trust_arguments(attest)

    for name, help_text in (
        ("verify", "verify the signatures attached to an image"),
        ("verify-attestation", "verify the attestations attached to an image"),
    ):
        p = sub.add_parser(name, help=help_text)
        common(p)
        if name == "verify-attestation":
            p.add_argument("--type", metavar="URI", help="only attestations of this type")
        else:
            p.add_argument(
                "-a", "--annotation", action="append", default=[], metavar="KEY=VALUE",
                help="the signed payload must carry it",
            )  # fmt: skip
        p.add_argument("--output", choices=("text", "json"), default="text")
        add_policy_arguments(p)
        add_trust_arguments(p)

    tree = sub.add_parser("tree", help="list what is attached to an image")
    common(tree)
    download = sub.add_parser("download", help="write the attached Sigstore bundles")
    common(download)
    download.add_argument("--output-dir", default=".", metavar="DIR")


def run(args: argparse.Namespace) -> int:
    from sceau.client.oci import Registry, parse_reference

    ref = parse_reference(args.ref)
    with Registry(ref.registry, insecure=args.allow_insecure_registry) as registry:
        target = _resolve(registry, ref)
        action = args.image_command
        if action in ("sign", "attest"):
            return _sign(args, registry, target)
        if action in ("verify", "verify-attestation"):
            with trust_hints(args):
                return _verify(args, registry, target)
        if action == "tree":
            return _tree(registry, target)
        return _download(args, registry, target)


@dataclass(frozen=True)
class Target:
    """An image resolved once: its reference, digest, media type and manifest."""

    ref: Any
    digest: str
    media_type: str
    manifest: bytes


def _resolve(registry: Any, ref: Any) -> Target:
    body, media_type, digest = registry.get_manifest(ref.repository, ref.ref)
    if ref.digest is None:
        print(f"{ref} resolved to {digest}", file=sys.stderr)
    return Target(ref, digest, media_type, body)


def _annotations(pairs: list[str]) -> dict[str, str]:
    from sceau.errors import InputError

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"-a takes KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


# -- signing --------------------------------------------------------------------------------


def _sign(args: argparse.Namespace, registry: Any, target: Target) -> int:
    from sceau.client.oci import Descriptor
    from sceau.client.oci.layouts import attach_bundle, attach_legacy, legacy_annotations
    from sceau.client.oci.layouts import simple_signing_payload as payload_for
    from sceau.client.oci.registry import INDEX_TYPES
    from sceau.errors import InputError

    repo = target.ref.repository
    subjects = [Descriptor(target.media_type, target.digest, len(target.manifest))]
    if getattr(args, "recursive", False):
        if target.media_type not in INDEX_TYPES:
            raise InputError(f"--recursive: {target.ref} is a single manifest, not an index")
        subjects += [Descriptor.from_json(m) for m in json.loads(target.manifest)["manifests"]]
    legacy = getattr(args, "layout", "referrer") == "legacy"
    if legacy and args.image_command == "attest":
        raise InputError("attestations are attached as referrers (no --layout legacy)")
    if legacy and args.rekor_version == 2:
        raise InputError("--layout legacy carries a Rekor v1 SET: use --rekor-version 1")
    if legacy:
        args.rekor_version = 1
    annotations = _annotations(getattr(args, "annotation", []))
    predicate_type, predicate = SIGN_PREDICATE, {}  # type: tuple[str, object]
    if args.image_command == "attest":
        from sceau.cli.attest import _predicate

        predicate_type = PREDICATE_TYPES.get(args.type, args.type)
        predicate = _predicate(args.predicate)

    signing_config, trusted_root = signing_trust_from_args(args)
    key = key_from_args(args)
    with _signer(args, key, signing_config, trusted_root) as sign:
        for subject in subjects:
            if legacy:
                payload = payload_for(target.ref.name, subject.digest, annotations)
                bundle = sign("artifact", payload)
                attach_legacy(registry, repo, subject.digest, payload,
                              legacy_annotations(bundle, []))  # fmt: skip
            else:
                statement = {
                    "_type": "https://in-toto.io/Statement/v1",
                    "subject": [{
                        "name": target.ref.name,
                        "digest": {"sha256": subject.digest.split(":", 1)[1]},
                        **({"annotations": annotations} if annotations else {}),
                    }],
                    "predicateType": predicate_type,
                    "predicate": predicate,
                }  # fmt: skip
                bundle = sign("dsse", statement)
                attach_bundle(registry, repo, subject, json.dumps(bundle).encode(),
                              predicate_type)  # fmt: skip
            print(f"signed {target.ref.name}@{subject.digest}")
    _tag_unmoved(registry, target, "signing")
    return 0


def _tag_unmoved(registry: Any, target: Target, doing: str) -> None:
    """A tag resolved at the start must still name the same digest at the end: otherwise
    what was signed or verified is not what the tag now names."""
    if target.ref.digest is not None:
        return
    now = registry.head_manifest(target.ref.repository, target.ref.ref)
    if now != target.digest:
        from sceau.client.oci import RegistryError

        raise RegistryError(
            f"{target.ref} moved from {target.digest} to {now} while {doing}; "
            f"use {target.ref.name}@{target.digest} to {doing.removesuffix('ing')} by digest"
        )


class _signer:
    """``sign(kind, data)`` with one certificate (keyless) or a managed key, for a block."""

    def __init__(self, args: argparse.Namespace, key: Any, signing_config: Any,
                 trusted_root: Any) -> None:  # fmt: skip
        self.args, self.key = args, key
        self.signing_config, self.trusted_root = signing_config, trusted_root
        self._ctx: Any = None

    def __enter__(self) -> Any:
        from sceau.client.sign import SigningContext

        version = self.args.rekor_version
        if self.key is not None:
            from sceau.client.keysign import sign_artifact_with_key, sign_dsse_with_key

            def with_key(kind: str, data: Any) -> dict[str, Any]:
                fn = sign_artifact_with_key if kind == "artifact" else sign_dsse_with_key
                return fn(data, self.key, self.signing_config, self.trusted_root,
                          rekor_version=version).to_dict()  # fmt: skip

            return with_key
        token = identity_from_args(self.args, self.signing_config)
        ctx = SigningContext(self.signing_config, self.trusted_root, rekor_version=version)
        self._ctx = ctx.signer(token)
        signer = self._ctx.__enter__()

        def keyless(kind: str, data: Any) -> dict[str, Any]:
            # The layouts translate protobuf JSON into registry artifacts.
            bundle = signer.sign_artifact(data) if kind == "artifact" else signer.sign_dsse(data)
            return dict(bundle.to_dict())

        return keyless

    def __exit__(self, *exc: Any) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(*exc)


# -- verification ---------------------------------------------------------------------------


def collect(
    registry: Any, target: Target, trusted_root: Any = None
) -> list[tuple[str, bytes, bytes | None]]:
    """Every attached signature: ``(layout, bundle JSON, legacy payload or None)``; legacy
    ones get their inclusion proof from the log the trusted root names (when given)."""
    from sceau.client.oci.layouts import legacy_signatures, legacy_to_bundle, referrer_bundles
    from sceau.errors import SceauError

    repo, digest = target.ref.repository, target.digest
    found: list[tuple[str, bytes, bytes | None]] = [
        ("referrer", b.bundle, None) for b in referrer_bundles(registry, repo, digest)
    ]
    for sig in legacy_signatures(registry, repo, digest):
        try:
            fetch = _proof_fetcher(trusted_root) if trusted_root is not None else None
            found.append(("legacy", legacy_to_bundle(sig, fetch), sig.payload))
        except SceauError as e:  # a malformed one is reported, others still count
            found.append(("legacy", b"", e.message.encode()))
    return found


def _proof_fetcher(trusted_root: Any) -> Any:
    """``(log_id_hex, index) → inclusionProof`` from the Rekor v1 log the trusted root
    lists under that log ID (``GET /api/v1/log/entries?logIndex=N``)."""
    import httpx

    from sceau.client import rekor_json
    from sceau.errors import VerificationError

    def fetch(log_id_hex: str, index: int) -> dict[str, Any]:
        log = trusted_root.tlog(bytes.fromhex(log_id_hex))
        if log is None:
            raise VerificationError(f"log {log_id_hex[:16]}… is not in the trusted root")
        url = f"{log.base_url.rstrip('/')}/api/v1/log/entries"
        try:
            r = httpx.get(url, params={"logIndex": index}, timeout=30)
            entry = next(iter(r.json().values()))
            proof: dict[str, Any] = entry["verification"]["inclusionProof"]
        except (httpx.HTTPError, ValueError, KeyError, StopIteration, AttributeError) as e:
            raise VerificationError(
                f"cannot get the inclusion proof of entry {index}: {e}"
            ) from None
        try:
            return rekor_json.v1_inclusion_proof(proof)
        except (KeyError, TypeError, ValueError) as e:
            raise VerificationError(f"malformed inclusion proof of entry {index}: {e}") from None

    return fetch


def _verify(args: argparse.Namespace, registry: Any, target: Target) -> int:
    from sceau.client.hashing import Digest
    from sceau.client.verify import Verifier
    from sceau.errors import SceauError, VerificationError

    policy = policy_from_args(args)
    trusted_root = trusted_root_from_args(args)
    verifier = Verifier(trusted_root)
    attestations = args.image_command == "verify-attestation"
    wanted = PREDICATE_TYPES.get(args.type, args.type) if attestations and args.type else None
    required = _annotations(getattr(args, "annotation", []))
    found = collect(registry, target, trusted_root)
    verified: list[dict[str, Any]] = []
    reasons: list[str] = []
    for layout, bundle, legacy_payload in found:
        try:
            if layout == "legacy":
                if attestations:
                    continue
                if not bundle:
                    raise VerificationError((legacy_payload or b"").decode())
                assert legacy_payload is not None
                result = verifier.verify_artifact(bundle, legacy_payload, policy)
                kind, annotations = _check_simple_signing(legacy_payload, target)
            else:
                digest = Digest.parse(target.digest)
                result = verifier.verify_artifact(bundle, digest, policy)
                statement = result.statement or {}
                kind = str(statement.get("predicateType"))
                if (kind == SIGN_PREDICATE) == attestations:
                    continue  # a signature when attestations are asked for, or vice versa
                if wanted and kind != wanted:
                    continue
                annotations = _check_subject_name(statement, target)
            missing = {k: v for k, v in required.items() if annotations.get(k) != v}
            if missing:
                raise VerificationError(f"signed annotations lack {missing}")
        except SceauError as e:
            reasons.append(f"{layout}: {e.message}")
            continue
        verified.append({
            "layout": layout, "type": kind, "identity": result.identity,
            "issuer": result.issuer, "docker-reference": target.ref.name,
            "docker-manifest-digest": target.digest, "annotations": annotations,
        })  # fmt: skip
    what = "attestations" if attestations else "signatures"
    _tag_unmoved(registry, target, "verifying")
    if not verified:
        from sceau.errors import VerificationError

        if not found or not reasons:
            raise VerificationError(f"no {what} found for {target.digest}")
        raise VerificationError(f"no {what} verify for {target.digest}: {reasons[0]}")
    if args.output == "json":
        print(json.dumps(verified, indent=2))
    else:
        for v in verified:
            print(f"OK: {v['layout']} {v['type']} for {target.ref.name}@{target.digest} "
                  f"signed by {v['identity'] or 'the given key'}"
                  + (f" ({v['issuer']})" if v["issuer"] else ""))  # fmt: skip
    return 0


def _check_simple_signing(payload: bytes, target: Target) -> tuple[str, dict[str, str]]:
    from sceau.errors import VerificationError

    try:
        doc = json.loads(payload)
        critical = doc["critical"]
        digest = critical["image"]["docker-manifest-digest"]
        reference = critical["identity"]["docker-reference"]
        kind = critical["type"]
    except (ValueError, KeyError, TypeError):
        raise VerificationError("signed payload is not a cosign simple-signing document") from None
    if digest != target.digest:
        raise VerificationError(f"signature is for {digest}, not {target.digest}")
    if reference != target.ref.name:
        raise VerificationError(f"signature is for repository {reference}, not {target.ref.name}")
    optional = doc.get("optional") or {}
    return str(kind), {str(k): str(v) for k, v in optional.items()} if isinstance(
        optional, dict
    ) else {}


def _check_subject_name(statement: dict[str, Any], target: Target) -> dict[str, str]:
    from sceau.errors import VerificationError

    hex_digest = target.digest.split(":", 1)[1]
    for subject in statement.get("subject") or []:
        if isinstance(subject, dict) and (subject.get("digest") or {}).get("sha256") == hex_digest:
            name = subject.get("name")
            if name and name != target.ref.name:
                raise VerificationError(
                    f"signature is for repository {name}, not {target.ref.name}"
                )
            annotations = subject.get("annotations") or {}
            return {str(k): str(v) for k, v in annotations.items()}
    raise VerificationError(f"statement has no subject {target.digest}")


# -- listing --------------------------------------------------------------------------------


def _tree(registry: Any, target: Target) -> int:
    from sceau.client.oci.layouts import legacy_signatures

    repo = target.ref.repository
    print(f"{target.ref.name}@{target.digest}")
    referrers = registry.referrers(repo, target.digest)
    print(f"└── referrers ({len(referrers)})")
    for d in referrers:
        extra = d.annotations.get("dev.sigstore.bundle.predicateType", "")
        print(f"    └── {d.artifact_type or d.media_type} {d.digest} {extra}".rstrip())
    for suffix in ("sig", "att"):
        sigs = legacy_signatures(registry, repo, target.digest, suffix)
        if sigs:
            print(f"└── .{suffix} ({len(sigs)})")
            for s in sigs:
                print(f"    └── {s.media_type}")
    return 0


def _download(args: argparse.Namespace, registry: Any, target: Target) -> int:
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for i, (layout, bundle, _) in enumerate(collect(registry, target)):
        if not bundle:
            continue
        path = out / f"{target.digest.replace(':', '-')}.{layout}.{i}.sigstore.json"
        path.write_bytes(bundle)
        print(path)
        written += 1
    if not written:
        from sceau.errors import NotFound

        raise NotFound(f"no bundles attached to {target.digest}")
    return 0
