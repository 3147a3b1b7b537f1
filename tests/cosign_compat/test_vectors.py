"""Cosign-format vectors from public repositories (tests/vectors/README.md) verify through
the ``sceau`` CLI, and a tampered copy of each is refused with one clear error line."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.cosign_compat.conftest import (
    COSIGN,
    STAGING_ROOT,
    legacy_bundle,
    one_error_line,
    sceau,
    write_json,
)

# bundle.txt.*: sigstore-python's detached signature + certificate + v0.1 bundle (staging).
BUNDLE_TXT_DIGEST = "sha256:802dd60ff88333802f2585e73043bd21c341285e1992fe5b31755e1cadeae30e"
BUNDLE_TXT_ID = ["--certificate-identity", "a@tny.town",
                 "--certificate-oidc-issuer", "https://github.com/login/oauth"]  # fmt: skip
# offline-rekor.txt.*: detached signature + certificate + bare Rekor bundle (staging, 2022).
OFFLINE_ID = ["--certificate-identity", "william@yossarian.net",
              "--certificate-oidc-issuer", "https://github.com/login/oauth"]  # fmt: skip
TRUST = ["--trusted-root", str(STAGING_ROOT)]


def _flip_b64(text: str, at: int = 10) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[at % len(raw)] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


# -- detached signature + certificate, checked against a Sigstore bundle ----------------------


def test_detached_with_sigstore_bundle_verifies(tmp_path: Path) -> None:
    p = sceau("verify", BUNDLE_TXT_DIGEST, "--signature", str(COSIGN / "bundle.txt.sig"),
              "--certificate", str(COSIGN / "bundle.txt.crt"),
              "--bundle", str(COSIGN / "bundle.txt.sigstore"), *BUNDLE_TXT_ID, *TRUST,
              home=tmp_path)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("OK: ") and "a@tny.town" in p.stdout


@pytest.mark.parametrize(
    ("flag", "other", "message"),
    [
        ("--signature", "offline-rekor.txt.sig", "differs from the bundle's signature"),
        ("--certificate", "offline-rekor.txt.crt", "differs from the bundle's certificate"),
    ],
)
def test_detached_not_the_bundles_is_refused(
    tmp_path: Path, flag: str, other: str, message: str
) -> None:
    given = {"--signature": "bundle.txt.sig", "--certificate": "bundle.txt.crt"}
    given[flag] = other
    args = [a for k, v in given.items() for a in (k, str(COSIGN / v))]
    p = sceau("verify", BUNDLE_TXT_DIGEST, *args, "--bundle", str(COSIGN / "bundle.txt.sigstore"),
              *BUNDLE_TXT_ID, *TRUST, home=tmp_path)  # fmt: skip
    one_error_line(p, message)


# -- the legacy cosign bundle (SET only, no inclusion proof) -----------------------------------


def _legacy(tmp_path: Path, change: Any = None) -> Path:
    doc = legacy_bundle(json.loads((COSIGN / "bundle.txt.sigstore").read_text()))
    if change is not None:
        change(doc)
    return write_json(tmp_path / "cosign.bundle", doc)


def test_legacy_bundle_verifies(tmp_path: Path) -> None:
    p = sceau("verify", BUNDLE_TXT_DIGEST, "--bundle", str(_legacy(tmp_path)), *BUNDLE_TXT_ID,
              *TRUST, home=tmp_path)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "a@tny.town" in p.stdout


def test_legacy_bundle_with_new_bundle_format_flag_verifies(tmp_path: Path) -> None:
    """``--new-bundle-format`` is a no-op: the file's shape decides how it is read."""
    p = sceau("verify", BUNDLE_TXT_DIGEST, "--bundle", str(_legacy(tmp_path)),
              "--new-bundle-format", *BUNDLE_TXT_ID, *TRUST, home=tmp_path)  # fmt: skip
    assert p.returncode == 0, p.stderr


def _set_time(doc: dict[str, Any]) -> None:
    doc["rekorBundle"]["Payload"]["integratedTime"] += 1


def _set_index(doc: dict[str, Any]) -> None:
    doc["rekorBundle"]["Payload"]["logIndex"] += 1


