"""``sceau migrate``: copy an instance's logs from SQLite to PostgreSQL."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default="./.sceau", help="instance directory (default ./.sceau)")
    parser.add_argument(
        "--to", required=True, metavar="DSN", help="PostgreSQL DSN, e.g. postgresql://host/db"
    )
    parser.add_argument("--schema", help="PostgreSQL schema for sceau's tables (default: none)")


def run(args: argparse.Namespace) -> int:
    from sceau.config import InstanceConfig
    from sceau.log.migrate import migrate_sqlite_to_postgres

    cfg = InstanceConfig.load(args.dir)
    source = cfg.path("storage", "path", "data/sceau.sqlite")
    logs = migrate_sqlite_to_postgres(source, args.to, schema=args.schema, progress=print)
    print(f"copied and verified {len(logs)} log(s) from {source}")
    print('now set [storage] driver = "postgres" and dsn (or SCEAU_STORAGE_DSN) in sceau.toml')
    return 0
