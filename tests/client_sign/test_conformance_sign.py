"""``sceau conformance sign-bundle`` then ``verify-bundle``: the conformance protocol."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sceau.client.hashing import Digest
from sceau.client.sign import in_toto_statement
from tests.client_sign.conftest import EMAIL, Instance, one_error_line

pytestmark = pytest.mark.server


def _files(instance: Instance) -> list[str]:
    return ["--trusted-root", str(instance.trusted_root),
            "--signing-config", str(instance.signing_config)]  # fmt: skip


def test_sign_bundle_round_trip(instance: Instance, artifact: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.sigstore.json"
    r = instance.run(
        "conformance", "sign-bundle", "--identity-token", instance.token(),
        "--bundle", str(out), *_files(instance), str(artifact),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    verify = [
        "conformance", "verify-bundle", "--bundle", str(out),
        "--certificate-identity", EMAIL, "--certificate-oidc-issuer", instance.issuer,
        "--trusted-root", str(instance.trusted_root),
    ]  # fmt: skip
    assert instance.run(*verify, str(artifact)).returncode == 0
    digest = Digest.of_bytes(artifact.read_bytes())
    assert instance.run(*verify, str(digest)).returncode == 0
    bad = instance.run(*verify, "sha256:" + "00" * 32)
    one_error_line(bad, "digest")


def test_sign_bundle_in_toto(instance: Instance, tmp_path: Path) -> None:
    digest = Digest.of_bytes(b"the subject")
    statement = tmp_path / "statement.json"
    statement.write_text(json.dumps(in_toto_statement([("s", digest)], "https://e.com/p", {})))
    out = tmp_path / "att.sigstore.json"
    r = instance.run(
        "conformance", "sign-bundle", "--in-toto", "--identity-token", instance.token(),
        "--bundle", str(out), *_files(instance), str(statement),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    bundle = json.loads(out.read_text())
    assert "dsseEnvelope" in bundle
    v = instance.run(
        "conformance", "verify-bundle", "--bundle", str(out),
        "--certificate-identity", EMAIL, "--certificate-oidc-issuer", instance.issuer,
        "--trusted-root", str(instance.trusted_root), str(digest),
    )  # fmt: skip
    assert v.returncode == 0, v.stderr
