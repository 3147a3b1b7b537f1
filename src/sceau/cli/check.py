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
