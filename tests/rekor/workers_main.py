"""Run the Rekor service as two HTTP workers feeding one sequencer (for test_workers.py).

    python -m tests.rekor.workers_main DIR PORT
Writes the v1/v2 public keys as PEM into DIR so the test can verify what it gets back.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from sceau.keys import generate_signer
from sceau.log import LogEngine
from sceau.log.sqlite import SQLiteStorage
from sceau.services.rekor import RekorConfig
from sceau.services.rekor.workers import run_workers


def main() -> None:
    directory, port = Path(sys.argv[1]), int(sys.argv[2])
    v1, v2 = generate_signer("ecdsa-p256"), generate_signer("ed25519")
    for name, key in (("v1", v1), ("v2", v2)):
        (directory / f"{name}.pub").write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    config = RekorConfig(url=f"http://127.0.0.1:{port}", v1_signer=v1, v2_signer=v2)
    run_workers(
        config,
        lambda: LogEngine(SQLiteStorage(directory / "rekor.sqlite"), batch_interval=0.02),
        host="127.0.0.1",
        port=port,
        workers=2,
        socket_path=directory / "sequencer.sock",
    )


if __name__ == "__main__":
    main()
