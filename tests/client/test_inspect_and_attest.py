"""``sceau bundle inspect``, ``sceau verify-attestation`` and artifact hashing."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from sceau.cli.main import main
from sceau.client.hashing import Digest, hash_file, is_digest_argument
from sceau.errors import InputError
from tests.client.cases import BV, DEFAULT_IDENTITY, DEFAULT_ISSUER


def test_inspect_text(capsys) -> None:
    assert main(["bundle", "inspect", str(BV / "happy-path-v0.3" / "bundle.sigstore.json")]) == 0
    out = capsys.readouterr().out
    assert f"identity:    {DEFAULT_IDENTITY}" in out
    assert f"issuer:      {DEFAULT_ISSUER}" in out
    assert "Rekor v1 hashedrekord/0.0.1 index 79571823 (tree index 75408392" in out
    assert "integrated:  2024-03-19T17:26:26Z (with inclusion promise)" in out
    assert "checked:" in out and "embedded SCT verifies" in out


def test_inspect_json_rekor_v2(capsys) -> None:
    case = BV / "rekor2-dsse-happy-path"
    assert (
        main(
            [
                "bundle",
                "inspect",
                str(case / "bundle.sigstore.json"),
                "--json",
                "--trusted-root",
                str(case / "trusted_root.json"),
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["tlogEntry"]["rekor"] == 2 and report["tlogEntry"]["integratedTime"] is None
    assert report["timestamps"][0]["genTime"].startswith("2026-")
    assert report["dsse"]["predicateType"] == "https://slsa.dev/provenance/v1"
    assert report["verification"]["ok"] is True
    assert report["verification"]["verifiedTimes"][0]["source"] == "rfc3161"


def test_inspect_reports_failed_checks(capsys) -> None:
    # A staging Rekor v2 bundle checked against the (default) production root: the report
    # says why, and the exit status says it failed.
    assert (
        main(
            ["bundle", "inspect", str(BV / "rekor2-happy-path" / "bundle.sigstore.json"), "--json"]
        )
        == 1
    )
    report = json.loads(capsys.readouterr().out)
    assert report["verification"]["ok"] is False and report["verification"]["failed"]
    assert (
        main(
            [
                "bundle",
                "inspect",
                str(BV / "managed-key-happy-path" / "bundle.sigstore.json"),
                "--no-checks",
            ]
        )
        == 0
    )
    assert "managed key" in capsys.readouterr().out


def test_inspect_malformed(capsys) -> None:
    assert (
        main(["bundle", "inspect", str(BV / "bundle-malformed-json_fail" / "bundle.sigstore.json")])
        == 1
    )
    assert capsys.readouterr().err.startswith("error: bundle is not valid JSON")


def test_verify_attestation(capsys) -> None:
    case = BV / "rekor2-dsse-happy-path"
    base = [
        "verify-attestation",
        "--bundle",
        str(case / "bundle.sigstore.json"),
        "--certificate-identity",
        DEFAULT_IDENTITY,
        "--certificate-oidc-issuer",
        DEFAULT_ISSUER,
        "--trusted-root",
        str(case / "trusted_root.json"),
    ]
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "predicateType: https://slsa.dev/provenance/v1" in out
    assert "subject: a.txt sha256:a0cfc712" in out
    assert main([*base, str(BV / "a.txt")]) == 0
    capsys.readouterr()
    assert main([*base, "sha256:" + "11" * 32]) == 1
    assert "not a subject" in capsys.readouterr().err
    # A message-signature bundle is not an attestation.
    assert (
        main(
            [
                "verify-attestation",
                "--bundle",
                str(BV / "happy-path-v0.3" / "bundle.sigstore.json"),
                "--certificate-identity",
                DEFAULT_IDENTITY,
                "--certificate-oidc-issuer",
                DEFAULT_ISSUER,
            ]
        )
        == 1
    )
    assert "no DSSE envelope" in capsys.readouterr().err


def test_digest_parsing() -> None:
    d = Digest.parse("sha256:" + "ab" * 32)
    assert d.value == b"\xab" * 32 and str(d) == "sha256:" + "ab" * 32
    for bad in ("sha256:abc", "md5:" + "00" * 16, "sha256", "sha256:" + "zz" * 32):
        with pytest.raises(InputError):
            Digest.parse(bad)
    assert is_digest_argument("sha256:00")
    assert not is_digest_argument("a.txt")


def test_hash_file_with_progress(tmp_path: Path, monkeypatch) -> None:
    import sceau.client.hashing as h

    p = tmp_path / "big.bin"
    data = b"sceau" * 100_000
    p.write_bytes(data)
    assert hash_file(p).value == hashlib.sha256(data).digest()
    monkeypatch.setattr(h, "PROGRESS_MIN", 1)
    monkeypatch.setattr(h, "CHUNK", 65536)
    bar = io.StringIO()
    assert hash_file(p, progress=bar).value == hashlib.sha256(data).digest()
    assert "100%" in bar.getvalue() and bar.getvalue().count("\r") > 1
    with pytest.raises(InputError, match="cannot read"):
        hash_file(tmp_path / "missing")
