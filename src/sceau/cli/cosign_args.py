"""cosign's flags on sceau's commands: detached signatures and certificates, legacy cosign
bundles, ``--insecure-ignore-tlog``, ``--new-bundle-format`` and ``--type`` filters.

The commands call in here through small hooks (``add_*_arguments`` in their
``add_arguments``, a branch in ``run``); the logic lives in :mod:`sceau.client.cosign`.
``docs/cosign.md`` maps each cosign command to its sceau spelling.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sceau.client.bundle import Bundle


def _add(group: Any, parser: argparse.ArgumentParser, *flags: str, **kwargs: Any) -> None:
    """Add an option unless the command already has it (another hook may share a flag)."""
    if not any(f in parser._option_string_actions for f in flags):
        group.add_argument(*flags, **kwargs)


# -- sign ---------------------------------------------------------------------------------


def add_detached_sign_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("cosign-style outputs (besides the bundle)")
    _add(g, parser, "--output-signature", metavar="F", help="also write the base64 signature")
    _add(g, parser, "--output-certificate", metavar="F", help="also write the PEM certificate")
    _add(
        g,
        parser,
        "--new-bundle-format",
        action="store_true",
        help="accepted for cosign compatibility: sceau always writes the Sigstore bundle format",
    )


def check_detached_sign_args(args: argparse.Namespace) -> None:
    from sceau.errors import InputError

    outputs = getattr(args, "output_signature", None) or getattr(args, "output_certificate", None)
    if outputs and len(getattr(args, "files", [])) != 1:
        raise InputError("--output-signature/--output-certificate take one FILE")
    if getattr(args, "output_certificate", None) and (
        getattr(args, "key", None) or getattr(args, "key_ref", None)
    ):
        raise InputError("--output-certificate needs keyless signing: a key has no certificate")


def write_detached(args: argparse.Namespace, bundle: Bundle) -> None:
    """Write the signature and certificate of a message-signature bundle as cosign does."""
    import base64

    from sceau.durable import write_atomic
    from sceau.errors import InputError

    sig_out = getattr(args, "output_signature", None)
    cert_out = getattr(args, "output_certificate", None)
    try:
        if sig_out:
            write_atomic(sig_out, base64.b64encode(bundle.signature), 0o644)
        if cert_out and bundle.certificate is not None:
            b64 = base64.b64encode(bundle.certificate).decode()
            lines = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
            pem = f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n"
            write_atomic(cert_out, pem.encode(), 0o644)
    except OSError as e:
        raise InputError(f"cannot write detached output: {e.strerror}") from None


# -- verify -------------------------------------------------------------------------------


def add_detached_verify_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group(
        "cosign-style material (instead of, or checked against, a Sigstore bundle)"
    )
    _add(g, parser, "--signature", metavar="F", help="the base64 signature (cosign sign-blob)")
    _add(g, parser, "--certificate", metavar="F", help="the signing certificate (PEM)")
    _add(
        g,
        parser,
        "--certificate-chain",
        metavar="F",
        help="its issuers (PEM); must be its path to the trusted root, which alone is trusted",
    )
    _add(
        g,
        parser,
        "--rekor-url",
        metavar="URL",
        help="without a bundle, look the entry up in this Rekor v1 log by the artifact's hash",
    )
    _add(
        g,
        parser,
        "--insecure-ignore-tlog",
        action="store_true",
        help="no log entry: verify at the current time, without transparency (as cosign)",
    )
    _add(
        g,
        parser,
        "--insecure-ignore-sct",
        action="store_true",
        help="with --certificate: do not check its embedded SCT (as cosign)",
    )
    _add(
        g,
        parser,
        "--new-bundle-format",
        action="store_true",
        help="accepted for cosign compatibility (a Sigstore bundle is read as such anyway)",
    )


def _bundle_doc(path: str | None) -> object:
    """The bundle file as JSON, or None if there is no such file or it is not JSON (the
    Sigstore reader then gives its own precise error)."""
    if path is None:
        return None
    import json
    from pathlib import Path

    try:
        return json.loads(Path(path).read_bytes())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def wants_cosign_verify(args: argparse.Namespace) -> bool:
    """Whether ``sceau verify`` should take the cosign path: detached material is given,
    or the bundle is a legacy cosign bundle."""
    from sceau.client.cosign.material import looks_like_cosign_bundle

    names = (
        "signature",
        "certificate",
        "certificate_chain",
        "insecure_ignore_tlog",
        "insecure_ignore_sct",
    )
    if any(getattr(args, n, None) for n in names):
        return True
    if len(args.artifacts) != 1:
        return False  # several files: Sigstore bundles beside each
    name = _artifact_name(args)
    bundle = getattr(args, "bundle", None) or (
        None if name.startswith("sha256:") else name + ".sigstore.json"
    )
    return looks_like_cosign_bundle(_bundle_doc(bundle))


def _artifact_name(args: argparse.Namespace) -> str:
    """The one FILE_OR_DIGEST cosign material is verified against."""
    name: str = args.artifacts[0]
    return name


def _agree(given: bytes | None, found: bytes | None, what: str) -> bytes | None:
    from sceau.client.errors import BundleError

    if given is not None and found is not None and given != found:
        raise BundleError(f"the --{what} file differs from the bundle's {what}")
    return given if given is not None else found


def run_cosign_verify(
    args: argparse.Namespace, policy: Any, trusted_root: Any, artifact: Any
) -> int:
    """``sceau verify`` on cosign material; the caller resolves the policy, the trusted root
    and the artifact (a path or a digest) from its own options."""
    from pathlib import Path

    from sceau.client.bundle import parse_bundle
    from sceau.client.cosign import material as m
    from sceau.client.cosign.detached import verify_detached
    from sceau.client.errors import BundleError
    from sceau.client.hashing import Digest, hash_file
    from sceau.client.verify import Verifier

    digest = artifact if isinstance(artifact, Digest) else hash_file(Path(artifact))
    signature = m.read_signature(args.signature) if getattr(args, "signature", None) else None
    certificate = (
        m.read_certificate(args.certificate) if getattr(args, "certificate", None) else None
    )
    chain = m.read_chain(args.certificate_chain) if getattr(args, "certificate_chain", None) else []
    ignore_tlog = bool(getattr(args, "insecure_ignore_tlog", False))
    entry = None
    if getattr(args, "bundle", None) is None and signature is None:
        if isinstance(artifact, Digest):
            raise BundleError("no signature: give --signature F or --bundle B")
        args.bundle = _artifact_name(args) + ".sigstore.json"  # the legacy bundle beside it
    if args.bundle is not None:
        where = f"bundle {args.bundle}"
        doc = m.load_json(m.read_path(args.bundle), where)
        if not m.looks_like_cosign_bundle(doc):
            # A Sigstore bundle: verified as such; detached files must be what it holds.
            if getattr(args, "insecure_ignore_sct", False):
                raise BundleError("--insecure-ignore-sct applies to detached or legacy material")
            bundle = parse_bundle(doc)
            _agree(signature, bundle.signature, "signature")
            _agree(certificate, bundle.certificate, "certificate")
            verified = Verifier(trusted_root).verify_artifact(bundle, digest, policy)
            _ok(args, verified.identity, verified.issuer)
            return 0
        assert isinstance(doc, dict)
        legacy = m.parse_legacy_bundle(doc, where)
        signature = _agree(signature, legacy.signature, "signature")
        certificate = _agree(certificate, legacy.certificate, "certificate")
        if legacy.public_key is not None:
            _same_key(legacy.public_key, policy)
        entry = legacy.rekor.tlog_entry()
    if signature is None:
        raise BundleError("no signature: give --signature F or a bundle that holds one")
    if entry is None and not ignore_tlog and getattr(args, "rekor_url", None):
        entry = _look_up(args.rekor_url, digest, signature, certificate, policy)
    result = verify_detached(
        trusted_root,
        digest,
        signature,
        policy,
        certificate=certificate,
        chain=chain,
        entry=entry,
        ignore_tlog=ignore_tlog and entry is None,
        ignore_sct=bool(getattr(args, "insecure_ignore_sct", False)),
    )
    _ok(args, result.identity, result.issuer)
    if result.log_index is None:
        print(
            "warning: no transparency log entry was checked (--insecure-ignore-tlog)",
            file=sys.stderr,
        )
    return 0


def _same_key(spki: bytes, policy: Any) -> None:
    from sceau.client.errors import PolicyError
    from sceau.client.policy import PublicKey
    from sceau.keys import spki_der

    if not isinstance(policy, PublicKey):
        raise PolicyError("the bundle is signed with a key: verify it with --key")
    if spki_der(policy.key) != spki:
        raise PolicyError("the bundle's public key is not the --key given")


def _look_up(
    url: str, digest: Any, signature: bytes, certificate: bytes | None, policy: Any
) -> Any:
    from cryptography.x509 import load_der_x509_certificate

    from sceau.client.cosign.lookup import find_entry
    from sceau.client.entries import Material
    from sceau.client.policy import PublicKey

    if certificate is not None:
        cert = load_der_x509_certificate(certificate)
        material = Material(cert, cert.public_key(), certificate)
    elif isinstance(policy, PublicKey):
        material = Material(None, policy.key)
    else:
        return None  # verify_detached says what is missing
    return find_entry(url, digest, signature, material)


def _ok(args: argparse.Namespace, identity: str | None, issuer: str | None) -> None:
    who = identity or "the given key"
    suffix = f" ({issuer})" if issuer else ""
    print(f"OK: {_artifact_name(args)} signed by {who}{suffix}", file=sys.stdout)


# -- attestations -------------------------------------------------------------------------


def add_predicate_type_filter(parser: argparse.ArgumentParser) -> None:
    from sceau.client.cosign.predicates import PREDICATE_TYPES

    _add(
        parser,
        parser,
        "--type",
        metavar="T",
        help="require this predicate type: a URI or one of " + ", ".join(PREDICATE_TYPES),
    )


def check_predicate_type(args: argparse.Namespace, statement: dict[str, Any]) -> None:
    from sceau.client.cosign.predicates import predicate_type
    from sceau.client.errors import PolicyError

    wanted = getattr(args, "type", None)
    if not wanted:
        return
    uri = predicate_type(wanted)
    found = statement.get("predicateType")
    if found != uri:
        raise PolicyError(f"attestation predicate type is {found!r}, not {uri!r}")
