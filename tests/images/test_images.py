"""``sceau image``: sign and verify images in a real registry, in both layouts, keyless and
with a key, and every refusal as one line with a non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from sceau.client.oci import Registry
from sceau.client.oci.layouts import legacy_tag
from sceau.client.oci.registry import OCI_MANIFEST
from tests.images.conftest import (
    EMAIL,
    PASSWORD,
    USER,
    Cli,
    RegistryServer,
    push_image,
    push_index,
)

pytestmark = pytest.mark.server


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, r.stderr
    return r.stdout


def refused(r: subprocess.CompletedProcess[str], *words: str) -> str:
    assert r.returncode != 0, r.stdout
    lines = r.stderr.strip().splitlines()  # "REF resolved to DIGEST" may come first
    line = lines[-1] if lines else ""
    assert line.startswith("error: ") and sum(x.startswith("error") for x in lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in line, line
    return line


@pytest.mark.parametrize(("layout", "rekor"), [("referrer", "1"), ("referrer", "2"),
                                                ("legacy", "1")])  # fmt: skip
def test_keyless_sign_then_verify(
    cli: Cli, registry: RegistryServer, layout: str, rekor: str
) -> None:
    repo = f"app-{layout}-{rekor}"
    digest = push_image(registry.host, repo, "1.0", f"{layout} {rekor}".encode())
    ref = f"{registry.host}/{repo}:1.0"
    out = ok(cli.sign(ref, "--layout", layout, "--rekor-version", rekor, "-a", "env=prod"))
    assert f"signed {registry.host}/{repo}@{digest}" in out
    verified = json.loads(ok(cli.verify(ref, "--output", "json")))
    assert [v["layout"] for v in verified] == [layout]
    assert verified[0]["docker-manifest-digest"] == digest
    assert verified[0]["identity"] == EMAIL
    assert verified[0]["annotations"] == {"env": "prod"}
    ok(cli.verify(f"{registry.host}/{repo}@{digest}", "-a", "env=prod"))
    refused(cli.verify(ref, "-a", "env=dev"), "signed annotations lack")


def test_wrong_identity_or_issuer_is_refused(cli: Cli, registry: RegistryServer) -> None:
    push_image(registry.host, "policy", "v1", b"policy")
    ref = f"{registry.host}/policy:v1"
    ok(cli.sign(ref))
    refused(cli.verify(ref, identity="mallory@example.com"), "no signatures verify")
    refused(cli.verify(ref, issuer="https://accounts.example.com"), "no signatures verify")


def test_unsigned_image_and_missing_image(cli: Cli, registry: RegistryServer) -> None:
    digest = push_image(registry.host, "unsigned", "v1", b"nobody signed me")
    refused(cli.verify(f"{registry.host}/unsigned:v1"), f"no signatures found for {digest}")
    refused(cli.verify(f"{registry.host}/unsigned:v2"), "not found")
    refused(cli.verify(f"{registry.host}/nothing-here:v1"), "not found")


def test_signature_for_another_digest_or_repository_is_refused(
    cli: Cli, registry: RegistryServer
) -> None:
    """Copy a legacy .sig manifest onto another image, and into another repository: the
    signed payload names the original digest and repository, so both are refused."""
    host = registry.host
    signed = push_image(host, "orig", "v1", b"original")
    ok(cli.sign(f"{host}/orig:v1", "--layout", "legacy"))
    other = push_image(host, "orig", "v2", b"another image")
    same_elsewhere = push_image(host, "elsewhere", "v1", b"original")
    assert same_elsewhere == signed
    with Registry(host) as reg:
        body, _, _ = reg.get_manifest("orig", legacy_tag(signed))
        manifest = json.loads(body)
        for repo in ("orig", "elsewhere"):
            for blob in [manifest["config"], *manifest["layers"]]:
                reg.put_blob(repo, reg.get_blob("orig", blob["digest"]))
        reg.put_manifest("orig", legacy_tag(other), body, OCI_MANIFEST)
        reg.put_manifest("elsewhere", legacy_tag(signed), body, OCI_MANIFEST)
    refused(cli.verify(f"{host}/orig:v2"), f"signature is for {signed}")
    refused(cli.verify(f"{host}/elsewhere:v1"), f"signature is for repository {host}/orig")


def test_tampered_annotation_is_refused(cli: Cli, registry: RegistryServer) -> None:
    host = registry.host
    digest = push_image(host, "tamper", "v1", b"tamper")
    ok(cli.sign(f"{host}/tamper:v1", "--layout", "legacy"))
    with Registry(host) as reg:
        body, _, _ = reg.get_manifest("tamper", legacy_tag(digest))
        manifest = json.loads(body)
        sig = manifest["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"]
        flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
        manifest["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"] = flipped
        reg.put_manifest("tamper", legacy_tag(digest), json.dumps(manifest).encode(), OCI_MANIFEST)
    refused(cli.verify(f"{host}/tamper:v1"), "no signatures verify")


def test_tag_moved_after_signing_verifies_the_new_digest(
    cli: Cli, registry: RegistryServer
) -> None:
    """Verification is by digest: once the tag names another image, the old signature
    does not cover it."""
    host = registry.host
    push_image(host, "moving", "latest", b"first")
    ok(cli.sign(f"{host}/moving:latest"))
    second = push_image(host, "moving", "latest", b"second")
    refused(cli.verify(f"{host}/moving:latest"), f"no signatures found for {second}")


def test_attest_and_verify_attestation(cli: Cli, registry: RegistryServer, tmp_path: Path) -> None:
    host = registry.host
    digest = push_image(host, "attested", "v1", b"attested")
    predicate = tmp_path / "predicate.json"
    predicate.write_text(json.dumps({"buildType": "https://example.com/build"}))
    ref = f"{host}/attested:v1"
    ok(cli("image", "attest", ref, "--predicate", str(predicate), "--type", "slsaprovenance1",
           "--instance-dir", str(cli.instance.dir), "--dev-email", EMAIL))  # fmt: skip
    out = json.loads(ok(cli.verify(ref, "--output", "json", action="verify-attestation")))
    assert out[0]["type"] == "https://slsa.dev/provenance/v1"
    assert out[0]["docker-manifest-digest"] == digest
    ok(cli.verify(ref, "--type", "slsaprovenance1", action="verify-attestation"))
    refused(cli.verify(ref, "--type", "spdxjson", action="verify-attestation"), "no attestations")
    refused(cli.verify(ref), "no signatures")  # an attestation is not a signature
    tree = ok(cli("image", "tree", ref))
    assert "https://slsa.dev/provenance/v1" in tree


def test_key_based_sign_and_verify(cli: Cli, registry: RegistryServer, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private, public = tmp_path / "k.pem", tmp_path / "k.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(private, 0o600)
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))  # fmt: skip
    host = registry.host
    push_image(host, "keyed", "v1", b"keyed")
    ref = f"{host}/keyed:v1"
    ok(cli("image", "sign", ref, "--key", str(private), "--instance-dir", str(cli.instance.dir)))
    ok(cli("image", "verify", ref, "--key", str(public), "--trust-config",
           str(cli.instance.trust_config)))  # fmt: skip
    other = tmp_path / "other.pub"
    other.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))  # fmt: skip
    refused(cli("image", "verify", ref, "--key", str(other), "--trust-config",
                str(cli.instance.trust_config)), "no signatures verify")  # fmt: skip


def test_multi_arch_recursive(cli: Cli, registry: RegistryServer) -> None:
    host = registry.host
    index, platforms = push_index(host, "multi", "v1", {"amd64": b"a", "arm64": b"b"})
    ok(cli.sign(f"{host}/multi:v1", "--recursive"))
    for digest in [index, *platforms]:
        ok(cli.verify(f"{host}/multi@{digest}"))


def test_basic_auth_registry(
    cli: Cli, auth_registry: RegistryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Docker's config file credentials sceau pushes and pulls; without, one line."""
    host = auth_registry.host
    ref = f"{host}/private:v1"
    refused(cli.sign(ref), "needs credentials")
    with monkeypatch.context() as m:  # the test's own pushes log in too
        m.setenv("DOCKER_CONFIG", str(auth_registry.docker_config))
        push_image(host, "private", "v1", b"private")
    ok(cli.sign(ref, docker_config=auth_registry.docker_config))
    ok(cli.verify(ref, docker_config=auth_registry.docker_config))
    refused(cli.verify(ref), "needs credentials")


