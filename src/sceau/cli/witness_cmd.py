"""``sceau witness``: run a C2SP tlog-witness, or set one up.

``init`` makes a witness directory (Ed25519 key, ``witness.toml``) and prints its vkey;
``add-log`` lets it witness one more log (by the log's checkpoint vkey); ``vkey`` prints the
witness's vkey again; ``policy`` prints the tlog-policy verifiers of an instance need;
``serve`` (the default) serves ``POST /add-checkpoint``.
"""

from __future__ import annotations

import argparse
import sys

DEFAULT_DIR = "./.sceau-witness"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(action="serve")
    parser.add_argument("--dir", default=DEFAULT_DIR, help=f"witness directory ({DEFAULT_DIR})")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    init = sub.add_parser("init", help="create a witness: key and witness.toml")
    here = argparse.SUPPRESS  # `sceau witness --dir D init` and `… init --dir D` both work
    init.add_argument("--dir", default=here, help="witness directory")
    init.add_argument(
        "--name", required=True, help="the witness's key name, e.g. witness.example.com/w1"
    )
    init.add_argument(
        "--log", action="append", default=[], metavar="VKEY", help="a log to witness (repeatable)"
    )
    add = sub.add_parser("add-log", help="witness one more log (restart the server after)")
    add.add_argument("--dir", default=here, help="witness directory")
    add.add_argument("vkey", help="the log's checkpoint verifier key (vkey)")
    add.add_argument("--origin", help="the log's origin line (default: the vkey's name)")
    vkey = sub.add_parser("vkey", help="print the witness's vkey")
    vkey.add_argument("--dir", default=here, help="witness directory")
    pol = sub.add_parser(
        "policy", help="print a tlog-policy for an instance's Rekor v2 log and its [witnesses]"
    )
    pol.add_argument("--instance-dir", default="./.sceau", help="instance directory (./.sceau)")
    serve = sub.add_parser("serve", help="serve POST /add-checkpoint (the default action)")
    serve.add_argument("--dir", default=here, help="witness directory")
    for p, default in ((parser, True), (serve, False)):
        p.add_argument(
            "--host", default="127.0.0.1" if default else here, help="address to bind (127.0.0.1)"
        )
        p.add_argument("--port", type=int, default=8090 if default else here, help="port (8090)")
        p.add_argument("--log-level", default="info" if default else here)


def run(args: argparse.Namespace) -> int:
    if args.action == "init":
        from sceau.services.witness import init_witness

        vkey = init_witness(args.dir, args.name, args.log)
        print(vkey)
        print(f"witness created in {args.dir}; give the vkey above to the logs", file=sys.stderr)
        return 0
    if args.action == "add-log":
        from sceau.services.witness.config import add_log

        entry = add_log(args.dir, args.vkey, args.origin)
        print(f"now witnessing {entry.origin}; restart `sceau witness serve`", file=sys.stderr)
        return 0
    if args.action == "vkey":
        from sceau.services.witness.http import open_witness

        witness = open_witness(args.dir)
        print(witness.vkey)
        witness.state.close()
        return 0
    if args.action == "policy":
        from sceau.config import InstanceConfig
        from sceau.instance.trust_files import witness_policy_text

        print(witness_policy_text(InstanceConfig.load(args.instance_dir)), end="")
        return 0
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    from sceau.services.http_server import ServerLimits, serve, uvicorn_config
    from sceau.services.witness import build_witness_app

    app = build_witness_app(args.dir)
    print(f"witness serving http://{args.host}:{args.port}/add-checkpoint", file=sys.stderr)
    config = uvicorn_config(
        app, limits=ServerLimits(), host=args.host, port=args.port, log_level=args.log_level
    )
    serve(config)
    return 0
