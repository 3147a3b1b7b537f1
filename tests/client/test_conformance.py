"""Every ``vectors/bundle-verify`` case through ``sceau conformance verify-bundle``.

A case whose name ends in ``_fail`` must exit 1 with one ``error:`` line; every other case
must exit 0. Message-signature cases run twice: artifact as a file, and as ``sha256:<hex>``.
Most run in-process (``sceau.cli.main.main``); a handful run as real subprocesses.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from sceau.cli.main import main
from tests.client.cases import EXPECTED_FAILURES, conformance_cases

CASES = conformance_cases()


def _params(digest: bool) -> list[object]:
    out = []
    for c in CASES:
        if digest and not c.is_message_signature:
            continue  # a DSSE bundle's artifact is the in-toto subject: use the file
        marks = []
        if c.name in EXPECTED_FAILURES:
            marks.append(pytest.mark.xfail(reason=EXPECTED_FAILURES[c.name], strict=True))
        out.append(pytest.param(c, id=c.name, marks=marks))
    return out


def _check(case, code: int, err: str) -> None:
    if case.should_pass:
        assert code == 0, f"{case.name} should verify: {err}"
        assert err == ""
    else:
        assert code == 1, f"{case.name} should be refused"
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert "Traceback" not in err


def test_cases_exist() -> None:
    assert len(CASES) >= 50
    assert sum(c.should_pass for c in CASES) >= 15


@pytest.mark.parametrize("case", _params(digest=False))
def test_vector_with_file(case, capsys) -> None:
    code = main(case.argv())
    _check(case, code, capsys.readouterr().err)


@pytest.mark.parametrize("case", _params(digest=True))
def test_vector_with_digest(case, capsys) -> None:
    code = main(case.argv(case.digest_arg()))
    _check(case, code, capsys.readouterr().err)


SUBPROCESS_CASES = [
    "happy-path-v0.3",
    "rekor2-dsse-happy-path",
    "managed-key-happy-path",
    "signature-mismatch_fail",
    "bundle-malformed-json_fail",
]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_vector_subprocess(name: str) -> None:
    case = next(c for c in CASES if c.name == name)
    r = subprocess.run(
        [sys.executable, "-m", "sceau", *case.argv()], capture_output=True, text=True, timeout=60
    )
    _check(case, r.returncode, r.stderr)
