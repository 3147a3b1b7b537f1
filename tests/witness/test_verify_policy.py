"""``sceau verify --witness-policy`` requires k of n cosignatures on the bundle's checkpoint;
sigstore-python and sigstore-js still verify bundles whose checkpoints carry them."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sceau.keys import generate_signer
from sceau.note import cosignature_signer, format_vkey
from tests.interop.conftest import Clients, fail_unless_ok, js_modules  # noqa: F401
from tests.witness.conftest import WitnessedInstance, sceau

pytestmark = [pytest.mark.interop, pytest.mark.server, pytest.mark.slow]

EMAIL = "witnessed@example.com"


@pytest.fixture(scope="module")
def signed(witnessed: WitnessedInstance, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """A file signed by ``sceau sign`` into Rekor v2 (the witnessed log)."""
    d = tmp_path_factory.mktemp("signed")
    artifact = d / "hello.txt"
    artifact.write_text("hello, witnesses\n")
    bundle = d / "hello.sigstore.json"
    r = sceau(
        "sign", "--instance-dir", str(witnessed.dir), "--dev-email", EMAIL,
        "--rekor-version", "2", "--bundle", str(bundle), str(artifact),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return artifact, bundle


def _policy(witnessed: WitnessedInstance, path: Path, quorum: str) -> Path:
    """The instance's own policy (log, four witnesses), with another group threshold."""
    text = sceau("witness", "policy", "--instance-dir", str(witnessed.dir)).stdout
    assert "group witnesses 2 w1 w2 w3 w4" in text
    path.write_text(text.replace("group witnesses 2 ", f"group witnesses {quorum} "))
    return path


def _verify(witnessed: WitnessedInstance, artifact: Path, bundle: Path, policy: Path):
    return sceau(
        "verify", str(artifact), "--bundle", str(bundle), "--trusted-root",
        str(witnessed.trusted_root), "--certificate-identity", EMAIL,
        "--certificate-oidc-issuer", f"{witnessed.url}/oidc", "--witness-policy", str(policy),
    )  # fmt: skip


def _envelope(bundle: Path) -> str:
    entry = json.loads(bundle.read_text())["verificationMaterial"]["tlogEntries"][0]
    return entry["inclusionProof"]["checkpoint"]["envelope"]


def _with_envelope(bundle: Path, out: Path, envelope: str) -> Path:
    data = json.loads(bundle.read_text())
    data["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"] = (
        envelope
    )
    out.write_text(json.dumps(data))
    return out


def test_the_bundle_carries_both_live_witnesses(signed: tuple) -> None:
    envelope = _envelope(signed[1])
    assert "\u2014 witness.example/w1 " in envelope
    assert "\u2014 witness.example/w2 " in envelope
    assert "witness.example/down" not in envelope
    assert "witness.example/hung" not in envelope


def test_k_cosignatures_accepted(witnessed: WitnessedInstance, signed: tuple, tmp_path: Path):
    for quorum in ("2", "any"):
        r = _verify(witnessed, *signed, _policy(witnessed, tmp_path / f"{quorum}.policy", quorum))
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("OK: ")


def test_k_minus_one_refused(witnessed: WitnessedInstance, signed: tuple, tmp_path: Path):
    r = _verify(witnessed, *signed, _policy(witnessed, tmp_path / "3.policy", "3"))
    assert r.returncode == 1
    assert r.stderr.startswith("error: ")
    assert "2 valid witness cosignature(s)" in r.stderr and "3 of [w1, w2, w3, w4]" in r.stderr
    assert r.stderr.count("\n") == 1  # one line, no traceback


