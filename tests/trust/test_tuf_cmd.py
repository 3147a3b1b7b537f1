"""``sceau tuf refresh`` on an instance directory."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from sceau.cli.main import main
from sceau.trust import TufKeys, TufRepository

TARGETS = {"trusted_root.json": b"{}\n", "signing_config.v0.2.json": b"{}\n"}


def _instance(tmp_path: Path, age: dt.timedelta) -> Path:
    """An instance dir whose repository was created ``age`` ago."""
    keys = TufKeys.generate()
    keys.save(tmp_path / "keys")
    created = dt.datetime.now(dt.UTC) - age
    TufRepository(tmp_path / "tuf", keys, clock=lambda: created).create(TARGETS)
    return tmp_path


def test_refresh_fresh_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _instance(tmp_path, dt.timedelta(0))
    assert main(["tuf", "refresh", "--dir", str(d)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("nothing to re-sign\n")
    assert "next expiry: timestamp at " in out


def test_refresh_resigns_what_is_due(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _instance(tmp_path, dt.timedelta(days=4))
    assert main(["tuf", "refresh", "--dir", str(d)]) == 0
    assert capsys.readouterr().out.startswith("re-signed snapshot (v2), timestamp (v2)\n")
    keys = TufKeys.load(d / "keys")
    assert TufRepository(d / "tuf", keys).versions()["timestamp"] == 2
    assert main(["tuf", "refresh", "--dir", str(d)]) == 0
    assert capsys.readouterr().out.startswith("nothing to re-sign")


def test_refresh_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tuf", "refresh", "--dir", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err.startswith("error: no TUF repository in ")
    d = _instance(tmp_path, dt.timedelta(days=4))
    (d / "keys" / "tuf-timestamp.pem").unlink()
    assert main(["tuf", "refresh", "--dir", str(d)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read key ") and err.count("\n") == 1


def test_entry_point(tmp_path: Path) -> None:
    d = _instance(tmp_path, dt.timedelta(hours=13))
    result = subprocess.run(
        [sys.executable, "-m", "sceau", "tuf", "refresh", "--dir", str(d)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("re-signed timestamp (v2)")
