"""A throwaway PostgreSQL cluster for tests: ``initdb`` in a temp dir, TCP on localhost.

The cluster is real (no mock database): fsync and ``synchronous_commit`` stay at their
defaults, so what the driver calls durable is durable. PostgreSQL refuses to run as root,
so under root (CI) the cluster belongs to the ``postgres`` system user that Debian's
package creates. Use the session fixture ``pg_dsn`` (import it into a ``conftest.py`` or
a test module) and ``fresh_schema(dsn)`` to isolate each test.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving import free_port


def pg_bin_dir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl`` (newest Debian version first)."""
    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(cand) / "initdb").exists() and (Path(cand) / "pg_ctl").exists():
            return Path(cand)
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    raise FileNotFoundError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin "
        "or on PATH: install them with `apt-get install -y postgresql` (.ci/run does)"
    )


class Cluster:
    """One running cluster; ``dsn`` connects as the superuser ``postgres`` over TCP."""

    def __init__(self, base: Path | None = None, **settings: str) -> None:
        self.bindir = pg_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="sceau-pg-", dir=base))
        self.data = self.root / "data"
        self.logfile = self.root / "server.log"
        self.port = free_port()
        self.settings = {"max_connections": "200", **settings}
        self._user: str | None = None
        if os.geteuid() == 0:
            self._user = "postgres" if _has_user("postgres") else "nobody"
            pw = pwd.getpwnam(self._user)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
            user=self._user,
            cwd=self.root,
            env=dict(os.environ, LC_ALL="C.UTF-8"),
        )

    def start(self) -> str:
        try:
            self._run(
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-instructions",
            )
        except subprocess.CalledProcessError as e:
            raise RuntimeError(f"initdb failed: {e.stderr.strip()}") from e
        self._pg_ctl_start()
        return self.dsn

    def _pg_ctl_start(self) -> None:
        opts = " ".join(
            ["-c listen_addresses=127.0.0.1", f"-p {self.port}", "-c unix_socket_directories="]
            + [f"-c {k}={v}" for k, v in self.settings.items()]
        )
        try:
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.logfile),
                "-o",
                opts,
                "-w",
                "-t",
                "60",
                "start",
            )
        except subprocess.CalledProcessError as e:
            log = self.logfile.read_text() if self.logfile.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {e.stderr.strip()}\n{log[-2000:]}") from e
        _wait_ready(self.dsn)

    def start_replica(self) -> Cluster:
        """A hot standby of this (running) cluster, streaming from it; started."""
        standby = Cluster.__new__(Cluster)
        standby.__dict__.update(self.__dict__)
        standby.root = Path(tempfile.mkdtemp(prefix="sceau-pg-replica-"))
        standby.data = standby.root / "data"
        standby.logfile = standby.root / "server.log"
        standby.port = free_port()
        standby.dsn = f"postgresql://postgres@127.0.0.1:{standby.port}/postgres"
        if self._user:
            pw = pwd.getpwnam(self._user)
            os.chown(standby.root, pw.pw_uid, pw.pw_gid)
        standby._run(
            str(self.bindir / "pg_basebackup"), "-D", str(standby.data), "-h", "127.0.0.1",
            "-p", str(self.port), "-U", "postgres", "-R", "-X", "stream", "--checkpoint=fast",
        )  # fmt: skip
        standby._pg_ctl_start()
        return standby

    def stop_server(self) -> None:
        """Stop the server, keeping its data (``start_server`` brings it back)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def start_server(self) -> None:
        self._pg_ctl_start()

    def stop(self) -> None:
        if self.data.exists():
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "-w",
                "stop",
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _wait_ready(dsn: str, timeout: float = 30) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def fresh_schema(prefix: str = "t") -> str:
    """A new, empty schema name (created lazily by the driver) unique to the caller."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """DSN of a throwaway PostgreSQL cluster shared by the whole test session."""
    try:
        cluster = Cluster()
    except FileNotFoundError as e:
        pytest.fail(str(e))
    try:
        dsn = cluster.start()
        RUNNING[dsn] = cluster
        yield dsn
    finally:
        RUNNING.pop(cluster.dsn, None)
        cluster.stop()


RUNNING: dict[str, Cluster] = {}  # dsn -> the session's cluster (to make replicas of it)
