"""Keyless signing against a real instance, checked by sceau and by sigstore-python."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from sceau.client.errors import PolicyError, SignatureError
from sceau.client.hashing import Digest
from sceau.client.policy import SAN, AllOf, Issuer
from sceau.client.sign import SigningContext, sign_artifact
from sceau.client.verify import Verifier
from tests.client_sign.conftest import EMAIL, Instance

pytestmark = pytest.mark.server


def _policy(instance: Instance, email: str = EMAIL) -> AllOf:
    return AllOf([SAN(email), Issuer(instance.issuer)])


@pytest.mark.parametrize("version", [1, 2])
def test_sign_file_then_verify(instance: Instance, trust, artifact: Path, version: int) -> None:
    sc, tr = trust
    bundle = sign_artifact(artifact, instance.token(), sc, tr, rekor_version=version).to_dict()
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": f"0.0.{version}"}
    # protobuf-JSON: int64 as strings; v1 has a promise and a time, v2 neither.
    assert isinstance(entry["logIndex"], str) and int(entry["logIndex"]) >= 1
    assert isinstance(entry["inclusionProof"]["treeSize"], str)
    assert ("inclusionPromise" in entry) == (version == 1)
    assert ("integratedTime" in entry) == (version == 1)
    assert (
        len(bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]) == 1
    )
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    digest = base64.b64decode(bundle["messageSignature"]["messageDigest"]["digest"])
    assert digest == Digest.of_bytes(artifact.read_bytes()).value

    result = Verifier(tr).verify_artifact(json.dumps(bundle), artifact, _policy(instance))
    assert result.identity == EMAIL
    # The same bundle does not verify for another file or another identity.
    with pytest.raises(SignatureError, match="digest"):
        Verifier(tr).verify_artifact(json.dumps(bundle), b"other", _policy(instance))
    with pytest.raises(PolicyError):
        Verifier(tr).verify_artifact(json.dumps(bundle), artifact, _policy(instance, "x@y.z"))


@pytest.mark.interop
@pytest.mark.parametrize("version", [1, 2])
def test_sigstore_python_cli_verifies_sceau_bundle(
    instance: Instance, tmp_path: Path, version: int
) -> None:
    art = tmp_path / f"v{version}.txt"
    art.write_text(f"signed by sceau on Rekor v{version}\n")
    r = instance.run(
        "sign", "--trust-config", str(instance.trust_config), "--rekor-version", str(version),
        str(art), SIGSTORE_ID_TOKEN=instance.token(),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"hashedrekord 0.0.{version}" in r.stdout
    v = instance.sigstore(
        "--trust-config", str(instance.trust_config), "verify", "identity", str(art),
        "--cert-identity", EMAIL, "--cert-oidc-issuer", instance.issuer,
    )  # fmt: skip
    assert v.returncode == 0, v.stderr
    assert "OK" in v.stdout + v.stderr


def test_bundle_parses_with_sigstore_models(instance: Instance, trust, artifact: Path) -> None:
    """sigstore-python's strict models (extra=forbid, strict) accept what we write."""
    from sigstore.models import Bundle

    sc, tr = trust
    for version in (1, 2):
        bundle = sign_artifact(artifact, instance.token(), sc, tr, rekor_version=version)
        Bundle.from_json(bundle.to_json())  # sigstore-python's model reads it


@pytest.mark.interop
def test_sigstore_python_library_verifies_many(instance: Instance, trust, tmp_path: Path) -> None:
    """One certificate signs several inputs (bytes, file, digest) — one CA request."""
    from sigstore.hashes import Hashed
    from sigstore.models import Bundle, ClientTrustConfig
    from sigstore.verify import Verifier as PyVerifier
    from sigstore.verify.policy import Identity
    from sigstore_models.common.v1 import HashAlgorithm

    sc, tr = trust
    data = b"some bytes to sign"
    path = tmp_path / "f.bin"
    path.write_bytes(b"file contents")
    digest = Digest.of_bytes(b"prehashed contents")
    with SigningContext(sc, tr).signer(instance.token(), ca_request="pop") as signer:
        bundles = [signer.sign_artifact(x) for x in (data, path, digest)]
    certs = {b.certificate for b in bundles}
    assert len(certs) == 1

    cfg = ClientTrustConfig.from_json(instance.trust_config.read_text())
    verifier = PyVerifier(trusted_root=cfg.trusted_root)
    policy = Identity(identity=EMAIL, issuer=instance.issuer)
    inputs = [
        data,
        path.read_bytes(),
        Hashed(algorithm=HashAlgorithm.SHA2_256, digest=digest.value),
    ]
    for bundle, x in zip(bundles, inputs, strict=True):
        verifier.verify_artifact(x, Bundle.from_json(bundle.to_json()), policy)