def test_an_image_pushed_by_skopeo(cli: Cli, registry: RegistryServer, tmp_path: Path) -> None:
    """A third-party pusher: skopeo copies an OCI layout made here into the registry."""
    import hashlib
    import shutil

    skopeo = shutil.which("skopeo")
    assert skopeo, "skopeo is not installed (tools/install-test-deps)"
    layout = tmp_path / "layout"
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data: bytes) -> dict[str, object]:
        h = hashlib.sha256(data).hexdigest()
        (blobs / h).write_bytes(data)
        return {"digest": f"sha256:{h}", "size": len(data)}

    layer = blob(b"skopeo layer")
    config = blob(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": [layer["digest"]]}}).encode())  # fmt: skip
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}],
        }
    ).encode()
    m = blob(manifest)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": OCI_MANIFEST, **m,
         "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}))  # fmt: skip
    r = subprocess.run([skopeo, "copy", "--dest-tls-verify=false", f"oci:{layout}:v1",
                        f"docker://{registry.host}/skopeo:v1"], capture_output=True, text=True,
                       timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    ok(cli.sign(f"{registry.host}/skopeo:v1"))
    verified = json.loads(ok(cli.verify(f"{registry.host}/skopeo:v1", "--output", "json")))
    with Registry(registry.host) as reg:  # skopeo may rewrite the manifest it copies
        assert verified[0]["docker-manifest-digest"] == reg.head_manifest("skopeo", "v1")
    assert m["digest"]


def test_registry_errors_are_one_line(cli: Cli, registry: RegistryServer) -> None:
    refused(cli.verify("127.0.0.1:1/nothing:v1"), "cannot reach registry")
    refused(cli.verify(f"{registry.host}/Bad_Name:v1"), "invalid repository name")


def test_download_gives_bundles_sigstore_python_verifies(
    cli: Cli, registry: RegistryServer, tmp_path: Path
) -> None:
    """sigstore-python verifies the bundle sceau attached, over the image digest
    (``sha256:<hex>``, which its CLI accepts for a DSSE bundle whose subject it is)."""
    import sys

    host = registry.host
    digest = push_image(host, "py", "v1", b"for sigstore-python")
    ok(cli.sign(f"{host}/py:v1", "--rekor-version", "1"))
    out = ok(cli("image", "download", f"{host}/py:v1", "--output-dir", str(tmp_path)))
    bundle = Path(out.split()[0])
    sigstore = str(Path(sys.executable).with_name("sigstore"))
    r = subprocess.run(
        [sigstore, "--trust-config", str(cli.instance.trust_config), "verify", "identity",
         "--bundle", str(bundle), "--cert-identity", EMAIL, "--cert-oidc-issuer",
         cli.instance.email_issuer, digest],
        capture_output=True, text=True, env=cli.env, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr


def test_a_bundle_attached_by_sigstore_oci_verifies(
    cli: Cli, auth_registry: RegistryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """@sigstore/oci (sigstore-js; GitHub's attest actions) attaches an attestation bundle
    to the image as a referrer, logged in with basic auth as a CI job is; ``sceau image
    verify-attestation`` finds it (tag-schema fallback: this registry has no referrers API)
    and verifies it."""
    import shutil

    from sceau.client.sign import SigningContext
    from sceau.client.signing_config import SigningConfig
    from sceau.client.trust import TrustedRoot
    from sceau.keys import load_signer
    from sceau.services.oidc import DevIssuer

    registry = auth_registry
    assert registry.docker_config is not None
    monkeypatch.setenv("DOCKER_CONFIG", str(registry.docker_config))
    host = registry.host
    digest = push_image(host, "js-attached", "v1", b"attached by @sigstore/oci")
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": f"{host}/js-attached", "digest": {"sha256": digest[7:]}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {"buildType": "https://example.com/build"}},
    }
    trust = cli.instance.trust_config.read_bytes()
    context = SigningContext(SigningConfig.from_trust_config(trust),
                             TrustedRoot.from_trust_config(trust))  # fmt: skip
    dev = DevIssuer.for_instance(load_signer(cli.instance.dir / "keys" / "dev-oidc.pem"),
                                 cli.instance.url)  # fmt: skip
    with context.signer(dev.mint_email(EMAIL)) as signer:
        bundle = signer.sign_dsse(statement)
    path = tmp_path / "bundle.json"
    path.write_text(bundle.to_json())
    node = shutil.which("node")
    assert node, "node is not installed (tools/install-test-deps)"
    js = Path(__file__).with_name("js")
    r = subprocess.run([node, str(js / "attach.js"), f"{host}/js-attached", digest, str(path),
                        "https://slsa.dev/provenance/v1"], capture_output=True, text=True,
                       timeout=120, env={**os.environ, "REGISTRY_USER": USER,
                                         "REGISTRY_PASSWORD": PASSWORD})  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["digest"].startswith("sha256:")
    out = json.loads(ok(cli.verify(f"{host}/js-attached:v1", "--output", "json",
                                   action="verify-attestation",
                                   docker_config=registry.docker_config)))  # fmt: skip
    assert out[0]["type"] == "https://slsa.dev/provenance/v1"
    assert out[0]["docker-manifest-digest"] == digest


def test_a_failing_registry_is_one_line(cli: Cli) -> None:
    """A registry answering 500 (a real HTTP server on a free port): one line, exit 1."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def broken(request):  # type: ignore[no-untyped-def]
        return JSONResponse({"errors": [{"code": "UNKNOWN", "message": "disk on fire"}]}, 500)

    app = Starlette(routes=[Route("/v2/{path:path}", broken, methods=["GET", "HEAD"])])
    from tests.serving import serve_app

    with serve_app(app) as base:
        host = base.removeprefix("http://")
        line = refused(cli.verify(f"{host}/app:v1"), "failed with 500", "disk on fire")
        assert host in line


def test_a_tag_that_moves_between_resolve_and_the_end_is_an_error(
    registry: RegistryServer,
) -> None:
    """The check ``sign`` and ``verify`` run last: the tag resolved at the start must still
    name that digest (here the tag is moved in between, on the real registry)."""
    from sceau.cli.image_cmd import Target, _tag_unmoved
    from sceau.client.oci import RegistryError, parse_reference

    host = registry.host
    first = push_image(host, "racing", "v1", b"first")
    target = Target(parse_reference(f"{host}/racing:v1"), first, OCI_MANIFEST, b"")
    with Registry(host) as reg:
        _tag_unmoved(reg, target, "verifying")  # unmoved: fine
        second = push_image(host, "racing", "v1", b"second")
        with pytest.raises(RegistryError, match=f"moved from {first} to {second} while verifying"):
            _tag_unmoved(reg, target, "verifying")
