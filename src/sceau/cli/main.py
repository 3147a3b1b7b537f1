"""The ``sceau`` command: a thin dispatcher with lazy imports so start-up stays fast.

Each subcommand lives in its own module under :mod:`sceau.cli` and exposes
``add_arguments(parser)`` and ``run(args) -> int``. Only the chosen one is imported.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any

# name -> (module, one-line help). The names are the CLI contract (docs/architecture.md,
# "Command line and instance directory").
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("sceau.cli.init_cmd", "create an instance: keys, certificates, trust files, TUF repo"),
    "serve": ("sceau.cli.serve_cmd", "run the instance's services over HTTP"),
    "dev-token": ("sceau.cli.dev_token", "print a JWT from the instance's dev OIDC issuer"),
    "sign": ("sceau.cli.sign", "sign files (keyless or with a key) into Sigstore bundles"),
    "attest": ("sceau.cli.attest", "sign an in-toto attestation about a file"),
    "verify": ("sceau.cli.verify", "verify a file against a Sigstore bundle"),
    "verify-attestation": ("sceau.cli.verify_attestation", "verify an attestation bundle"),
    "bundle": ("sceau.cli.bundle", "inspect Sigstore bundles"),
    "conformance": ("sceau.cli.conformance", "the Sigstore conformance client protocol"),
    "tuf": ("sceau.cli.tuf_cmd", "maintain the instance's TUF repository"),
    "check": ("sceau.cli.check", "verify every log of an instance, entry by entry"),
    "backup": ("sceau.cli.backup_cmd", "copy a running instance to a new directory, consistently"),
    "restore": ("sceau.cli.restore_cmd", "put a backup in place and check it"),
    "migrate": ("sceau.cli.migrate", "copy an instance's logs from SQLite to PostgreSQL"),
    "rotate": ("sceau.cli.rotate", "replace a log, TSA or CA key and republish the trust files"),
    "image": ("sceau.cli.image_cmd", "sign, attest and verify container images in registries"),
    "generate-key-pair": (
        "sceau.cli.keypair_cmd",
        "write cosign.key and cosign.pub (cosign's format)",
    ),
    "log": ("sceau.cli.log_cmd", "query a Rekor log like rekor-cli, checking every answer"),
    "monitor": ("sceau.cli.monitor_cmd", "follow logs, check they only grow, report signers"),
    "git": ("sceau.cli.git_cmd", "sign and verify git commits and tags (gitsign-compatible)"),
    "version": ("sceau.cli.version_cmd", "print the versions of sceau and what it is built on"),
    "witness": ("sceau.cli.witness_cmd", "run a C2SP tlog-witness that cosigns log checkpoints"),
}


def _build_parser(
    argv: list[str],
) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser | None, Any]:
    """The top-level parser, the chosen subcommand's parser and its module (only that
    one is imported)."""
    from sceau import __version__

    parser = argparse.ArgumentParser(prog="sceau", description="a self-hostable Sigstore")
    parser.add_argument("--version", action="version", version=f"sceau {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = argv[0] if argv and argv[0] in COMMANDS else None
    module, chosen_parser = None, None
    for name, (modname, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module, chosen_parser = importlib.import_module(modname), p
            module.add_arguments(p)
    return parser, chosen_parser, module


def _did_you_mean(word: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _deepest_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Any:
    """The parser of the innermost subcommand chosen (``sceau bundle inspect`` → inspect's),
    whose usage and options an unknown flag should be reported against."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            name = getattr(args, action.dest, None)
            if name in action.choices:
                return _deepest_parser(action.choices[name], args)
    return parser


def _refuse_unknown(parser: argparse.ArgumentParser, extras: list[str]) -> None:
    """Report unknown arguments with the subcommand's usage and a suggestion (argparse
    alone reports them against the top-level usage)."""
    options = [o for a in parser._actions for o in a.option_strings]
    unknown = extras[0]
    hint = _did_you_mean(unknown.split("=")[0], options) if unknown.startswith("-") else ""
    parser.error(f"unrecognized arguments: {' '.join(extras)}{hint}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, chosen_parser, module = _build_parser(argv)
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        parser.error(
            f"unknown command {argv[0]!r}{_did_you_mean(argv[0], list(COMMANDS))}; "
            "`sceau --help` lists them"
        )
    args, extras = parser.parse_known_args(argv)
    if extras and chosen_parser is not None:
        _refuse_unknown(_deepest_parser(chosen_parser, args), extras)
    elif extras:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    if module is None:
        parser.print_help()
        return 2
    from sceau.errors import SceauError

    try:
        return int(module.run(args) or 0)
    except SceauError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except Exception as e:  # a bug of ours: one line by default, the traceback on request
        if os.environ.get("SCEAU_DEBUG"):
            raise
        print(
            f"error: internal error ({type(e).__name__}: {e}); set SCEAU_DEBUG=1 for the "
            "traceback and please report it",
            file=sys.stderr,
        )
        return 2


def _quiet_broken_pipe() -> int:
    """The reader went away (``sceau log search … | head``): stop without a word, as a
    program killed by SIGPIPE would, and keep Python from complaining at exit when it
    flushes stdout."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + 13


if __name__ == "__main__":
    sys.exit(main())
