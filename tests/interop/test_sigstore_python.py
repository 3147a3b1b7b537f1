"""sigstore-python's CLI (4.5.x) signs and verifies against a running ``sceau serve``.

Signing goes through ``--trust-config`` (Rekor v1, Rekor v2 with a TSA timestamp, DSSE
attestations on both) and through ``--instance <url>/tuf`` after ``trust-instance``;
verification fails for a wrong identity, a wrong issuer and a changed artifact.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.interop.conftest import (
    EMAIL,
    PREDICATE,
    PYTHON_CASES,
    SLSA_V1,
    WORKFLOW,
    WORKFLOW_SAN,
    Clients,
    Instance,
    Signed,
    fail_unless_ok,
    one_line,
)

pytestmark = [pytest.mark.interop, pytest.mark.server, pytest.mark.slow]

CASES = list(PYTHON_CASES)


def _verify(clients: Clients, signed: Signed, *, identity: str, issuer: str, artifact=None):
    return clients.sigstore_tc(
        "verify", "identity", "--bundle", signed.bundle, "--cert-identity", identity,
        "--cert-oidc-issuer", issuer, artifact or signed.artifact,
    )  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_bundle_carries_the_expected_entry(
    python_bundles: dict[str, Signed], instance: Instance, case: str
) -> None:
    signed = python_bundles[case]
    bundle = signed.json()
    material = bundle["verificationMaterial"]
    (entry,) = material["tlogEntries"]
    assert entry["kindVersion"] == {"kind": signed.kind, "version": signed.version}
    # Real entries never sit at index 0 (the genesis leaf does): clients drop zero values.
    assert int(entry["logIndex"]) >= 1
    assert int(entry["inclusionProof"]["logIndex"]) >= 1
    assert entry["inclusionProof"]["checkpoint"]["envelope"].count("\n\n") == 1
    assert ("dsseEnvelope" in bundle) is signed.dsse
    assert ("messageSignature" in bundle) is not signed.dsse
    timestamps = material.get("timestampVerificationData", {}).get("rfc3161Timestamps", [])
    if signed.version == "0.0.2":  # Rekor v2: no SET, so the TSA timestamp is the time source
        assert "inclusionPromise" not in entry
        assert len(timestamps) == 1
    else:
        assert entry["inclusionPromise"]["signedEntryTimestamp"]
        assert int(entry["integratedTime"]) > 0
    if signed.dsse:
        envelope = bundle["dsseEnvelope"]
        statement = json.loads(base64.b64decode(envelope["payload"]))
        assert statement["predicateType"] == SLSA_V1
        assert statement["predicate"] == PREDICATE
        assert statement["subject"][0]["name"] == signed.artifact.name


@pytest.mark.parametrize("case", CASES)
def test_verify_identity(clients: Clients, python_bundles: dict[str, Signed], case: str) -> None:
    signed = python_bundles[case]
    result = _verify(clients, signed, identity=EMAIL, issuer=clients.instance.email_issuer)
    fail_unless_ok(result, f"sigstore verify identity ({case})")
    assert f"OK: {signed.artifact}" in result.stderr
    if signed.dsse:  # the CLI prints the verified in-toto statement
        statement = json.loads(result.stdout)
        assert statement["predicateType"] == SLSA_V1


@pytest.mark.parametrize("case", CASES)
def test_wrong_identity_fails(
    clients: Clients, python_bundles: dict[str, Signed], case: str
) -> None:
    signed = python_bundles[case]
    result = _verify(
        clients, signed, identity="mallory@example.com", issuer=clients.instance.email_issuer
    )
    assert result.returncode != 0
    assert "SANs do not match" in one_line(result.stderr)


@pytest.mark.parametrize("case", CASES)
def test_wrong_issuer_fails(clients: Clients, python_bundles: dict[str, Signed], case: str) -> None:
    signed = python_bundles[case]
    result = _verify(clients, signed, identity=EMAIL, issuer="https://accounts.google.com")
    assert result.returncode != 0
    assert "OIDCIssuer does not match" in one_line(result.stderr)


@pytest.mark.parametrize("case", CASES)
def test_changed_artifact_fails(
    clients: Clients, python_bundles: dict[str, Signed], case: str, tmp_path: Path
) -> None:
    signed = python_bundles[case]
    tampered = tmp_path / signed.artifact.name
    data = bytearray(signed.artifact.read_bytes())
    data[0] ^= 0x01
    tampered.write_bytes(bytes(data))
    result = _verify(
        clients, signed, identity=EMAIL, issuer=clients.instance.email_issuer, artifact=tampered
    )
    assert result.returncode != 0
    assert f"FAIL: {tampered}" in one_line(result.stderr)


def test_through_tuf_instance(clients: Clients, email_token: str, tmp_path: Path) -> None:
    """``--instance <url>/tuf`` after ``trust-instance``: sign, attest, verify (and cross-check
    that a ``--trust-config`` verifier accepts the TUF-signed bundle)."""
    inst = clients.instance
    tuf = f"{inst.url}/tuf"
    fail_unless_ok(
        clients.sigstore("--instance", tuf, "trust-instance", inst.tuf_root), "trust-instance"
    )
    blob = tmp_path / "tuf-blob.txt"
    blob.write_text("signed through TUF\n")
    fail_unless_ok(
        clients.sigstore("--instance", tuf, "sign", "--identity-token", email_token, blob),
        "sigstore --instance sign",
    )
    predicate = tmp_path / "predicate.json"
    predicate.write_text(json.dumps(PREDICATE))
    att = tmp_path / "tuf-att.sigstore.json"
    fail_unless_ok(
        clients.sigstore(
            "--instance", tuf, "attest", "--rekor-version", "1", "--predicate", predicate,
            "--predicate-type", SLSA_V1, "--identity-token", email_token, "--bundle", att, blob,
        ),
        "sigstore --instance attest",
    )  # fmt: skip
    bundle = json.loads((tmp_path / "tuf-blob.txt.sigstore.json").read_text())
    # The signing config from TUF offers Rekor v2 (highest version) and the TSA.
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    assert entry["kindVersion"]["version"] == "0.0.2"
    assert bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
    for extra in ([], ["--bundle", att]):
        result = clients.sigstore(
            "--instance", tuf, "verify", "identity", *extra, "--cert-identity", EMAIL,
            "--cert-oidc-issuer", inst.email_issuer, blob,
        )  # fmt: skip
        fail_unless_ok(result, f"sigstore --instance verify identity {extra}")
    result = clients.sigstore_tc(
        "verify", "identity", "--cert-identity", EMAIL, "--cert-oidc-issuer", inst.email_issuer,
        blob,
    )  # fmt: skip
    fail_unless_ok(result, "sigstore --trust-config verify of a TUF-signed bundle")
    result = clients.sigstore(
        "--instance", tuf, "verify", "identity", "--cert-identity", "mallory@example.com",
        "--cert-oidc-issuer", inst.email_issuer, blob,
    )  # fmt: skip
    assert result.returncode != 0


@pytest.fixture(scope="module")
def github_signed(clients: Clients, github_token: str, tmp_path_factory) -> Signed:
    out = tmp_path_factory.mktemp("github")
    artifact = out / "release.tar"
    artifact.write_bytes(b"a release artifact built by a workflow\n")
    bundle = out / "release.tar.sigstore.json"
    result = clients.sigstore_tc("sign", "--identity-token", github_token, artifact)
    fail_unless_ok(result, "sigstore sign with a GitHub-shaped dev token")
    return Signed(
        "github", artifact, bundle, "hashedrekord", "0.0.2", False, WORKFLOW_SAN,
        clients.instance.github_issuer,
    )  # fmt: skip


def test_github_token_verifies_with_workflow_identity(
    clients: Clients, github_signed: Signed
) -> None:
    result = _verify(
        clients, github_signed, identity=WORKFLOW_SAN, issuer=clients.instance.github_issuer
    )
    fail_unless_ok(result, "sigstore verify identity (GitHub workflow SAN)")
    # The email issuer and another workflow of the same repository are refused.
    result = _verify(
        clients, github_signed, identity=WORKFLOW_SAN, issuer=clients.instance.email_issuer
    )
    assert result.returncode != 0
    assert "OIDCIssuer does not match" in one_line(result.stderr)
    other = WORKFLOW_SAN.replace("release.yml", "other.yml")
    result = _verify(clients, github_signed, identity=other, issuer=clients.instance.github_issuer)
    assert result.returncode != 0
    assert "SANs do not match" in one_line(result.stderr)


def test_github_claims_match_the_verify_github_policies(
    instance: Instance, github_signed: Signed
) -> None:
    """What ``sigstore verify github`` checks besides the issuer (repository, ref, trigger,
    workflow name, SHA extensions), with sigstore-python's own policies."""
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier, policy

    repo = WORKFLOW.split("/.github/")[0]
    verifier = Verifier(trusted_root=TrustedRoot.from_file(str(instance.trusted_root)))
    bundle = Bundle.from_json(github_signed.bundle.read_bytes())
    checks = policy.AllOf(
        [
            policy.Identity(identity=WORKFLOW_SAN, issuer=instance.github_issuer),
            policy.GitHubWorkflowRepository(repo),
            policy.GitHubWorkflowRef("refs/heads/main"),
            policy.GitHubWorkflowTrigger("push"),
            policy.GitHubWorkflowName("release"),
        ]
    )
    verifier.verify_artifact(github_signed.artifact.read_bytes(), bundle, checks)


def test_verify_github_pins_the_public_actions_issuer(
    clients: Clients, github_signed: Signed
) -> None:
    """``sigstore verify github`` hard-codes token.actions.githubusercontent.com, so a private
    instance's GitHub-shaped identity is verified with ``verify identity`` instead."""
    result = clients.sigstore_tc(
        "verify", "github", "--bundle", github_signed.bundle, "--cert-identity", WORKFLOW_SAN,
        "--repository", WORKFLOW.split("/.github/")[0], github_signed.artifact,
    )  # fmt: skip
    assert result.returncode != 0
    text = one_line(result.stderr)
    assert f"got '{clients.instance.github_issuer}'" in text
    assert "expected 'https://token.actions.githubusercontent.com'" in text
