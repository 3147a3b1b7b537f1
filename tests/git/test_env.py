"""The scripted interface: instance and identity from the environment alone
(``SCEAU_INSTANCE_DIR``, ``SIGSTORE_ID_TOKEN``), and GitHub workflow claims in the policy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.git.conftest import Repo, make_repo
from tests.instance import ServedInstance

pytestmark = [pytest.mark.server, pytest.mark.slow]

WORKFLOW = "octo-org/app/.github/workflows/release.yml@refs/heads/main"


def _token(instance: ServedInstance, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "sceau", "dev-token", "--dir", str(instance.dir), *args],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return out.stdout.decode().strip()


@pytest.fixture
def ci_repo(instance: ServedInstance, tmp_path: Path) -> Repo:
    """Only gpg.format and the program in git config; the rest from the environment, as a
    CI job would set it (SIGSTORE_ID_TOKEN, SCEAU_INSTANCE_DIR)."""
    repo = make_repo(
        tmp_path,
        {
            "SIGSTORE_ID_TOKEN": _token(instance, "--github-workflow", WORKFLOW),
            "SCEAU_INSTANCE_DIR": str(instance.dir),
            "SCEAU_GIT_REKOR_VERSION": "1",
        },
    )
    repo.git("config", "gpg.format", "x509")
    repo.git("config", "gpg.x509.program", "sceau-git")
    repo.commit("ci.txt")
    repo.git("tag", "-s", "v2", "-m", "v2")
    return repo


def test_signed_from_the_environment_and_github_claims_enforced(
    ci_repo: Repo, instance: ServedInstance
) -> None:
    identity = f"https://github.com/{WORKFLOW}"
    base = ["verify", "HEAD", "--certificate-identity", identity,
            "--certificate-oidc-issuer", instance.github_issuer,
            "--trust-config", str(instance.trust_config)]  # fmt: skip
    ok = ci_repo.sceau_git(*base, "--github-repository", "octo-org/app",
                           "--github-ref", "refs/heads/main")  # fmt: skip
    assert ok.returncode == 0, ok.stderr.decode()
    assert ok.stdout.decode().startswith("OK: commit ") and identity in ok.stdout.decode()
    bad = ci_repo.sceau_git(*base, "--github-repository", "octo-org/other")
    assert bad.returncode == 1
    assert bad.stderr.decode().startswith("error: certificate GitHub repository does not match")
    tag = ci_repo.sceau_git(*base[:1], "v2", *base[2:])
    assert tag.returncode == 0 and tag.stdout.decode().startswith("OK: tag ")
    # git verify-commit finds the trust through SCEAU_INSTANCE_DIR too.
    assert ci_repo.git("verify-commit", "HEAD").returncode == 0


def test_sceau_git_sign_subcommand_and_gpg_mode_agree(ci_repo: Repo) -> None:
    """``sceau-git sign`` signs stdin like ``-bsau``; ``--verify`` checks it."""
    payload = ci_repo.git("cat-file", "commit", "HEAD").stdout.split(b"gpgsig", 1)[0] + b"\nx\n"
    signed = ci_repo.run(str(Path(sys.executable).parent / "sceau-git"), "sign", input=payload)
    assert signed.stdout.startswith(b"-----BEGIN SIGNED MESSAGE-----\n")
    sig = ci_repo.path / "sig.pem"
    sig.write_bytes(signed.stdout)
    good = ci_repo.run(str(Path(sys.executable).parent / "sceau-git"), "--status-fd=1",
                       "--verify", str(sig), "-", input=payload)  # fmt: skip
    assert b"[GNUPG:] GOODSIG " in good.stdout
    bad = ci_repo.run(str(Path(sys.executable).parent / "sceau-git"), "--status-fd=1",
                      "--verify", str(sig), "-", input=payload + b"!", check=False)  # fmt: skip
    assert bad.returncode == 1 and b"[GNUPG:] BADSIG " in bad.stdout
