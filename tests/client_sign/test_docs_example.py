"""The library example in docs/client.md runs, as written, against a live instance."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.client_sign.conftest import EMAIL, Instance

pytestmark = pytest.mark.server
DOC = Path(__file__).resolve().parents[2] / "docs" / "client.md"


def library_example() -> str:
    section = DOC.read_text().split("## As a library", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "docs/client.md has no python example under 'As a library'"
    return match.group(1)


def test_the_documented_library_example_runs(instance: Instance, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(library_example())
    r = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env=instance.env(SCEAU_INSTANCE_DIR=str(instance.dir), SIGSTORE_ID_TOKEN=instance.token()),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"signed by {EMAIL} at log index ")
    assert lines[1] == "refused: artifact digest does not match the bundle's message digest"
    assert (tmp_path / "release.tar.gz.sigstore.json").is_file()