def _python_trust_config(instance: Instance, path: Path, version: int) -> Path:
    doc = json.loads(instance.trust_config.read_text())
    sc = doc["signingConfig"]
    sc["rekorTlogUrls"] = [u for u in sc["rekorTlogUrls"] if u["majorApiVersion"] == version]
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.interop
@pytest.mark.parametrize("version", [1, 2])
def test_sceau_verifies_sigstore_python_bundles(
    instance: Instance, trust, tmp_path: Path, version: int
) -> None:
    from sigstore import dsse
    from sigstore.models import ClientTrustConfig
    from sigstore.oidc import IdentityToken
    from sigstore.sign import SigningContext as PySigningContext

    _, tr = trust
    cfg_path = _python_trust_config(instance, tmp_path / "cfg.json", version)
    cfg = ClientTrustConfig.from_json(cfg_path.read_text())
    ctx = PySigningContext.from_trust_config(cfg)
    data = b"signed by sigstore-python"
    digest = Digest.of_bytes(data)
    statement = (
        dsse.StatementBuilder()
        .subjects([dsse.Subject(name="x", digest={"sha256": digest.hex})])
        .predicate_type("https://example.com/predicate")
        .predicate({"k": "v"})
        .build()
    )
    with ctx.signer(IdentityToken(instance.token())) as signer:
        message = signer.sign_artifact(data)
        attestation = signer.sign_dsse(statement)
    verifier = Verifier(tr)
    r1 = verifier.verify_artifact(message.to_json(), data, _policy(instance))
    r2 = verifier.verify_artifact(attestation.to_json(), digest, _policy(instance))
    assert r1.identity == r2.identity == EMAIL
    docs = [json.loads(b.to_json()) for b in (message, attestation)]
    kinds = {d["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"] for d in docs}
    assert kinds == ({"hashedrekord", "dsse"} if version == 1 else {"hashedrekord"})


def test_cli_instance_dir_as_serve_prints(instance: Instance, tmp_path: Path) -> None:
    """``sceau serve`` tells users: SIGSTORE_ID_TOKEN=… sceau sign --instance-dir D FILE."""
    files = [tmp_path / "a.txt", tmp_path / "b.txt"]
    for f in files:
        f.write_text(f.name)
    r = instance.run("sign", "--instance-dir", str(instance.dir), *map(str, files),
                     cwd=tmp_path, SIGSTORE_ID_TOKEN=instance.token())  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("signed ") == 2
    # The dev issuer of a local instance hands out tokens itself.
    r2 = instance.run("sign", "--instance-dir", str(instance.dir), "--dev-email", "dev@example.org",
                      str(files[0]), "--bundle", str(tmp_path / "dev.json"))  # fmt: skip
    assert r2.returncode == 0, r2.stderr
    for f, bundle, who in [
        (files[0], Path(f"{files[0]}.sigstore.json"), EMAIL),
        (files[1], Path(f"{files[1]}.sigstore.json"), EMAIL),
        (files[0], tmp_path / "dev.json", "dev@example.org"),
    ]:
        v = instance.run(
            "verify", str(f), "--bundle", str(bundle), "--trusted-root", str(instance.trusted_root),
            "--certificate-identity", who, "--certificate-oidc-issuer", instance.issuer,
        )  # fmt: skip
        assert v.returncode == 0, v.stderr
