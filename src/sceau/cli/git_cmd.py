"""``sceau git …`` and the ``sceau-git`` program git calls (``gpg.x509.program``).

``sceau-git`` speaks gpg's command line as git uses it — ``--status-fd=N -bsau KEY`` to
sign stdin, ``--status-fd=N --verify SIGFILE -`` to verify — and otherwise takes the same
subcommands as ``sceau git``: ``verify [REV] [--range A..B]``, ``sign``,
``credential-cache``. In gpg mode every failure ends as a status line (BADSIG / ERRSIG) and
one stderr line, never a traceback: git shows that text to the user.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import IO, Any

# -- sceau git SUBCOMMAND ---------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from sceau.cli.verify import add_policy_arguments, add_trust_arguments

    sub = parser.add_subparsers(dest="git_command", metavar="SUBCOMMAND", required=True)
    v = sub.add_parser(
        "verify",
        help="verify the signature of a commit or tag (or every commit of a range), offline",
        description="verify the gitsign-format signature of a commit or tag, offline",
    )
    v.add_argument("rev", nargs="?", default=None, metavar="REV", help="commit or tag (HEAD)")
    v.add_argument("--range", metavar="A..B", help="verify every commit of this range")
    v.add_argument("-C", dest="repo", metavar="DIR", help="the repository (default: here)")
    add_policy_arguments(v)
    add_trust_arguments(v)
    s = sub.add_parser("sign", help="sign stdin as git would (armored CMS on stdout)")
    s.add_argument("--status-fd", type=int, default=None, metavar="N")
    c = sub.add_parser(
        "credential-cache",
        help="keep signing credentials in memory so one login signs many commits",
    )
    c.add_argument("--socket", metavar="PATH", help="the socket (default: in $XDG_RUNTIME_DIR)")


def run(args: argparse.Namespace) -> int:
    if args.git_command == "verify":
        return run_verify(args)
    if args.git_command == "sign":
        return gpg_sign(args.status_fd)
    return run_cache(args)


def run_cache(args: argparse.Namespace) -> int:
    from sceau.client.git import cache

    path = Path(args.socket) if args.socket else cache.default_socket()

    def ready() -> None:
        print(f"credential cache listening on {path}", file=sys.stderr, flush=True)
        print(f"  export SCEAU_GIT_CREDENTIAL_CACHE={path}", file=sys.stderr, flush=True)

    try:
        cache.serve(path, ready)
    except KeyboardInterrupt:
        return 0
    return 0


def _trusted_root(args: argparse.Namespace, settings: Any) -> Any:
    from sceau.cli.verify import TRUST_SOURCES, trusted_root_from_args
    from sceau.client.trust import TrustedRoot

    if any(getattr(args, dest, None) for dest in TRUST_SOURCES):
        return trusted_root_from_args(args)
    return trust_from_settings(settings) or TrustedRoot.production()


def trust_from_settings(settings: Any) -> Any:
    """The trusted root the git settings name, or None (then: public good)."""
    from sceau.client.trust import TrustedRoot, load_trusted_root
    from sceau.errors import InputError

    if (root := settings.get("trustedRoot")) is not None:
        return load_trusted_root(Path(root).expanduser())
    path = settings.trust_config_path()
    if path is None:
        return None
    try:
        return TrustedRoot.from_trust_config(path.read_bytes())
    except OSError as e:
        raise InputError(f"cannot read trust config {path}: {e.strerror}") from None


def run_verify(args: argparse.Namespace) -> int:
    from sceau.cli.verify import policy_from_args
    from sceau.client.git import repo
    from sceau.client.git.config import load_settings
    from sceau.client.git.verify import verify_signature
    from sceau.client.verify import Verifier
    from sceau.errors import InputError, VerificationError

    if getattr(args, "key", None):
        raise InputError("git signatures are keyless: use --certificate-identity, not --key")
    if args.range and args.rev:
        raise InputError("give a REV or --range, not both")
    cwd = Path(args.repo) if args.repo else None
    policy = policy_from_args(args)
    verifier = Verifier(_trusted_root(args, load_settings(cwd=cwd)))

    def check(oid: str) -> tuple[str, Any]:
        obj = repo.read_object(oid, cwd)
        if obj.signature is None:
            raise VerificationError(f"{obj.kind} {oid[:12]} is not signed")
        result = verify_signature(obj.payload, obj.signature, verifier.trusted_root, policy,
                                  verifier=verifier)  # fmt: skip
        return obj.kind, result

    if not args.range:
        oid = repo.resolve(args.rev or "HEAD", cwd)
        kind, result = check(oid)
        r = result.result
        print(f"OK: {kind} {oid} signed by {r.identity} ({r.issuer}), log index {result.log_index}")
        return 0
    commits = repo.rev_list(args.range, cwd)
    if not commits:
        raise InputError(f"the range {args.range} holds no commit")
    failures = 0
    width = max(len(c) for c in commits)
    print(f"{'COMMIT':<{width}}  RESULT  SIGNER / REASON")
    for oid in commits:
        try:
            _, result = check(oid)
            r = result.result
            line = f"{oid:<{width}}  OK      {r.identity} ({r.issuer}) log index {result.log_index}"
        except (VerificationError, InputError) as e:
            failures += 1
            line = f"{oid:<{width}}  FAIL    {e.message}"
        print(line, flush=True)
    print(f"{len(commits) - failures} of {len(commits)} commit(s) verified")
    return 1 if failures else 0


# -- gpg mode: what git runs ------------------------------------------------------------


def _status_stream(fd: int | None) -> IO[str] | None:
    if fd is None or fd < 0:
        return None
    if fd == 1:
        return sys.stdout
    if fd == 2:
        return sys.stderr
    return os.fdopen(fd, "w", closefd=False)


def _say(message: str) -> None:
    print(f"sceau-git: {message}", file=sys.stderr, flush=True)


def gpg_sign(status_fd: int | None) -> int:
    from sceau.client.git.config import load_settings
    from sceau.client.git.sign import sign_object
    from sceau.client.git.status import StatusWriter
    from sceau.errors import SceauError

    status = StatusWriter(_status_stream(status_fd))
    status.emit("BEGIN_SIGNING")
    payload = sys.stdin.buffer.read()
    try:
        signed = sign_object(payload, load_settings())
    except SceauError as e:
        _say(f"error: {e.message}")
        return 1
    cached = " (cached credential)" if signed.from_cache else ""
    _say(f"signed with a certificate for {_who(signed.certificate)}, log index "
         f"{signed.log_index}{cached}")  # fmt: skip
    status.sig_created(signed.certificate)
    sys.stdout.buffer.write(signed.armored)
    sys.stdout.buffer.flush()
    return 0


def _who(cert: Any) -> str:
    from sceau.client.policy import cert_identities

    ids = cert_identities(cert)
    return ids[0] if ids else "an unknown identity"


def gpg_verify(status_fd: int | None, files: list[str]) -> int:
    """``--verify SIGFILE [DATAFILE|-]``: git's ``verify-commit``, ``verify-tag`` and
    ``log --show-signature``. Identity comes from git config when set (else only chain,
    SCT and log are checked, and we say so)."""
    from cryptography.x509 import load_der_x509_certificate

    from sceau.client import policy as p
    from sceau.client.errors import PolicyError, SignatureError
    from sceau.client.git import cms
    from sceau.client.git.config import load_settings
    from sceau.client.git.status import StatusWriter
    from sceau.client.git.verify import verify_signature
    from sceau.client.trust import TrustedRoot
    from sceau.errors import SceauError

    status = StatusWriter(_status_stream(status_fd))
    status.emit("NEWSIG")
    if len(files) != 2:
        _say("error: --verify takes SIGFILE and DATAFILE (or - for stdin)")
        status.error(None, 4)
        return 2
    cert = None
    try:
        signature = Path(files[0]).read_bytes()
        payload = sys.stdin.buffer.read() if files[1] == "-" else Path(files[1]).read_bytes()
        try:
            cert = load_der_x509_certificate(cms.parse(signature).signer_certificate)
        except (SceauError, ValueError):
            cert = None
        settings = load_settings()
        identity, issuer = (
            settings.get("certificateIdentity"),
            settings.get("certificateOidcIssuer"),
        )
        policy = p.Identity(identity, issuer) if identity and issuer else None
        root = trust_from_settings(settings) or TrustedRoot.production()
        result = verify_signature(payload, signature, root, policy)
    except OSError as e:
        _say(f"error: cannot read {e.filename}: {e.strerror}")
        status.error(cert, 9)
        return 1
    except (SignatureError, PolicyError) as e:
        _say(f"BAD signature: {e.message}")
        if cert is not None:
            status.bad(cert, _who(cert))
        else:
            status.error(None, 9)
        return 1
    except SceauError as e:
        _say(f"cannot verify the signature: {e.message}")
        status.error(cert, 9)
        return 1
    r = result.result
    who = f"{r.identity} ({r.issuer})"
    _say(f"Good signature from {who}")
    _say(f"transparency log index {result.log_index}, signed at {result.signature.signing_time}")
    if policy is None:
        _say("identity not checked (set sceau.certificateIdentity and "
             "sceau.certificateOidcIssuer, or use `sceau git verify`)")  # fmt: skip
    status.good(r.certificate, who, result.signature.signing_time)
    return 0


def gpg_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sceau-git", add_help=False)
    parser.add_argument("--status-fd", type=int, default=None)
    parser.add_argument("-b", "--detach-sign", action="store_true")
    parser.add_argument("-s", "--sign", action="store_true")
    parser.add_argument("-a", "--armor", action="store_true")
    parser.add_argument("-u", "--local-user", default=None)
    parser.add_argument("--verify", action="store_true")
    parser.add_argument("--keyid-format", default=None)
    parser.add_argument("--include-certs", default=None)
    parser.add_argument("files", nargs="*")
    try:
        args = parser.parse_args(argv)
    except SystemExit:
        return 2
    if args.verify:
        return gpg_verify(args.status_fd, args.files)
    if args.sign or args.detach_sign:
        return gpg_sign(args.status_fd)
    _say("error: expected --sign (-bsau KEY) or --verify SIGFILE -")
    return 2


def main(argv: list[str] | None = None) -> int:
    """The ``sceau-git`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # git always starts with an option (--status-fd=N); subcommands start with a word.
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        try:
            return gpg_main(argv)
        except KeyboardInterrupt:
            return 130
        except Exception as e:  # a bug of ours: git must still get one line, not a traceback
            if os.environ.get("SCEAU_DEBUG"):
                raise
            _say(f"error: internal error ({type(e).__name__}: {e}); set SCEAU_DEBUG=1")
            return 2
    from sceau.cli.main import main as sceau_main

    return sceau_main(["git", *argv])


if __name__ == "__main__":
    sys.exit(main())