def test_forged_line_refused(witnessed: WitnessedInstance, signed: tuple, tmp_path: Path):
    artifact, bundle = signed
    policy = _policy(witnessed, tmp_path / "2.policy", "2")
    envelope = _envelope(bundle)
    # 1. w1's line with one bit of its signature flipped: a known key that fails.
    lines = envelope.split("\n")
    i = next(n for n, line in enumerate(lines) if line.startswith("\u2014 witness.example/w1 "))
    name, sig = lines[i].rsplit(" ", 1)
    raw = bytearray(base64.b64decode(sig))
    raw[-1] ^= 0x01
    lines[i] = f"{name} {base64.b64encode(bytes(raw)).decode()}"
    forged = _with_envelope(bundle, tmp_path / "flipped.json", "\n".join(lines))
    r = _verify(witnessed, artifact, forged, policy)
    assert r.returncode == 1 and "signature from known key witness.example/w1" in r.stderr
    # 2. w1's line replaced by one made with another key under the same name: ignored, so
    #    only w2 counts and 1 < 2.
    from sceau.note import Checkpoint, parse_note, sign_note

    body = parse_note(envelope).body
    Checkpoint.parse(body)
    impostor = cosignature_signer("witness.example/w1", generate_signer("ed25519"))
    fake_line = sign_note(body, [impostor]).split("\n\n", 1)[1].rstrip("\n")
    lines = envelope.split("\n")
    lines[i] = fake_line
    swapped = _with_envelope(bundle, tmp_path / "impostor.json", "\n".join(lines))
    r = _verify(witnessed, artifact, swapped, policy)
    assert r.returncode == 1 and "1 valid witness cosignature(s) (w2)" in r.stderr
    assert format_vkey(impostor) not in policy.read_text()


def test_a_policy_for_another_log_is_refused(
    witnessed: WitnessedInstance, signed: tuple, tmp_path: Path
) -> None:
    from sceau.note import note_signer

    other = format_vkey(note_signer("other.example", generate_signer("ed25519")))
    text = _policy(witnessed, tmp_path / "p", "2").read_text().split("\n", 1)[1]
    policy = tmp_path / "other.policy"
    policy.write_text(f"log {other}\n{text}")
    r = _verify(witnessed, *signed, policy)
    assert r.returncode == 1 and "not among the witness policy's logs" in r.stderr


def test_a_malformed_policy_is_one_line_error(
    witnessed: WitnessedInstance, signed: tuple, tmp_path: Path
) -> None:
    policy = tmp_path / "bad.policy"
    policy.write_text("witness w1 not-a-vkey\nquorum w1\n")
    r = _verify(witnessed, *signed, policy)
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: {policy}:1: ") and r.stderr.count("\n") == 1


def test_sigstore_python_verifies_a_cosigned_bundle(
    clients: Clients, witnessed: WitnessedInstance, signed: tuple, tmp_path: Path
) -> None:
    artifact, bundle = signed
    r = clients.sigstore_tc(
        "verify", "identity", "--bundle", bundle, "--cert-identity", EMAIL,
        "--cert-oidc-issuer", f"{witnessed.url}/oidc", artifact,
    )  # fmt: skip
    fail_unless_ok(r, "sigstore-python verifying a cosigned bundle")
    # And a bundle sigstore-python made itself, signed into the witnessed log, passes ours.
    token = sceau("dev-token", "--dir", str(witnessed.dir), "--email", EMAIL).stdout.strip()
    mine = tmp_path / "py.txt"
    mine.write_text("signed by sigstore-python\n")
    out = tmp_path / "py.sigstore.json"
    r = clients.sigstore_tc(
        "sign", "--rekor-version", "2", "--identity-token", token, "--bundle", out, mine
    )
    fail_unless_ok(r, "sigstore-python signing into the witnessed log")
    assert "\u2014 witness.example/w2 " in _envelope(out)
    r = _verify(witnessed, mine, out, _policy(witnessed, tmp_path / "2.policy", "2"))
    assert r.returncode == 0, r.stderr


def test_sigstore_js_verifies_a_cosigned_bundle(
    clients: Clients,
    witnessed: WitnessedInstance,
    signed: tuple,
    js_modules: Path,  # noqa: F811
) -> None:
    artifact, bundle = signed
    request = {
        "trustedRoot": str(witnessed.trusted_root),
        "bundle": str(bundle),
        "artifact": str(artifact),
        "identity": EMAIL,
        "issuer": f"{witnessed.url}/oidc",
    }
    r = clients.node("verify.js", request)
    assert r.stdout.startswith("{"), r.stderr[-3000:]
    report = json.loads(r.stdout)
    assert report["ok"], report
    assert report["identity"] == EMAIL


def test_sceau_verify_without_policy_ignores_cosignatures(
    witnessed: WitnessedInstance, signed: tuple
) -> None:
    artifact, bundle = signed
    r = subprocess.run(
        [sys.executable, "-m", "sceau", "verify", str(artifact), "--bundle", str(bundle),
         "--trusted-root", str(witnessed.trusted_root), "--certificate-identity", EMAIL,
         "--certificate-oidc-issuer", f"{witnessed.url}/oidc"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
