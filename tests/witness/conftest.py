"""One served sceau instance whose Rekor v2 log is witnessed by two real witnesses (HTTP
servers on free ports), a third that is down and a fourth that hangs, with a quorum of two."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.instance import stop, wait_healthy
from tests.serving import free_port
from tests.witness.helpers import RunningWitness, make_witness, running_witness

SCEAU = [sys.executable, "-m", "sceau"]


@dataclass(frozen=True)
class WitnessedInstance:
    dir: Path
    url: str
    log_vkey: str
    witnesses: tuple[RunningWitness, ...]
    down: tuple[str, str]  # (url, vkey) of a witness nobody runs
    hung: tuple[str, str]  # (url, vkey) of one that takes connections and never answers

    @property
    def trusted_root(self) -> Path:
        return self.dir / "trust" / "trusted_root.json"

    @property
    def trust_config(self) -> Path:
        return self.dir / "trust" / "trust_config.json"


def sceau(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SCEAU, *args], capture_output=True, text=True, timeout=120, **kw)


@pytest.fixture(scope="module")
def witnessed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WitnessedInstance]:
    base = tmp_path_factory.mktemp("witnessed")
    url = f"http://127.0.0.1:{free_port()}"
    directory = base / "sceau"
    init = sceau("init", "--dir", str(directory), "--url", url)
    assert init.returncode == 0, init.stderr
    policy = sceau("witness", "policy", "--instance-dir", str(directory))
    assert policy.returncode == 0, policy.stderr
    log_vkey = policy.stdout.split()[1]
    down_vkey = make_witness(base / "w-down", "witness.example/down", [log_vkey])
    down_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    hung_vkey = make_witness(base / "w-hung", "witness.example/hung", [log_vkey])
    with (
        socket.socket() as hole,
        running_witness(base / "w1", "witness.example/w1", [log_vkey]) as w1,
        running_witness(base / "w2", "witness.example/w2", [log_vkey]) as w2,
    ):
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)  # the kernel completes connections; nobody ever reads them
        hung_url = f"http://127.0.0.1:{hole.getsockname()[1]}"
        config = directory / "sceau.toml"
        extra = "\n[witnesses]\nquorum = 2\nwait = 10\n"
        witnesses = [(w1.url, w1.vkey), (w2.url, w2.vkey), (down_url, down_vkey)]
        for u, v in [*witnesses, (hung_url, hung_vkey)]:
            extra += f'\n[[witnesses.witness]]\nurl = "{u}"\nvkey = "{v}"\n'
        config.write_text(config.read_text() + extra)
        log = base / "serve.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*SCEAU, "serve", "--dir", str(directory), "--log-level", "warning"],
                stdout=out, stderr=subprocess.STDOUT, cwd=base,
            )  # fmt: skip
        try:
            wait_healthy(url, proc, log)
            yield WitnessedInstance(
                directory, url, log_vkey, (w1, w2), (down_url, down_vkey), (hung_url, hung_vkey)
            )
        finally:
            stop(proc)


@pytest.fixture(scope="module")
def clients(witnessed: WitnessedInstance, tmp_path_factory: pytest.TempPathFactory):
    """The interop suite's real clients (sigstore-python, node), pointed at this instance."""
    from tests.instance import client_env
    from tests.interop.conftest import Clients

    home = tmp_path_factory.mktemp("client-home")
    work = tmp_path_factory.mktemp("client-work")
    return Clients(witnessed, client_env(home), work)  # type: ignore[arg-type]
