"""The credential cache: one login, many signed commits; the token never stored."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sceau.client.git import cache
from sceau.client.git import cms as gcms
from tests.git.conftest import BIN, EMAIL, Repo, configure, make_repo
from tests.git.helpers import read
from tests.instance import ServedInstance

pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.fixture
def cache_socket(tmp_path: Path) -> Iterator[Path]:
    """``sceau-git credential-cache`` in a subprocess; ready once it says it listens."""
    path = tmp_path / "run" / "cache.sock"
    proc = subprocess.Popen(
        [str(BIN / "sceau-git"), "credential-cache", "--socket", str(path)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        assert line.startswith(f"credential cache listening on {path}"), line
        yield path
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _dev_token(instance: ServedInstance) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "sceau", "dev-token", "--dir", str(instance.dir), "--email", EMAIL],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return out.stdout.decode().strip()


def _certificate(repo: Repo, rev: str) -> bytes:
    sig = read(repo, repo.out("rev-parse", rev)).signature
    assert sig is not None
    return gcms.parse(sig).signer_certificate


def test_one_login_signs_many_commits(
    instance: ServedInstance, tmp_path: Path, cache_socket: Path
) -> None:
    repo = make_repo(tmp_path)
    configure(repo, instance)
    token_file = tmp_path / "token"
    token_file.write_text(_dev_token(instance))
    repo.git("config", "sceau.identityToken", f"file:{token_file}")
    repo.git("config", "sceau.credentialCache", str(cache_socket))
    repo.commit("one")
    token_file.unlink()  # from now on only the cache can sign
    repo.commit("two")
    repo.commit("three")
    certs = {_certificate(repo, rev) for rev in ("HEAD~2", "HEAD~1", "HEAD")}
    assert len(certs) == 1  # one certificate, one login
    for rev in ("HEAD~2", "HEAD~1", "HEAD"):
        repo.git("verify-commit", rev)
    # Without the cache the missing token is an error: the cache did the signing above.
    repo.git("config", "--unset", "sceau.credentialCache")
    (repo.path / "four").write_text("4")
    repo.git("add", "four")
    assert repo.git("commit", "-S", "-m", "four", check=False).returncode != 0


def test_socket_is_private(cache_socket: Path) -> None:
    assert stat.S_IMODE(cache_socket.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(cache_socket.stat().st_mode) & 0o077 == 0
    assert cache_socket.parent.stat().st_uid == os.getuid()


def test_cache_answers_nothing_for_unknown_keys_and_absent_servers(
    cache_socket: Path, tmp_path: Path
) -> None:
    assert cache.get(cache_socket, "no-such-key") is None
    assert cache.get(tmp_path / "nothing-listens-here.sock", "k") is None


def test_refuses_a_shared_directory(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    proc = subprocess.run(
        [str(BIN / "sceau-git"), "credential-cache", "--socket", str(shared / "s.sock")],
        capture_output=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 1
    assert (
        proc.stderr.decode().strip()
        == f"error: {shared} must belong to you and be private (mode 0700)"
    )


def test_store_refuses_malformed_requests_and_bounds_its_size(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + timedelta(minutes=10))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    store = cache._Store()
    assert store.handle([]) == {"error": "bad request"}
    assert store.handle({"op": "put", "key": "k"}) == {"error": "bad request"}
    assert store.handle({"op": "nope", "key": "k"}) == {"error": "unknown op"}
    bad = {"op": "put", "key": "k", "key_pem": "x", "certificate_pem": "not a certificate"}
    assert store.handle(bad) == {"error": "bad certificate"}
    for i in range(cache.MAX_ENTRIES):
        put = {"op": "put", "key": f"k{i}", "key_pem": "x", "certificate_pem": pem}
        assert store.handle(put) == {"ok": True}
    full = {"op": "put", "key": "one-more", "key_pem": "x", "certificate_pem": pem}
    assert store.handle(full) == {"error": "cache full"}
    assert store.handle({"op": "get", "key": "k0"}) == {"key_pem": "x", "certificate_pem": pem}
