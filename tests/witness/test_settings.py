"""``[witnesses]`` of sceau.toml: read strictly, each mistake named; a bad section stops
``sceau serve`` with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sceau.errors import InputError
from sceau.keys import generate_signer
from sceau.log.cosigning import settings_from_config
from sceau.note import cosignature_signer, format_vkey, note_signer

W1 = format_vkey(cosignature_signer("w1.example", generate_signer("ed25519")))
W2 = format_vkey(cosignature_signer("w2.example", generate_signer("ed25519")))
LOG = format_vkey(note_signer("log.example", generate_signer("ed25519")))


def test_defaults_and_values() -> None:
    assert settings_from_config(None) is None
    assert settings_from_config({"witness": []}) is None
    s = settings_from_config(
        {"witness": [{"url": "http://a/", "vkey": W1}, {"url": "https://b", "vkey": W2}]}
    )
    assert s is not None and s.quorum == 2 and s.wait == 2.0
    assert [w.url for w in s.witnesses] == ["http://a", "https://b"]
    s = settings_from_config(
        {"quorum": 1, "wait": 0.5, "witness": [{"url": "http://a", "vkey": W1}]}
    )
    assert s is not None and (s.quorum, s.wait) == (1, 0.5)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"witness": {"url": "http://a"}}, "array of tables"),
        ({"witness": [{"url": "http://a"}]}, "needs `url` and `vkey`"),
        ({"witness": [{"url": "ftp://a", "vkey": W1}]}, "http"),
        ({"witness": [{"url": "http://a", "vkey": LOG}]}, "not a cosignature/v1 witness key"),
        ({"witness": [{"url": "http://a", "vkey": W1}, {"url": "http://b", "vkey": W1}]}, "twice"),
        (
            {"quorum": 2, "witness": [{"url": "http://a", "vkey": W1}]},
            "quorum must be between 1 and 1",
        ),
        ({"quorum": True, "witness": [{"url": "http://a", "vkey": W1}]}, "quorum"),
        ({"wait": 0, "witness": [{"url": "http://a", "vkey": W1}]}, "wait"),
        ({"wait": "2", "witness": [{"url": "http://a", "vkey": W1}]}, "wait"),
    ],
)
def test_mistakes_are_named(section: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        settings_from_config(section)


def test_serve_refuses_a_bad_section_in_one_line(tmp_path: Path) -> None:
    d = tmp_path / "sceau"
    sceau = [sys.executable, "-m", "sceau"]
    init = subprocess.run([*sceau, "init", "--dir", str(d)], capture_output=True, timeout=60)
    assert init.returncode == 0
    config = d / "sceau.toml"
    config.write_text(
        config.read_text()
        + "\n[witnesses]\nquorum = 3\n[[witnesses.witness]]\n"
        + f'url = "http://127.0.0.1:1"\nvkey = "{W1}"\n'
    )
    r = subprocess.run(
        [*sceau, "serve", "--dir", str(d), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == "error: [witnesses] quorum must be between 1 and 1"
