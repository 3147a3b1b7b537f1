"""The client as cosign and sigstore-python users expect it: version, flag mistakes,
regexps, --overwrite, service URL overrides, several files, errors that say what to do."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest

from sceau import __version__
from tests.client_sign.conftest import BIN, EMAIL, Instance, one_error_line

pytestmark = pytest.mark.server


def _sign(
    instance: Instance, *files: Path, extra: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return instance.run("sign", *map(str, files), "--trust-config", str(instance.trust_config),
                        "--identity-token", instance.token(), *extra)  # fmt: skip


def _verify(instance: Instance, *args: str) -> subprocess.CompletedProcess[str]:
    return instance.run("verify", *args, "--certificate-oidc-issuer", instance.issuer,
                        "--trust-config", str(instance.trust_config))  # fmt: skip


def test_version(instance: Instance) -> None:
    short = instance.run("--version")
    assert short.returncode == 0 and short.stdout.strip() == f"sceau {__version__}"
    doc = json.loads(instance.run("version", "--output", "json").stdout)
    assert doc["sceau"] == __version__ and doc["cryptography"][0].isdigit()
    assert instance.run("version").stdout.startswith("sceau ")


def test_flag_mistakes_name_the_subcommand_and_a_suggestion(instance: Instance) -> None:
    r = instance.run("verify", "a.txt", "--certificate-identiy", "x")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("usage: sceau verify"), r.stderr
    assert "did you mean --certificate-identity?" in r.stderr
    r = instance.run("log", "get", "--index", "3", "--outptu", "json")
    assert r.stderr.startswith("usage: sceau log get") and "did you mean --output?" in r.stderr
    r = instance.run("sing", "a.txt")
    assert r.returncode == 2 and "did you mean sign?" in r.stderr


def test_a_closed_pipe_ends_quietly() -> None:
    """``sceau … | head`` where head has gone: no traceback, no complaint."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    try:
        proc = subprocess.run([str(BIN / "sceau"), "version"], stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=60)  # fmt: skip
    finally:
        os.close(write)
    assert proc.stderr == "", proc.stderr
    assert proc.returncode == 141


def test_overwrite_is_refused_unless_asked(instance: Instance, artifact: Path) -> None:
    assert _sign(instance, artifact).returncode == 0
    bundle = Path(f"{artifact}.sigstore.json")
    before = bundle.read_bytes()
    one_error_line(_sign(instance, artifact), "refusing to overwrite", "--overwrite")
    assert bundle.read_bytes() == before  # nothing signed, nothing replaced
    assert _sign(instance, artifact, extra=("--overwrite",)).returncode == 0
    assert bundle.read_bytes() != before
    predicate = artifact.with_name("predicate.json")
    predicate.write_text("{}")
    attest = ("attest", str(artifact), "--predicate", str(predicate), "--type", "custom",
              "--trust-config", str(instance.trust_config), "--identity-token", instance.token())  # fmt: skip  # noqa: E501
    assert instance.run(*attest).returncode == 0
    one_error_line(instance.run(*attest), "refusing to overwrite")


def test_service_url_overrides(instance: Instance, artifact: Path, tmp_path: Path) -> None:
    """cosign's --rekor-url / --fulcio-url / --timestamp-server-url: where to ask, with a
    signing config that points nowhere useful; the result verifies as usual."""
    dead = "http://127.0.0.1:9"
    doc = json.loads(instance.trust_config.read_text())["signingConfig"]
    broken = instance.trust_config_with(
        tmp_path / "broken.json",
        caUrls=[{**doc["caUrls"][0], "url": dead}],
        rekorTlogUrls=[{**u, "url": dead} for u in doc["rekorTlogUrls"]],
        tsaUrls=[{**doc["tsaUrls"][0], "url": dead + "/api/v1/timestamp"}],
    )
    base = ("sign", str(artifact), "--trust-config", str(broken), "--identity-token",
            instance.token())  # fmt: skip
    r = instance.run(*base)
    one_error_line(r, "127.0.0.1:9")
    tsa = doc["tsaUrls"][0]["url"]
    r = instance.run(*base, "--fulcio-url", instance.url, "--rekor-url", instance.url,
                     "--timestamp-server-url", tsa)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "hashedrekord 0.0.1" in r.stdout  # an unknown --rekor-url is Rekor v1, as cosign's
    assert _verify(instance, str(artifact), "--certificate-identity", EMAIL).returncode == 0


def test_regexps_match_like_cosign(instance: Instance, artifact: Path) -> None:
    assert _sign(instance, artifact).returncode == 0
    ok = _verify(instance, str(artifact), "--certificate-identity-regexp", r"example\.com")
    assert ok.returncode == 0, ok.stderr
    anchored = _verify(instance, str(artifact), "--certificate-identity-regexp", r"^example")
    one_error_line(anchored, "no certificate identity matches")


def test_several_files_in_one_command(instance: Instance, tmp_path: Path) -> None:
    files = []
    for name in ("a", "b", "c"):
        f = tmp_path / name
        f.write_text(name)
        files.append(f)
    assert _sign(instance, *files).returncode == 0
    ok = _verify(instance, *map(str, files), "--certificate-identity", EMAIL)
    assert ok.returncode == 0 and ok.stdout.count("OK: ") == 3
    files[1].write_text("tampered")
    r = _verify(instance, *map(str, files), "--certificate-identity", EMAIL)
    assert r.returncode == 1 and r.stdout.count("OK: ") == 2
    assert f"FAIL: {files[1]}" in r.stderr and "1 of 3 files failed" in r.stderr
    one_error_line(_verify(instance, *map(str, files), "--bundle", "x.json",
                           "--certificate-identity", EMAIL), "--bundle takes one FILE")  # fmt: skip


def test_wrong_trust_root_errors_say_what_to_do(instance: Instance, artifact: Path) -> None:
    """A private instance's bundle checked against the default (public-good) root: the
    error says which root was used and how to give the right one — not OpenSSL's stack."""
    assert _sign(instance, artifact).returncode == 0
    r = instance.run("verify", str(artifact), "--certificate-identity", EMAIL,
                     "--certificate-oidc-issuer", instance.issuer)  # fmt: skip
    line = one_error_line(r, "public-good production trust root", "--trust-config", "--instance")
    assert "ErrorStack" not in line and "candidates exhausted" not in line
    # Through the instance's TUF repository, with --refresh, the same bundle verifies.
    r = instance.run("verify", str(artifact), "--certificate-identity", EMAIL,
                     "--certificate-oidc-issuer", instance.issuer, "--instance", instance.tuf_url,
                     "--tuf-root", str(instance.tuf_root), "--refresh")  # fmt: skip
    assert r.returncode == 0, r.stderr


def test_bundle_timestamp_from_another_tsa_is_explained(instance: Instance, artifact: Path) -> None:
    """Only the TSA is foreign: the reason names it in words."""
    from sceau.client.errors import TimestampError
    from sceau.client.timestamps import verify_token
    from sceau.client.trust import TrustedRoot

    assert _sign(instance, artifact, extra=("--rekor-version", "2")).returncode == 0
    doc = json.loads(Path(f"{artifact}.sigstore.json").read_text())
    vm = doc["verificationMaterial"]
    token = base64.b64decode(
        vm["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"]
    )
    signature = base64.b64decode(doc["messageSignature"]["signature"])
    with pytest.raises(TimestampError, match="signed by a TSA the trusted root does not list"):
        verify_token(token, signature, TrustedRoot.production())
