"""gitsign → sceau: real gitsign-signed commits and tags (public-good instance, offline
mode) verify with ``sceau git verify`` and with git through ``sceau-git``, offline, against
the public trusted root. Vectors: tests/vectors/git (see tests/vectors/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sceau.client.git.objects import parse_object_file
from sceau.client.git.verify import verify_signature
from sceau.client.trust import load_trusted_root
from tests.git.conftest import Repo, make_repo
from tests.git.helpers import write_object

SIGNER = "billy@chainguard.dev"
GOOGLE = "https://accounts.google.com"
OFFLINE = [
    "gitsign-offline.commit",
    "gitsign-oid.commit",
    "gitsign-v0.17.0.tag",
    "gitsign-v0.17.1.tag",
]


@pytest.fixture
def public_root(vectors: Path) -> Path:
    return vectors / "public-good" / "production" / "trusted_root.json"


@pytest.fixture
def repo(tmp_path: Path, public_root: Path) -> Repo:
    repo = make_repo(tmp_path)
    repo.git("config", "gpg.format", "x509")
    repo.git("config", "gpg.x509.program", "sceau-git")
    repo.git("config", "sceau.trustedRoot", str(public_root))
    return repo


def _load(repo: Repo, vectors: Path, name: str) -> str:
    raw = (vectors / "git" / name).read_bytes()
    return write_object(repo, "tag" if name.endswith(".tag") else "commit", raw)


@pytest.mark.parametrize("name", OFFLINE)
def test_gitsign_object_verifies_with_sceau_git_verify(
    repo: Repo, vectors: Path, public_root: Path, name: str
) -> None:
    oid = _load(repo, vectors, name)
    proc = repo.sceau_git(
        "verify", oid, "--certificate-identity", SIGNER,
        "--certificate-oidc-issuer", GOOGLE, "--trusted-root", str(public_root),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    kind = "tag" if name.endswith(".tag") else "commit"
    assert proc.stdout.decode().startswith(f"OK: {kind} {oid} signed by {SIGNER} ({GOOGLE})")


@pytest.mark.parametrize("name", OFFLINE)
def test_gitsign_object_verifies_with_git(repo: Repo, vectors: Path, name: str) -> None:
    oid = _load(repo, vectors, name)
    verb = "verify-tag" if name.endswith(".tag") else "verify-commit"
    raw = repo.git(verb, "--raw", oid, check=False)  # --raw: the status lines
    status = raw.stderr.decode()
    assert raw.returncode == 0, status
    assert "[GNUPG:] GOODSIG " in status and "[GNUPG:] VALIDSIG " in status
    human = repo.git(verb, oid).stderr.decode()  # else: what sceau-git told the user
    assert f"sceau-git: Good signature from {SIGNER} ({GOOGLE})" in human


def test_gitsign_vector_wrong_identity_is_refused(
    repo: Repo, vectors: Path, public_root: Path
) -> None:
    oid = _load(repo, vectors, "gitsign-v0.17.1.tag")
    proc = repo.sceau_git(
        "verify", oid, "--certificate-identity", "someone@example.com",
        "--certificate-oidc-issuer", GOOGLE, "--trusted-root", str(public_root),
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.decode().strip() == (
        "error: certificate identity does not match: expected 'someone@example.com', "
        f"got '{SIGNER}'"
    )


def test_online_mode_signature_with_expired_certificate_is_a_clear_error(
    repo: Repo, vectors: Path, public_root: Path
) -> None:
    """gitsign's default (online) mode keeps no log entry in the signature; its certificate
    expired long ago, so without the entry nothing proves when it was used."""
    oid = _load(repo, vectors, "gitsign-online.commit")
    proc = repo.sceau_git(
        "verify", oid, "--certificate-identity", SIGNER,
        "--certificate-oidc-issuer", GOOGLE, "--trusted-root", str(public_root),
    )  # fmt: skip
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert "signature carries no transparency log entry" in err and "Traceback" not in err
    raw = repo.git("verify-commit", "--raw", oid, check=False)
    assert raw.returncode != 0
    assert "[GNUPG:] ERRSIG " in raw.stderr.decode()
    assert "Traceback" not in raw.stderr.decode()


def test_vector_payload_edit_is_bad_signature(vectors: Path, public_root: Path) -> None:
    obj = parse_object_file((vectors / "git" / "gitsign-v0.17.1.tag").read_bytes())
    assert obj.signature is not None
    root = load_trusted_root(public_root)
    verify_signature(obj.payload, obj.signature, root)
    from sceau.client.errors import SignatureError

    with pytest.raises(SignatureError, match="covers other content"):
        verify_signature(obj.payload.replace(b"v0.17.1", b"v0.17.2"), obj.signature, root)