def _set_sig(doc: dict[str, Any]) -> None:
    doc["rekorBundle"]["SignedEntryTimestamp"] = _flip_b64(
        doc["rekorBundle"]["SignedEntryTimestamp"], 40
    )


def _signature(doc: dict[str, Any]) -> None:
    doc["base64Signature"] = _flip_b64(doc["base64Signature"], 30)


def _log_id(doc: dict[str, Any]) -> None:
    doc["rekorBundle"]["Payload"]["logID"] = "00" * 32


def _no_set(doc: dict[str, Any]) -> None:
    del doc["rekorBundle"]["SignedEntryTimestamp"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set_time, "inclusion promise (SET) does not verify"),
        (_set_index, "inclusion promise (SET) does not verify"),
        (_set_sig, "inclusion promise (SET) does not verify"),
        (_signature, "artifact signature does not verify"),
        (_log_id, "log not in the trusted root"),
        (_no_set, "needs SignedEntryTimestamp and Payload"),
    ],
    ids=["integratedTime", "logIndex", "SET", "base64Signature", "logID", "no-SET"],
)
def test_tampered_legacy_bundle_is_refused(tmp_path: Path, change: Any, message: str) -> None:
    p = sceau("verify", BUNDLE_TXT_DIGEST, "--bundle", str(_legacy(tmp_path, change)),
              *BUNDLE_TXT_ID, *TRUST, home=tmp_path)  # fmt: skip
    one_error_line(p, message)


def test_legacy_bundle_for_another_artifact_is_refused(tmp_path: Path) -> None:
    p = sceau("verify", "sha256:" + "ab" * 32, "--bundle", str(_legacy(tmp_path)),
              *BUNDLE_TXT_ID, *TRUST, home=tmp_path)  # fmt: skip
    one_error_line(p, "artifact signature does not verify")


def test_legacy_bundle_wrong_identity_is_refused(tmp_path: Path) -> None:
    p = sceau("verify", BUNDLE_TXT_DIGEST, "--bundle", str(_legacy(tmp_path)),
              "--certificate-identity", "someone@else.example",
              "--certificate-oidc-issuer", "https://github.com/login/oauth", *TRUST,
              home=tmp_path)  # fmt: skip
    one_error_line(p, "certificate identity does not match")


# -- detached signature + certificate + bare Rekor bundle --------------------------------------


def _offline(tmp_path: Path, *extra: str, artifact: Path | None = None,
             rekor: Path | None = None) -> Any:  # fmt: skip
    return sceau(
        "verify", str(artifact or COSIGN / "offline-rekor.txt"),
        "--signature", str(COSIGN / "offline-rekor.txt.sig"),
        "--certificate", str(COSIGN / "offline-rekor.txt.crt"),
        "--bundle", str(rekor or COSIGN / "offline-rekor.txt.bundle"),
        *OFFLINE_ID, *TRUST, *extra, home=tmp_path,
    )  # fmt: skip


def test_detached_with_rekor_bundle_verifies(tmp_path: Path) -> None:
    # The SCT's CT log key ends its validity (2022-07-31) before the SCT (2022-10-13) in
    # today's staging trusted root: cosign's --insecure-ignore-sct is what lets it pass.
    p = _offline(tmp_path, "--insecure-ignore-sct")
    assert p.returncode == 0, p.stderr
    assert "william@yossarian.net" in p.stdout


def test_detached_with_rekor_bundle_checks_the_sct_by_default(tmp_path: Path) -> None:
    one_error_line(_offline(tmp_path), "SCT time is outside the CT log key's validity")


def test_detached_tampered_artifact_is_refused(tmp_path: Path) -> None:
    changed = tmp_path / "offline-rekor.txt"
    changed.write_bytes((COSIGN / "offline-rekor.txt").read_bytes() + b"!")
    one_error_line(_offline(tmp_path, "--insecure-ignore-sct", artifact=changed),
                   "artifact signature does not verify")  # fmt: skip


def test_detached_tampered_rekor_bundle_is_refused(tmp_path: Path) -> None:
    doc = json.loads((COSIGN / "offline-rekor.txt.bundle").read_text())
    doc["Payload"]["integratedTime"] -= 60
    rekor = write_json(tmp_path / "offline.bundle", doc)
    one_error_line(_offline(tmp_path, "--insecure-ignore-sct", rekor=rekor),
                   "inclusion promise (SET) does not verify")  # fmt: skip


