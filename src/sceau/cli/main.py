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
    "migrate": ("sceau.cli.migrate", "copy an instance's logs from SQLite to PostgreSQL"),
    "rotate": ("sceau.cli.rotate", "replace a log, TSA or CA key and republish the trust files"),
    "image": ("sceau.cli.image_cmd", "sign, attest and verify container images in registries"),
    "witness": ("sceau.cli.witness_cmd", "run a C2SP tlog-witness that cosigns log checkpoints"),
}


def _build_parser(argv: list[str]) -> tuple[argparse.ArgumentParser, Any]:
    parser = argparse.ArgumentParser(prog="sceau", description="a self-hostable Sigstore")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = argv[0] if argv and argv[0] in COMMANDS else None
    module = None
    for name, (modname, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(modname)
            module.add_arguments(p)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, module = _build_parser(argv)
    args = parser.parse_args(argv)
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
    except Exception as e:  # a bug of ours: one line by default, the traceback on request
        if os.environ.get("SCEAU_DEBUG"):
            raise
        print(
            f"error: internal error ({type(e).__name__}: {e}); set SCEAU_DEBUG=1 for the "
            "traceback and please report it",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
