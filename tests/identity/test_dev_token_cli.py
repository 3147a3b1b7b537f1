"""``sceau dev-token`` against a temporary instance directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from sceau.cli.main import main
from sceau.keys import generate_signer, save_signer
from sceau.services.oidc import DevIssuer


def make_instance(tmp_path: Path, url: str | None = "https://sceau.example.test") -> Path:
    d = tmp_path / "inst"
    (d / "keys").mkdir(parents=True)
    if url is not None:
        (d / "sceau.toml").write_text(f'[instance]\nurl = "{url}"\n')
    save_signer(generate_signer("ecdsa-p256"), d / "keys" / "dev-oidc.pem")
    return d


def claims_of(token: str, d: Path) -> dict:
    """Decode and verify with the instance's own key (as the CA would, minus HTTP)."""
    from sceau.keys import load_signer

    dev = DevIssuer(load_signer(d / "keys" / "dev-oidc.pem"), "x")
    return jwt.decode(
        token,
        jwt.PyJWK(dev.jwk),
        algorithms=["ES256"],
        audience="sigstore",
    )


def test_email(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = make_instance(tmp_path)
    assert main(["dev-token", "--dir", str(d), "--email", "me@example.com"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    claims = claims_of(out.strip(), d)
    assert claims["iss"] == "https://sceau.example.test/oidc"
    assert claims["email"] == claims["sub"] == "me@example.com"


def test_github_workflow_with_claims(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = make_instance(tmp_path, url="http://127.0.0.1:9999/")
    argv = [
        "dev-token",
        "--dir",
        str(d),
        "--github-workflow",
        "octo/app/.github/workflows/ci.yml@refs/tags/v2.0.0",
        "--claim",
        "event_name=release",
        "--claim",
        "environment=a=b",
        "--lifetime",
        "60",
    ]
    assert main(argv) == 0
    claims = claims_of(capsys.readouterr().out.strip(), d)
    assert claims["iss"] == "http://127.0.0.1:9999/oidc/github"
    assert claims["sub"] == "repo:octo/app:ref:refs/tags/v2.0.0"
    assert claims["event_name"] == "release" and claims["environment"] == "a=b"
    assert claims["exp"] - claims["iat"] == 60


def test_default_url_without_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = make_instance(tmp_path, url=None)
    assert main(["dev-token", "--dir", str(d), "--email", "me@example.com"]) == 0
    assert claims_of(capsys.readouterr().out.strip(), d)["iss"] == "http://127.0.0.1:8080/oidc"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--email", "me@example.com", "--claim", "a=b"], "--github-workflow tokens only"),
        (["--github-workflow", "o/r/.github/workflows/x.yml@refs/heads/m", "--claim", "ab"], "K=V"),
        (["--github-workflow", "not-a-workflow"], "is not OWNER/REPO"),
        (["--email", "nope"], "not an email"),
        (["--email", "me@example.com", "--lifetime", "0"], "--lifetime"),
    ],
)
def test_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    d = make_instance(tmp_path)
    assert main(["dev-token", "--dir", str(d), *extra]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and message in captured.err


def test_instance_without_dev_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = make_instance(tmp_path)
    (d / "keys" / "dev-oidc.pem").unlink()
    assert main(["dev-token", "--dir", str(d), "--email", "me@example.com"]) == 1
    err = capsys.readouterr().err
    assert "has no dev OIDC issuer key" in err and err.count("\n") == 1


def test_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = make_instance(tmp_path)
    (d / "sceau.toml").write_text("[instance]\nurl = 3\n")
    assert main(["dev-token", "--dir", str(d), "--email", "me@example.com"]) == 1
    assert "url must be an http(s) URL" in capsys.readouterr().err
    (d / "sceau.toml").write_text("[instance\n")
    assert main(["dev-token", "--dir", str(d), "--email", "me@example.com"]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_entry_point(tmp_path: Path) -> None:
    d = make_instance(tmp_path)
    r = subprocess.run(
        [sys.executable, "-m", "sceau", "dev-token", "--dir", str(d), "--email", "me@example.com"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert claims_of(r.stdout.strip(), d)["email"] == "me@example.com"
