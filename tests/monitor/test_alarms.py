"""The alarm that matters most: a log that was rolled back, forked, or whose checkpoint is
not signed by its trusted key gives exit 2 and says so on stderr; other failures give 3."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.monitor.conftest import (
    SCEAU,
    UNWATCHED,
    WATCHED,
    Instance,
    Run,
    monitor,
    write_watch,
)
from tests.serving import free_port

pytestmark = [pytest.mark.interop, pytest.mark.server, pytest.mark.slow]


def _code(run: Run, code: int) -> None:
    assert run.code == code, f"exit {run.code}\n--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}"


def _alarms(run: Run) -> dict[str, str]:
    """``ALARM:`` lines on stderr by log type."""
    out = {}
    for line in run.stderr.splitlines():
        if line.startswith("ALARM: "):
            out[line.split()[1].rstrip(":")] = line
    return out


def _sign(instance: Instance, work: Path, email: str, rekor: int, n: int) -> None:
    artifact = work / f"{email}-{rekor}-{n}.txt"
    artifact.write_text(f"{email} {rekor} {n}\n")
    instance.sign(email, rekor, artifact)


def test_rolled_back_and_forked_logs_raise_the_alarm(instance: Instance, tmp_path: Path) -> None:
    watch = write_watch(tmp_path / "watch.toml", f'identities = ["{WATCHED}"]\n')
    state = tmp_path / "state"
    instance.stop()
    instance.snapshot("before")  # Rekor v1 and v2 hold their genesis leaf, CT nothing
    instance.start()
    _sign(instance, tmp_path, WATCHED, 1, 0)
    _sign(instance, tmp_path, WATCHED, 2, 0)
    seen = monitor(instance.trusted_root, watch, state, "--from-index", "0")
    _code(seen, 1)
    assert len(seen.matches) == 4  # one per Rekor log, two certificates in CT
    saved = {p.name: p.read_bytes() for p in state.glob("*.json")}

    # Roll the log back to the older database: every log shrank.
    instance.stop()
    instance.restore("before")
    instance.start()
    rolled = monitor(instance.trusted_root, watch, state)
    _code(rolled, 2)
    assert rolled.stdout == ""
    alarms = _alarms(rolled)
    assert sorted(alarms) == ["ct", "rekor-v1", "rekor-v2"]
    assert all("ROLLED BACK" in line for line in alarms.values()), rolled.stderr
    # The state still holds the last verified trees: an alarm never moves it.
    assert {p.name: p.read_bytes() for p in state.glob("*.json")} == saved

    # The rolled-back log grows again with another history: Rekor v1 back to the same size
    # (two trees of one size), Rekor v2 and CT past it.
    _sign(instance, tmp_path, UNWATCHED, 1, 1)
    _sign(instance, tmp_path, UNWATCHED, 2, 1)
    _sign(instance, tmp_path, UNWATCHED, 2, 2)
    forked = monitor(instance.trusted_root, watch, state)
    _code(forked, 2)
    alarms = _alarms(forked)
    assert "LOG FORKED" in alarms["rekor-v1"], forked.stderr
    assert "LOG INCONSISTENT" in alarms["rekor-v2"], forked.stderr
    assert "LOG INCONSISTENT" in alarms["ct"], forked.stderr
    assert {p.name: p.read_bytes() for p in state.glob("*.json")} == saved

    # A fresh monitor has nothing to compare with: it verifies and starts from now.
    _code(monitor(instance.trusted_root, watch, tmp_path / "fresh"), 0)


def _edited_root(instance: Instance, tmp_path: Path, edit) -> Path:
    doc = json.loads(instance.trusted_root.read_text())
    edit(doc)
    path = tmp_path / "trusted_root.json"
    path.write_text(json.dumps(doc))
    return path


def test_checkpoint_not_signed_by_the_trusted_key(instance: Instance, tmp_path: Path) -> None:
    other = ed25519.Ed25519PrivateKey.generate().public_key()
    spki = other.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)

    def swap_v2_key(doc: dict) -> None:
        for log in doc["tlogs"]:
            if log["publicKey"]["keyDetails"] == "PKIX_ED25519":
                log["publicKey"]["rawBytes"] = base64.b64encode(spki).decode()

    root = _edited_root(instance, tmp_path, swap_v2_key)
    watch = write_watch(tmp_path / "watch.toml", "any_entry = true\n")
    run = monitor(root, watch, tmp_path / "state")
    _code(run, 2)
    alarms = _alarms(run)
    assert list(alarms) == ["rekor-v2"]
    assert "does not verify with the log's trusted key" in alarms["rekor-v2"]
    # As a service, the alarm stops the monitor with the same status.
    follow = subprocess.run(
        [*SCEAU, "monitor", "--trusted-root", str(root), "--watch", str(watch), "--state",
         str(tmp_path / "follow"), "--follow", "--interval", "0.1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert follow.returncode == 2, follow.stderr
    assert "does not verify with the log's trusted key" in follow.stderr


def test_unreachable_log_is_an_other_error(instance: Instance, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"

    def move_ct(doc: dict) -> None:
        for log in doc["ctlogs"]:
            log["baseUrl"] = dead

    root = _edited_root(instance, tmp_path, move_ct)
    watch = write_watch(tmp_path / "watch.toml", f'identities = ["{WATCHED}"]\n')
    run = monitor(root, watch, tmp_path / "state", "--log", "ct")
    _code(run, 3)
    assert run.stderr.startswith(f"error: ct {dead}: ")
    assert run.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('identities = ["a@b.c"]\nidentitees = []\n', "unknown key(s) identitees"),
        ('identity_regexps = ["("]\n', "bad regexp '('"),
        ('identities = "a@b.c"\n', "identities must be a list of non-empty strings"),
        ("", "watches nothing"),
        ('key_fingerprints = ["abc"]\n', "is not sha256:<64 hex>"),
        ("identities = [\n", "is not valid TOML"),
    ],
)
def test_bad_watch_file_is_exit_3(
    instance: Instance, tmp_path: Path, text: str, message: str
) -> None:
    watch = write_watch(tmp_path / "watch.toml", text)
    run = monitor(instance.trusted_root, watch, tmp_path / "state")
    _code(run, 3)
    assert message in run.stderr
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").glob("*.json"))


def test_state_directory_is_locked(instance: Instance, tmp_path: Path) -> None:
    import fcntl
    import os

    state = tmp_path / "state"
    state.mkdir()
    fd = os.open(state / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        watch = write_watch(tmp_path / "watch.toml", "any_entry = true\n")
        run = monitor(instance.trusted_root, watch, state)
        _code(run, 3)
        assert "another monitor is using the state directory" in run.stderr
    finally:
        os.close(fd)
    shutil.rmtree(state)
