"""Bad input to the verifying commands: exit 1, exactly one ``error:`` line, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sceau.cli.main import main
from tests.client.cases import BV, DEFAULT_IDENTITY, DEFAULT_ISSUER

HAPPY = BV / "happy-path-v0.3" / "bundle.sigstore.json"
ARTIFACT = BV / "a.txt"


def _verify(
    artifact: Path | str,
    bundle: Path,
    identity: str = DEFAULT_IDENTITY,
    issuer: str = DEFAULT_ISSUER,
    *extra: str,
) -> list[str]:
    return [
        "verify",
        str(artifact),
        "--bundle",
        str(bundle),
        "--certificate-identity",
        identity,
        "--certificate-oidc-issuer",
        issuer,
        *extra,
    ]


def _one_error(capsys, code: int, *expect: str) -> str:
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: "), err
    for e in expect:
        assert e in err
    return err


@pytest.fixture
def tampered(tmp_path: Path) -> Path:
    p = tmp_path / "a.txt"
    p.write_bytes(ARTIFACT.read_bytes() + b"!")
    return p


def test_happy(capsys) -> None:
    assert main(_verify(ARTIFACT, HAPPY)) == 0
    assert capsys.readouterr().out.startswith(f"OK: {ARTIFACT} signed by {DEFAULT_IDENTITY}")


def test_malformed_json(tmp_path: Path, capsys) -> None:
    b = tmp_path / "b.json"
    b.write_bytes(HAPPY.read_bytes()[:500])
    _one_error(capsys, main(_verify(ARTIFACT, b)), "bundle is not valid JSON")


def test_unknown_media_type(tmp_path: Path, capsys) -> None:
    doc = json.loads(HAPPY.read_bytes())
    doc["mediaType"] = "application/vnd.dev.sigstore.bundle.v9+json"
    b = tmp_path / "b.json"
    b.write_text(json.dumps(doc))
    _one_error(capsys, main(_verify(ARTIFACT, b)), "unsupported bundle media type")


def test_wrong_identity(capsys) -> None:
    _one_error(
        capsys,
        main(_verify(ARTIFACT, HAPPY, "someone@example.com")),
        "certificate identity does not match",
    )


def test_wrong_issuer(capsys) -> None:
    _one_error(
        capsys,
        main(_verify(ARTIFACT, HAPPY, DEFAULT_IDENTITY, "https://evil.example")),
        "OIDC issuer does not match",
    )


def test_tampered_artifact(tampered: Path, capsys) -> None:
    _one_error(capsys, main(_verify(tampered, HAPPY)), "digest does not match")


def test_wrong_digest(capsys) -> None:
    _one_error(capsys, main(_verify("sha256:" + "00" * 32, HAPPY)), "digest does not match")


def test_bad_digest_syntax(capsys) -> None:
    _one_error(capsys, main(_verify("sha256:xyz", HAPPY)), "not a digest")


def test_missing_files(tmp_path: Path, capsys) -> None:
    _one_error(capsys, main(_verify(ARTIFACT, tmp_path / "nope.json")), "cannot read bundle")
    _one_error(capsys, main(_verify(tmp_path / "nope.txt", HAPPY)), "cannot read")


def test_policy_required(capsys) -> None:
    _one_error(
        capsys, main(["verify", str(ARTIFACT), "--bundle", str(HAPPY)]), "--certificate-identity"
    )


def test_key_with_keyless_bundle(capsys) -> None:
    key = BV / "managed-key-happy-path" / "key.pub"
    _one_error(
        capsys,
        main(["verify", str(ARTIFACT), "--bundle", str(HAPPY), "--key", str(key)]),
        "public key was expected",
    )


def test_regexp_and_github_options(capsys) -> None:
    assert (
        main(
            [
                "verify",
                str(ARTIFACT),
                "--bundle",
                str(HAPPY),
                "--certificate-identity-regexp",
                r"https://github\.com/sigstore-conformance/.*",
                "--certificate-oidc-issuer-regexp",
                r"https://token\.actions\..*",
                "--github-ref",
                "refs/heads/main",
            ]
        )
        == 0
    )
    capsys.readouterr()
    _one_error(
        capsys,
        main(
            [
                "verify",
                str(ARTIFACT),
                "--bundle",
                str(HAPPY),
                "--certificate-identity",
                DEFAULT_IDENTITY,
                "--certificate-oidc-issuer",
                DEFAULT_ISSUER,
                "--github-ref",
                "refs/heads/evil",
            ]
        ),
        "GitHub ref",
    )
    _one_error(
        capsys,
        main(
            [
                "verify",
                str(ARTIFACT),
                "--bundle",
                str(HAPPY),
                "--certificate-identity-regexp",
                "(",
                "--certificate-oidc-issuer",
                DEFAULT_ISSUER,
            ]
        ),
        "bad identity regexp",
    )


def test_default_bundle_name(tmp_path: Path, capsys) -> None:
    art = tmp_path / "a.txt"
    art.write_bytes(ARTIFACT.read_bytes())
    (tmp_path / "a.txt.sigstore.json").write_bytes(HAPPY.read_bytes())
    assert (
        main(
            [
                "verify",
                str(art),
                "--certificate-identity",
                DEFAULT_IDENTITY,
                "--certificate-oidc-issuer",
                DEFAULT_ISSUER,
            ]
        )
        == 0
    )


def test_wrong_trust_root(capsys) -> None:
    # A production bundle against the staging root: the CA and log are unknown there.
    _one_error(
        capsys, main(_verify(ARTIFACT, HAPPY, DEFAULT_IDENTITY, DEFAULT_ISSUER, "--staging"))
    )


@pytest.mark.parametrize(
    "argv_tail",
    [
        ["--certificate-identity", "nobody@example.com"],
        ["--certificate-identity", DEFAULT_IDENTITY, "--trusted-root", "/nonexistent/tr.json"],
    ],
    ids=["wrong-identity", "missing-trusted-root"],
)
def test_subprocess_no_traceback(argv_tail: list[str], tampered: Path) -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "sceau",
            "conformance",
            "verify-bundle",
            "--bundle",
            str(HAPPY),
            "--certificate-oidc-issuer",
            DEFAULT_ISSUER,
            *argv_tail,
            str(ARTIFACT),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ")
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_subprocess_tampered(tampered: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "sceau", *_verify(tampered, HAPPY)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
