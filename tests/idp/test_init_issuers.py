"""``sceau init --oidc-issuer … --client-id … --issuer-type …`` writes the CA's issuer tables."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from sceau.services.ca.issuers import IssuerSet

GITHUB = "https://token.actions.githubusercontent.com"
GOOGLE = "https://accounts.google.com"


def _init(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sceau", "init", "--dir", str(tmp / "i"), *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_issuers_are_written_in_fulcio_shape(tmp_path: Path) -> None:
    r = _init(
        tmp_path, "--no-dev-oidc", "--url", "http://127.0.0.1:8123",
        "--oidc-issuer", GOOGLE, "--client-id", "sigstore",
        "--oidc-issuer", GITHUB, "--client-id", "sigstore", "--issuer-type", "github-workflow",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    cfg = tomllib.loads((tmp_path / "i" / "sceau.toml").read_text())
    assert cfg["instance"]["url"] == "http://127.0.0.1:8123"
    tables = cfg["ca"]["oidc-issuers"]
    assert tables[GOOGLE] == {"issuer-url": GOOGLE, "client-id": "sigstore", "type": "email"}
    assert tables[GITHUB] == {
        "issuer-url": GITHUB,
        "client-id": "sigstore",
        "type": "ci-provider",
        "ci-provider": "github-workflow",
    }
    issuers = IssuerSet.from_config({"oidc-issuers": tables})
    assert issuers.lookup(GITHUB) is not None and issuers.lookup(GITHUB).is_ci
    # Without the dev issuer, the email provider is where a person logs in.
    signing = json.loads((tmp_path / "i" / "trust" / "signing_config.v0.2.json").read_text())
    assert [s["url"] for s in signing["oidcUrls"]] == [GOOGLE]


def test_misplaced_or_repeated_options_are_refused(tmp_path: Path) -> None:
    r = _init(tmp_path, "--client-id", "x")
    assert r.returncode != 0 and "must follow the --oidc-issuer" in r.stderr
    r = _init(tmp_path, "--oidc-issuer", GOOGLE, "--client-id", "a", "--client-id", "b")
    assert r.returncode != 0 and "given twice" in r.stderr
    r = _init(tmp_path, "--oidc-issuer", GOOGLE, "--oidc-issuer", GOOGLE)
    assert r.returncode != 0 and "once" in r.stderr
    r = _init(tmp_path, "--oidc-issuer", "ftp://idp.example")
    assert r.returncode != 0 and "http(s)" in r.stderr
    assert not (tmp_path / "i" / "sceau.toml").exists(), "a refused init writes nothing"
