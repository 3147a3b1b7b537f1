"""sigstore-js (npm ``sigstore``, ``@sigstore/sign``, ``@sigstore/verify``) against a running
``sceau serve``, and both clients verifying each other's bundles.

js signs with its top-level API (Fulcio proof-of-possession request with the token in the body,
Rekor v1, the JSON TSA request) and through ``bundleBuilderFromSigningConfig`` on the instance's
signing config (Rekor v1 or v2; v2 DSSE goes as a ``dsseRequestV002``). It verifies its own and
sigstore-python's bundles with the instance's ``trusted_root.json``; sigstore-python verifies
js's hashedrekord bundles. DSSE on Rekor v2 does not cross between today's clients
(docs/protocols.md §8), so DSSE cross-checks go through Rekor v1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.interop.conftest import EMAIL, Clients, Instance, Signed, fail_unless_ok, one_line

pytestmark = [pytest.mark.interop, pytest.mark.server, pytest.mark.slow]

PAYLOAD_TYPE = "application/vnd.in-toto+json"
JS_EMAIL = "js@example.com"

# name -> (how, rekor version, bundle type, tlog kind, kind version)
JS_CASES: dict[str, tuple[str, int, str, str, str]] = {
    "api-sign": ("sign", 1, "messageSignature", "hashedrekord", "0.0.1"),
    "api-attest": ("attest", 1, "dsseEnvelope", "dsse", "0.0.1"),
    "config-rekor1": ("builder", 1, "messageSignature", "hashedrekord", "0.0.1"),
    "config-rekor2": ("builder", 2, "messageSignature", "hashedrekord", "0.0.2"),
    "config-rekor1-dsse": ("builder", 1, "dsseEnvelope", "dsse", "0.0.1"),
    "config-rekor2-dsse": ("builder", 2, "dsseEnvelope", "dsse", "0.0.2"),
}


def _statement(subject: Path) -> bytes:
    import hashlib

    digest = hashlib.sha256(subject.read_bytes()).hexdigest()
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": subject.name, "digest": {"sha256": digest}}],
            "predicateType": "https://example.com/predicate/v1",
            "predicate": {"signedBy": "sigstore-js"},
        }
    ).encode()


@pytest.fixture(scope="module")
def js_bundles(
    js_modules: Path, clients: Clients, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Signed]:
    """Every JS_CASES case signed once by sigstore-js."""
    inst = clients.instance
    token = clients.dev_token("--email", JS_EMAIL)
    out = tmp_path_factory.mktemp("js-bundles")
    signed = {}
    for name, (how, rekor, bundle_type, kind, version) in JS_CASES.items():
        subject = out / f"{name}.txt"
        subject.write_text(f"signed by sigstore-js: {name}\n")
        dsse = bundle_type == "dsseEnvelope"
        artifact = subject
        if dsse:
            artifact = out / f"{name}.intoto.json"
            artifact.write_bytes(_statement(subject))
        bundle = out / f"{name}.sigstore.json"
        request = {
            "how": how, "url": inst.url, "signingConfig": str(inst.signing_config),
            "rekorVersion": rekor, "bundleType": bundle_type, "payloadType": PAYLOAD_TYPE,
            "token": token, "artifact": str(artifact), "out": str(bundle),
        }  # fmt: skip
        fail_unless_ok(clients.node("sign.js", request), f"sigstore-js {name}")
        # For DSSE the verified "artifact" is the statement's subject.
        signed[name] = Signed(
            name, subject, bundle, kind, version, dsse, JS_EMAIL, inst.email_issuer
        )
    return signed


def _js_verify(clients: Clients, signed: Signed, *, identity: str, issuer: str) -> dict:
    request = {
        "trustedRoot": str(clients.instance.trusted_root),
        "bundle": str(signed.bundle),
        "artifact": None if signed.dsse else str(signed.artifact),
        "identity": identity,
        "issuer": issuer,
    }
    result = clients.node("verify.js", request)
    if not result.stdout.startswith("{"):
        pytest.fail(f"verify.js crashed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    report = json.loads(result.stdout)
    assert report["ok"] is (result.returncode == 0), report
    return report


@pytest.mark.parametrize("case", list(JS_CASES))
def test_js_bundle_carries_the_expected_entry(js_bundles: dict[str, Signed], case: str) -> None:
    signed = js_bundles[case]
    bundle = signed.json()
    material = bundle["verificationMaterial"]
    (entry,) = material["tlogEntries"]
    assert entry["kindVersion"] == {"kind": signed.kind, "version": signed.version}
    assert int(entry["logIndex"]) >= 1  # present: index 0 is the genesis leaf
    # The JSON TSA request was answered: one RFC 3161 timestamp in every bundle.
    assert len(material["timestampVerificationData"]["rfc3161Timestamps"]) == 1
    # The Fulcio PoP request returned an embedded-SCT certificate (leaf only in the bundle).
    assert "certificate" in material or "x509CertificateChain" in material
    if signed.dsse:
        assert bundle["dsseEnvelope"]["payloadType"] == PAYLOAD_TYPE
    if signed.version == "0.0.1":
        assert entry["inclusionPromise"]["signedEntryTimestamp"]


@pytest.mark.parametrize("case", list(JS_CASES))
def test_js_verifies_its_own_bundles(
    clients: Clients, js_bundles: dict[str, Signed], case: str
) -> None:
    signed = js_bundles[case]
    report = _js_verify(clients, signed, identity=JS_EMAIL, issuer=signed.issuer)
    assert report["ok"], report
    assert report["identity"] == JS_EMAIL
    assert report["issuer"] == signed.issuer
    assert "timestamp-authority" in report["timestamps"]
    assert ("transparency-log" in report["timestamps"]) is (signed.version == "0.0.1")
    wrong = _js_verify(clients, signed, identity="mallory@example.com", issuer=signed.issuer)
    assert wrong["error"].startswith("UNTRUSTED_SIGNER_ERROR: certificate identity error"), wrong


@pytest.mark.parametrize("case", ["sign-rekor1", "sign-rekor2", "attest-rekor1"])
def test_js_verifies_sigstore_python_bundles(
    clients: Clients, python_bundles: dict[str, Signed], js_modules: Path, case: str
) -> None:
    signed = python_bundles[case]
    report = _js_verify(clients, signed, identity=EMAIL, issuer=signed.issuer)
    assert report["ok"], report
    assert report["identity"] == EMAIL
    wrong = _js_verify(clients, signed, identity=EMAIL, issuer="https://accounts.google.com")
    assert wrong["error"].startswith("UNTRUSTED_SIGNER_ERROR: invalid certificate extension"), wrong


def test_js_rejects_a_changed_artifact(
    clients: Clients, js_bundles: dict[str, Signed], tmp_path: Path
) -> None:
    signed = js_bundles["config-rekor2"]
    changed = tmp_path / signed.artifact.name
    changed.write_bytes(signed.artifact.read_bytes() + b"!")
    moved = Signed(**{**signed.__dict__, "artifact": changed})
    report = _js_verify(clients, moved, identity=JS_EMAIL, issuer=signed.issuer)
    assert report["error"] == "SIGNATURE_ERROR: signature verification failed", report


@pytest.mark.parametrize("case", ["api-sign", "config-rekor1", "config-rekor2", "api-attest"])
def test_sigstore_python_verifies_js_bundles(
    clients: Clients, js_bundles: dict[str, Signed], instance: Instance, case: str
) -> None:
    signed = js_bundles[case]
    result = clients.sigstore_tc(
        "verify", "identity", "--bundle", signed.bundle, "--cert-identity", JS_EMAIL,
        "--cert-oidc-issuer", instance.email_issuer, signed.artifact,
    )  # fmt: skip
    fail_unless_ok(result, f"sigstore-python verifying sigstore-js's {case} bundle")
    result = clients.sigstore_tc(
        "verify", "identity", "--bundle", signed.bundle, "--cert-identity", EMAIL,
        "--cert-oidc-issuer", instance.email_issuer, signed.artifact,
    )  # fmt: skip
    assert result.returncode != 0
    assert "SANs do not match" in one_line(result.stderr)


def _sceau(clients: Clients, *args: str | Path):
    return clients.run([sys.executable, "-m", "sceau", *map(str, args)])


@pytest.mark.parametrize("case", list(JS_CASES))
def test_sceau_verifies_js_bundles(
    clients: Clients, js_bundles: dict[str, Signed], instance: Instance, case: str
) -> None:
    """Every sigstore-js bundle, including its dsse 0.0.2 entries on Rekor v2."""
    signed = js_bundles[case]
    command = "verify-attestation" if signed.dsse else "verify"
    common = (
        "--bundle",
        signed.bundle,
        "--trusted-root",
        instance.trusted_root,
        "--certificate-oidc-issuer",
        instance.email_issuer,
        signed.artifact,
    )
    ok = _sceau(clients, command, "--certificate-identity", JS_EMAIL, *common)
    fail_unless_ok(ok, f"sceau verifying sigstore-js's {case} bundle")
    wrong = _sceau(clients, command, "--certificate-identity", EMAIL, *common)
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr


@pytest.mark.parametrize("rekor", ["1", "2"])
def test_js_verifies_sceau_bundles(
    clients: Clients, instance: Instance, tmp_path: Path, rekor: str
) -> None:
    artifact = tmp_path / f"sceau-{rekor}.txt"
    artifact.write_text(f"signed by sceau on Rekor v{rekor}\n")
    bundle = tmp_path / f"sceau-{rekor}.sigstore.json"
    token = clients.dev_token("--email", EMAIL)
    signed = _sceau(
        clients, "sign", "--instance-dir", instance.dir, "--rekor-version", rekor,
        "--identity-token", token, "--bundle", bundle, artifact,
    )  # fmt: skip
    fail_unless_ok(signed, f"sceau sign (Rekor v{rekor})")
    record = Signed(
        f"sceau-{rekor}",
        artifact,
        bundle,
        "hashedrekord",
        "0.0.1" if rekor == "1" else "0.0.2",
        False,
        EMAIL,
        instance.email_issuer,
    )
    report = _js_verify(clients, record, identity=EMAIL, issuer=instance.email_issuer)
    assert report["ok"], report
