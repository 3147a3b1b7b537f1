"""Signing failures: one ``error:`` line, exit 1, never a traceback; nothing half-done."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from sceau.client.sign import SigningServiceError, sign_artifact
from sceau.client.signing_config import SigningConfig
from tests.client_sign.conftest import Instance, one_error_line

pytestmark = pytest.mark.server


def _jwt(claims: dict) -> str:
    def part(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'ES256'})}.{part(claims)}.c2ln"


def test_garbage_and_expired_tokens(instance: Instance, artifact: Path) -> None:
    sign = ["sign", "--instance-dir", str(instance.dir), str(artifact)]
    one_error_line(instance.run(*sign, "--identity-token", "garbage"), "not a JWT")
    now = int(time.time())
    expired = _jwt({"iss": instance.issuer, "sub": "a@b.c", "aud": "sigstore",
                    "iat": now - 700, "exp": now - 100})  # fmt: skip
    one_error_line(instance.run(*sign, SIGSTORE_ID_TOKEN=expired), "expired")
    # Well-formed claims but a forged signature: the CA refuses it.
    forged = _jwt({"iss": instance.issuer, "sub": "a@b.c", "email": "a@b.c", "aud": "sigstore",
                   "iat": now, "exp": now + 600})  # fmt: skip
    one_error_line(instance.run(*sign, "--identity-token", forged), "CA refused", "401")
    one_error_line(instance.run(*sign), "no identity token")
    assert not Path(str(artifact) + ".sigstore.json").exists()


def test_unreachable_services(instance: Instance, artifact: Path, tmp_path: Path) -> None:
    dead = "http://127.0.0.1:9"
    cfg = json.loads(instance.trust_config.read_text())["signingConfig"]
    bad_ca = instance.trust_config_with(
        tmp_path / "ca.json", caUrls=[{**cfg["caUrls"][0], "url": dead}]
    )
    r = instance.run("sign", "--trust-config", str(bad_ca), str(artifact),
                     SIGSTORE_ID_TOKEN=instance.token())  # fmt: skip
    one_error_line(r, "cannot reach the CA", dead)

    # Rekor v2 needs a timestamp: with the TSA down, nothing is logged.
    bad_tsa = instance.trust_config_with(
        tmp_path / "tsa.json", tsaUrls=[{**cfg["tsaUrls"][0], "url": dead + "/api/v1/timestamp"}]
    )
    r = instance.run("sign", "--trust-config", str(bad_tsa), "--rekor-version", "2",
                     str(artifact), SIGSTORE_ID_TOKEN=instance.token())  # fmt: skip
    one_error_line(r, "Rekor v2 needs an RFC 3161 timestamp")
    # Rekor v1 has the SET: a failing TSA is only a warning.
    r = instance.run("sign", "--trust-config", str(bad_tsa), "--rekor-version", "1",
                     str(artifact), SIGSTORE_ID_TOKEN=instance.token())  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "skipping TSA" in r.stderr and "Traceback" not in r.stderr


def test_unreachable_log(instance: Instance, trust, artifact: Path, tmp_path: Path) -> None:
    _, tr = trust
    doc = json.loads(instance.trust_config.read_text())["signingConfig"]
    doc["rekorTlogUrls"] = [{**u, "url": "http://127.0.0.1:9"} for u in doc["rekorTlogUrls"]]
    with pytest.raises(SigningServiceError, match="cannot reach the Rekor v1 log"):
        sign_artifact(artifact, instance.token(), SigningConfig.from_json(json.dumps(doc)), tr,
                      rekor_version=1)  # fmt: skip


def test_cli_usage_errors(instance: Instance, artifact: Path, tmp_path: Path) -> None:
    base = ["sign", "--instance-dir", str(instance.dir)]
    one_error_line(
        instance.run(*base, str(artifact), str(artifact), "--bundle", str(tmp_path / "b")),
        "--bundle takes one FILE",
    )
    one_error_line(instance.run(*base, str(tmp_path / "missing")), "not a readable file")
    one_error_line(
        instance.run("sign", "--instance-dir", str(tmp_path), str(artifact)), "cannot read trust"
    )
    one_error_line(
        instance.run(*base, "--key", str(tmp_path / "k.pem"), "--identity-token", "x",
                     str(artifact)),
        "cannot be combined",
    )  # fmt: skip


def test_rekor_v2_without_tsa_fails_before_any_request(instance: Instance, trust) -> None:
    """No TSA and a Rekor v2 log: refused up front (the dead CA URL is never called)."""
    from sceau.client.sign import SigningContext

    _, tr = trust
    doc = json.loads(instance.trust_config.read_text())["signingConfig"]
    doc["tsaUrls"] = []
    doc["caUrls"] = [{**doc["caUrls"][0], "url": "http://127.0.0.1:9"}]
    ctx = SigningContext(SigningConfig.from_json(json.dumps(doc)), tr, rekor_version=2)
    with pytest.raises(SigningServiceError, match="names no valid TSA"):
        with ctx.signer(instance.token()):
            pass
