"""``serve --tls-cert/--tls-key`` checks its files before binding, with one-line errors."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from sceau.errors import InputError
from sceau.services.tls import check_tls_files
from tests.tlsutil import make_server_cert


def test_good_files_give_uvicorn_options(tmp_path: Path) -> None:
    pki = make_server_cert(tmp_path)
    tls = check_tls_files(str(pki.cert), str(pki.key))
    assert tls is not None
    assert tls.uvicorn_options() == {"ssl_certfile": str(pki.cert), "ssl_keyfile": str(pki.key)}
    assert check_tls_files(None, None) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("only-cert", "go together"),
        ("missing", "does not exist"),
        ("world-readable", "readable by others"),
        ("other-key", "is not the key of"),
        ("garbage", "not a PEM certificate and key"),
        ("expired", "expired on"),
    ],
)
def test_bad_files_are_named(tmp_path: Path, change: str, message: str) -> None:
    pki = make_server_cert(tmp_path)
    cert, key = str(pki.cert), str(pki.key)
    now = None
    if change == "only-cert":
        key = None  # type: ignore[assignment]
    elif change == "missing":
        cert = str(tmp_path / "nope.pem")
    elif change == "world-readable":
        os.chmod(key, 0o644)
    elif change == "other-key":
        key = str(make_server_cert(tmp_path / "other").key)
    elif change == "garbage":
        Path(cert).write_text("not a certificate\n")
    elif change == "expired":
        now = dt.datetime.now(dt.UTC) + dt.timedelta(days=800)
    with pytest.raises(InputError, match=message):
        check_tls_files(cert, key, now=now)
