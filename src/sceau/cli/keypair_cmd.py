"""``sceau generate-key-pair``: write ``cosign.key`` and ``cosign.pub`` as cosign does.

The private key is encrypted in cosign's format (cosign reads it; ``sceau sign --key
cosign.key`` too); the password comes from ``$COSIGN_PASSWORD`` or ``$SCEAU_PASSWORD``
(empty for none), else from a prompt on a terminal.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output-key-prefix",
        metavar="P",
        default="cosign",
        help="write P.key and P.pub (default: cosign)",
    )


def run(args: argparse.Namespace) -> int:
    from sceau.client.cosign.keys import generate_key_pair, password

    key, pub = generate_key_pair(args.output_key_prefix, password(confirm=True))
    print(f"Private key written to {key}")
    print(f"Public key written to {pub}")
    return 0