def test_detached_without_log_entry_needs_a_choice(tmp_path: Path) -> None:
    p = sceau("verify", str(COSIGN / "offline-rekor.txt"),
              "--signature", str(COSIGN / "offline-rekor.txt.sig"),
              "--certificate", str(COSIGN / "offline-rekor.txt.crt"), *OFFLINE_ID, *TRUST,
              home=tmp_path)  # fmt: skip
    one_error_line(p, "no transparency log entry", "--rekor-url", "--insecure-ignore-tlog")


def test_ignore_tlog_checks_the_certificate_at_the_current_time(tmp_path: Path) -> None:
    """As cosign: without a log entry the only time is now, and a Fulcio certificate has
    long expired by then."""
    p = sceau("verify", str(COSIGN / "offline-rekor.txt"),
              "--signature", str(COSIGN / "offline-rekor.txt.sig"),
              "--certificate", str(COSIGN / "offline-rekor.txt.crt"), "--insecure-ignore-tlog",
              "--insecure-ignore-sct", *OFFLINE_ID, *TRUST, home=tmp_path)  # fmt: skip
    one_error_line(p, "signing certificate was not valid at", "--insecure-ignore-tlog")


# -- malformed cosign material: one line, never a traceback ------------------------------------

MALFORMED = {
    "signature-not-base64": {"base64Signature": "!!", "rekorBundle": {}},
    "cert-garbage": {"base64Signature": "AAAA", "cert": "bm90IGEgY2VydA==", "rekorBundle": {}},
    "rekorBundle-not-object": {"base64Signature": "AAAA", "rekorBundle": []},
    "payload-missing": {"base64Signature": "AAAA", "rekorBundle": {"SignedEntryTimestamp": ""}},
    "unknown-field": {"base64Signature": "AAAA", "rekorBundle": {}, "extra": 1},
    "integratedTime-string": {"SignedEntryTimestamp": "AAAA", "Payload": {
        "body": "e30=", "integratedTime": "1", "logIndex": 1, "logID": "00"}},
    "logIndex-negative": {"SignedEntryTimestamp": "AAAA", "Payload": {
        "body": "e30=", "integratedTime": 1, "logIndex": -1, "logID": "00"}},
    "logID-not-hex": {"SignedEntryTimestamp": "AAAA", "Payload": {
        "body": "e30=", "integratedTime": 1, "logIndex": 1, "logID": "zz"}},
    "body-not-json": {"SignedEntryTimestamp": "AAAA", "Payload": {
        "body": "AAAA", "integratedTime": 1, "logIndex": 1, "logID": "00"}},
    "body-no-kind": {"SignedEntryTimestamp": "AAAA", "Payload": {
        "body": "e30=", "integratedTime": 1, "logIndex": 1, "logID": "00"}},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_cosign_bundle_is_one_error_line(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from sceau.cli.main import main

    path = write_json(tmp_path / "bad.bundle", MALFORMED[name])
    argv = ["verify", str(COSIGN / "offline-rekor.txt"), "--bundle", str(path),
            "--signature", str(COSIGN / "offline-rekor.txt.sig"), *OFFLINE_ID, *TRUST]  # fmt: skip
    if "base64Signature" in MALFORMED[name]:
        argv = argv[:4] + argv[6:]  # the signature comes from the bundle
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "signature file is empty"), (b"not base64!", "signature is not base64")],
)
def test_bad_signature_file(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "sig").write_bytes(content)
    p = sceau("verify", str(COSIGN / "offline-rekor.txt"), "--signature", str(tmp_path / "sig"),
              "--certificate", str(COSIGN / "offline-rekor.txt.crt"), "--insecure-ignore-tlog",
              *OFFLINE_ID, *TRUST, home=tmp_path)  # fmt: skip
    one_error_line(p, message)


def test_digest_without_signature_or_bundle(tmp_path: Path) -> None:
    p = sceau("verify", BUNDLE_TXT_DIGEST, "--insecure-ignore-tlog", *BUNDLE_TXT_ID, *TRUST,
              home=tmp_path)  # fmt: skip
    one_error_line(p, "no signature")
