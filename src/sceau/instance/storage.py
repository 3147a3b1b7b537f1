"""Storage drivers by name (``[storage] driver``): the one place that maps a name to the
log storage and the CT chain store of an instance."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sceau.config import InstanceConfig
from sceau.errors import InputError

POSTGRES_NAMES = frozenset({"postgres", "postgresql"})


def driver_name(cfg: InstanceConfig) -> str:
    """``sqlite`` or ``postgres`` (its alias ``postgresql`` included); anything else is an
    error naming the setting."""
    driver = str(cfg.get("storage", "driver", "sqlite"))
    if driver in POSTGRES_NAMES:
        return "postgres"
    if driver == "sqlite":
        return driver
    raise InputError(f"unknown storage driver {driver!r} (sqlite or postgres)")


def is_shared(cfg: InstanceConfig) -> bool:
    """Whether several processes (or hosts) may write the storage: PostgreSQL."""
    return driver_name(cfg) == "postgres"


def _sqlite(cfg: InstanceConfig, create: bool) -> Any:
    from sceau.log.sqlite import SQLiteStorage

    return SQLiteStorage(cfg.path("storage", "path", "data/sceau.sqlite"), create=create)


def _postgres(cfg: InstanceConfig, create: bool) -> Any:
    from sceau.log.postgres import PostgresStorage

    dsn = cfg.get("storage", "dsn")
    if not dsn:
        raise InputError("[storage] driver = postgres needs dsn (or SCEAU_STORAGE_DSN)")
    schema = cfg.get("storage", "schema")
    read_dsn = cfg.get("storage", "read_dsn")
    return PostgresStorage(
        str(dsn),
        schema=str(schema) if schema else None,
        create=create,
        read_dsn=str(read_dsn) if read_dsn else None,
    )


def _sqlite_chains(cfg: InstanceConfig) -> Any:
    return cfg.dir / "data" / "ct-chains.sqlite"


def _postgres_chains(cfg: InstanceConfig) -> Any:
    from sceau.services.ct.extra import PostgresExtraStore

    schema = cfg.get("storage", "schema")
    return PostgresExtraStore(str(cfg.get("storage", "dsn")), schema=schema or None)


# name → (log storage opener, CT chain store opener). A new driver (an object store for
# the tiles, say) registers here; nothing else names drivers.
DRIVERS: dict[str, tuple[Callable[[InstanceConfig, bool], Any], Callable[[InstanceConfig], Any]]]
DRIVERS = {"sqlite": (_sqlite, _sqlite_chains), "postgres": (_postgres, _postgres_chains)}


def open_storage(cfg: InstanceConfig, *, create: bool = False) -> Any:
    """The log storage of the instance's driver."""
    return DRIVERS[driver_name(cfg)][0](cfg, create)


def ct_chain_store(cfg: InstanceConfig) -> Any:
    """Where the CT log keeps certificate chains: a SQLite file path or a PostgreSQL store."""
    return DRIVERS[driver_name(cfg)][1](cfg)
