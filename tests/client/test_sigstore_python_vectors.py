"""Every row of ``vectors/sigstore-python/README.md`` gives its expected result with
``sceau verify`` (shipped production/staging roots, or the row's ClientTrustConfig)."""

from __future__ import annotations

import pytest

from sceau.cli.main import main
from tests.client.cases import sigstore_python_rows

ROWS = sigstore_python_rows()


def test_table_parsed() -> None:
    assert len(ROWS) >= 11


@pytest.mark.parametrize("row", ROWS, ids=[r.bundle for r in ROWS])
def test_row(row, capsys) -> None:
    code = main(row.argv())
    out, err = capsys.readouterr()
    if row.should_pass:
        assert code == 0, err
        assert out.startswith("OK: ") and row.identity in out
    else:
        assert code == 1
        assert err.count("\n") == 1 and err.startswith("error: ")
