"""``sceau monitor --witness-policy``: a witnessed log's checkpoints must carry the policy's
quorum of cosignatures, or the monitor raises its alarm (exit 2) and does not advance."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.witness.conftest import WitnessedInstance, sceau

pytestmark = [pytest.mark.server]


def _policy(witnessed: WitnessedInstance, path: Path, k: int) -> Path:
    text = sceau("witness", "policy", "--instance-dir", str(witnessed.dir)).stdout
    assert "group witnesses 2 w1 w2 w3 w4" in text
    path.write_text(text.replace("group witnesses 2 ", f"group witnesses {k} "))
    return path


def _monitor(
    witnessed: WitnessedInstance, state: Path, policy: Path
) -> subprocess.CompletedProcess[str]:
    watch = state.parent / "watch.toml"
    watch.write_text('identities = ["watched@example.com"]\n')
    return sceau(
        "monitor", "--trusted-root", str(witnessed.trusted_root), "--watch", str(watch),
        "--state", str(state), "--once", "--log", "rekor-v2", "--witness-policy", str(policy),
        "--no-progress",
    )  # fmt: skip


def test_a_witnessed_checkpoint_passes_and_an_unwitnessed_one_alarms(
    witnessed: WitnessedInstance, tmp_path: Path
) -> None:
    r = sceau("sign", "--instance-dir", str(witnessed.dir), "--dev-email", "watched@example.com",
              "--rekor-version", "2", "--bundle", str(tmp_path / "b.json"),
              str(Path(__file__)))  # fmt: skip
    assert r.returncode == 0, r.stderr
    # Two live witnesses cosign: a quorum of 2 is met.
    ok = _monitor(witnessed, tmp_path / "state-ok", _policy(witnessed, tmp_path / "p2", 2))
    assert ok.returncode in (0, 1), ok.stderr
    assert list((tmp_path / "state-ok").glob("rekor-v2-*"))  # adopted
    # Three are required but only two can ever cosign (one is down, one hangs).
    bad = _monitor(witnessed, tmp_path / "state-bad", _policy(witnessed, tmp_path / "p3", 3))
    assert bad.returncode == 2, (bad.stdout, bad.stderr)
    assert "UNWITNESSED" in bad.stderr and "quorum" in bad.stderr
    assert not list((tmp_path / "state-bad").glob("rekor-v2-*"))  # nothing adopted
