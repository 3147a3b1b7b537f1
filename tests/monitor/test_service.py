"""``--webhook`` POSTs every match as it prints it; ``--follow`` keeps following and reports
a signature made while it runs."""

from __future__ import annotations

import json
import selectors
import subprocess
import time
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.monitor.conftest import SCEAU, WATCHED, Instance, monitor, write_watch
from tests.serving import serve_app

pytestmark = [pytest.mark.interop, pytest.mark.server, pytest.mark.slow]


def _receiver(received: list[dict], status: int = 204) -> Starlette:
    async def hook(request: Request) -> Response:
        received.append(json.loads(await request.body()))
        return Response(status_code=status)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


def test_webhook_gets_each_match(instance: Instance, tmp_path: Path) -> None:
    artifact = tmp_path / "a.txt"
    artifact.write_text("for the webhook\n")
    instance.sign(WATCHED, 2, artifact)
    received: list[dict] = []
    watch = write_watch(tmp_path / "w.toml", f'identities = ["{WATCHED}"]\n')
    with serve_app(_receiver(received)) as url:
        run = monitor(
            instance.trusted_root, watch, tmp_path / "s", "--from-index", "0",
            "--webhook", f"{url}/hook",
        )  # fmt: skip
    assert run.code == 1, run.stderr
    assert received == run.matches
    assert {m["log_type"] for m in received} == {"rekor-v2", "ct"}


def test_failing_webhook_is_an_other_error(instance: Instance, tmp_path: Path) -> None:
    received: list[dict] = []
    watch = write_watch(tmp_path / "w.toml", "any_entry = true\n")
    with serve_app(_receiver(received, status=500)) as url:
        run = monitor(
            instance.trusted_root, watch, tmp_path / "s", "--from-index", "0", "--log", "rekor-v1",
            "--webhook", f"{url}/hook",
        )  # fmt: skip
    assert run.code == 3
    assert f"webhook {url}/hook: HTTP 500" in run.stderr
    assert len(received) == 1  # it stopped at the first failure
    # The log's state did not move: the next run delivers the matches again.
    assert not list((tmp_path / "s").glob("rekor-v1-*.json"))


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The next stdout line of ``proc``, or fail after ``timeout`` seconds."""
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sel.select(timeout=max(0.0, deadline - time.monotonic())):
            return proc.stdout.readline()
    pytest.fail(f"no match reported within {timeout} s")


def test_follow_reports_a_new_signature(instance: Instance, tmp_path: Path) -> None:
    watch = write_watch(tmp_path / "w.toml", f'identities = ["{WATCHED}"]\n')
    state = tmp_path / "state"
    argv = [*SCEAU, "monitor", "--trusted-root", str(instance.trusted_root), "--watch",
            str(watch), "--state", str(state), "--follow", "--interval", "0.2",
            "--log", "rekor-v1"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Once the first pass saved its state, the monitor is following from "now".
        deadline = time.monotonic() + 60
        while not list(state.glob("rekor-v1-*.json")):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the monitor never saved its first state"
            time.sleep(0.05)
        artifact = tmp_path / "later.txt"
        artifact.write_text("signed while the monitor follows\n")
        bundle = instance.sign(WATCHED, 1, artifact)
        match = json.loads(_read_line(proc, 60))
        assert match["log_type"] == "rekor-v1"
        assert match["index"] == int(bundle["verificationMaterial"]["tlogEntries"][0]["logIndex"])
        assert proc.poll() is None  # still following
    finally:
        proc.terminate()
        proc.wait(timeout=10)
