"""``sceau check``: verify every log of an instance from storage, entry by entry.

The start-up check of ``sceau serve`` already verifies tile sizes, the tile hash tree, the
right edge against the signed checkpoint and the newest entries. This one also re-hashes
every stored entry against its leaf and looks every leaf up in the leaf index (it reads the
whole log), and exits 1 on any damage.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", default="./.sceau", help="instance directory (default ./.sceau)")


def run(args: argparse.Namespace) -> int:
    import asyncio

    from sceau.config import InstanceConfig
    from sceau.instance.app import build_app

    cfg = InstanceConfig.load(args.dir)
    _check_material(cfg)
    engine = build_app(cfg, only={"rekor", "ct"}, dev_oidc=False).state.engine
    engine.verify_entries = True

    async def check() -> dict[str, int]:
        try:
            await engine.start(create=False)
            return {name: (await lg.latest()).size for name, lg in engine.logs.items()}
        finally:
            await engine.close()

    for name, size in asyncio.run(check()).items():
        print(f"{name}: {size} entries, every tile, entry and leaf-index row verified")
    return 0


def _check_material(cfg) -> None:  # type: ignore[no-untyped-def]
    """The keys load (mode 0600, passphrase right), the certificates parse, the trust
    files and the TUF root are there: what a restored instance needs besides its logs."""
    import json

    from sceau.errors import InternalError
    from sceau.instance.material import Material, tuf_keys

    material = Material.load(cfg)
    tuf_keys(cfg)  # the TUF role keys load too, in files or in the token
    for path in (
        cfg.trust_dir / "trusted_root.json",
        cfg.trust_dir / "signing_config.v0.2.json",
        cfg.tuf_dir / "root.json",
        cfg.tuf_dir / "timestamp.json",
    ):
        try:
            json.loads(path.read_bytes())
        except (OSError, ValueError) as e:
            raise InternalError(f"{path} is missing or not JSON: {e}") from e
    print(f"keys: {len(material.signers)} loaded; certificates, trust files and TUF root present")
