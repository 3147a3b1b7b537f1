"""``sceau attest``: an in-toto statement in DSSE, verified by sceau and sigstore-python."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sceau.client.hashing import Digest
from sceau.client.policy import SAN, AllOf, Issuer
from sceau.client.sign import SigningContext, in_toto_statement
from sceau.client.verify import Verifier
from tests.client_sign.conftest import EMAIL, Instance

pytestmark = pytest.mark.server
# A minimal SLSA v1 predicate that sigstore-python's pydantic model accepts.
PREDICATE = {
    "buildDefinition": {"buildType": "https://example.com/build/v1", "externalParameters": {}},
    "runDetails": {"builder": {"id": "https://example.com/builder"}},
}


@pytest.mark.interop
def test_attest_cli_v1_then_verify(instance: Instance, artifact: Path, tmp_path: Path) -> None:
    pred = tmp_path / "predicate.json"
    pred.write_text(json.dumps(PREDICATE))
    r = instance.run(
        "attest", "--trust-config", str(instance.trust_config), "--rekor-version", "1",
        "--predicate", str(pred), "--type", "slsaprovenance1", str(artifact),
        SIGSTORE_ID_TOKEN=instance.token(),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = Path(str(artifact) + ".intoto.sigstore.json")
    bundle = json.loads(out.read_text())
    assert bundle["dsseEnvelope"]["payloadType"] == "application/vnd.in-toto+json"
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    assert entry["kindVersion"] == {"kind": "dsse", "version": "0.0.1"}
    statement = json.loads(__import__("base64").b64decode(bundle["dsseEnvelope"]["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    assert statement["subject"] == [
        {"name": artifact.name, "digest": {"sha256": Digest.of_bytes(artifact.read_bytes()).hex}}
    ]

    v = instance.run(
        "verify-attestation", str(artifact), "--bundle", str(out),
        "--trusted-root", str(instance.trusted_root),
        "--certificate-identity", EMAIL, "--certificate-oidc-issuer", instance.issuer,
    )  # fmt: skip
    assert v.returncode == 0, v.stderr
    assert "predicateType: https://slsa.dev/provenance/v1" in v.stdout

    py = instance.sigstore(
        "--trust-config", str(instance.trust_config), "verify", "identity", str(artifact),
        "--bundle", str(out), "--cert-identity", EMAIL, "--cert-oidc-issuer", instance.issuer,
    )  # fmt: skip
    assert py.returncode == 0, py.stderr


@pytest.mark.interop
def test_attest_v2_is_hashedrekord_over_pae(instance: Instance, trust) -> None:
    """On Rekor v2 the envelope is logged as hashedrekord over PAE; both verifiers agree."""
    from sigstore.models import Bundle, ClientTrustConfig
    from sigstore.verify import Verifier as PyVerifier
    from sigstore.verify.policy import Identity

    sc, tr = trust
    digest = Digest.of_bytes(b"subject")
    statement = in_toto_statement([("subject.bin", digest)], "https://example.com/p", {"a": 1})
    with SigningContext(sc, tr, rekor_version=2).signer(instance.token()) as signer:
        bundle = signer.sign_dsse(statement).to_dict()
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
    result = Verifier(tr).verify_artifact(
        json.dumps(bundle), digest, AllOf([SAN(EMAIL), Issuer(instance.issuer)])
    )
    assert result.statement is not None and result.statement["predicate"] == {"a": 1}
    cfg = ClientTrustConfig.from_json(instance.trust_config.read_text())
    payload_type, _ = PyVerifier(trusted_root=cfg.trusted_root).verify_dsse(
        Bundle.from_json(json.dumps(bundle)), Identity(identity=EMAIL, issuer=instance.issuer)
    )
    assert payload_type == "application/vnd.in-toto+json"


def test_attest_refuses_bad_predicate(instance: Instance, artifact: Path, tmp_path: Path) -> None:
    pred = tmp_path / "p.json"
    pred.write_text("[1, 2]")
    r = instance.run(
        "attest", "--instance-dir", str(instance.dir), "--predicate", str(pred),
        "--type", "https://example.com/p", str(artifact), SIGSTORE_ID_TOKEN=instance.token(),
    )  # fmt: skip
    from tests.client_sign.conftest import one_error_line

    one_error_line(r, "must be a JSON object")
