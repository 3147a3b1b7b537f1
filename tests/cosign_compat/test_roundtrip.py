"""Against a served instance: sign as cosign users do (detached outputs, cosign.key), then
verify every way cosign does — detached material looked up in the instance's Rekor v1,
checked against a Sigstore bundle, as a legacy cosign bundle, by key — and refuse
tampered material with one clear error line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cosign_compat.conftest import (
    Instance,
    legacy_bundle,
    one_error_line,
    sceau,
    write_json,
)


@pytest.fixture(scope="module")
def signed(instance: Instance, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with file.txt signed keylessly: file.txt.sigstore.json, sig, cert.pem."""
    d = tmp_path_factory.mktemp("signed")
    (d / "file.txt").write_bytes(b"cosign users sign this\n")
    p = sceau("sign", "file.txt", "--output-signature", "sig", "--output-certificate",
              "cert.pem", "--identity-token", instance.token(), *instance.signing(),
              cwd=d, home=instance.home)  # fmt: skip
    assert p.returncode == 0, p.stderr
    return d


def test_detached_outputs_are_cosigns_formats(signed: Path) -> None:
    bundle = json.loads((signed / "file.txt.sigstore.json").read_text())
    assert (signed / "sig").read_text() == bundle["messageSignature"]["signature"]
    pem = (signed / "cert.pem").read_text()
    assert pem.startswith("-----BEGIN CERTIFICATE-----\n") and pem.endswith("-----\n")


def test_detached_looked_up_in_rekor(instance: Instance, signed: Path) -> None:
    p = sceau("verify", "file.txt", "--signature", "sig", "--certificate", "cert.pem",
              "--rekor-url", instance.url, *instance.identity(), cwd=signed,
              home=instance.home)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("OK: file.txt signed by cosign-user@example.com")


def test_detached_lookup_finds_nothing_for_another_file(
    instance: Instance, signed: Path, tmp_path: Path
) -> None:
    (tmp_path / "other.txt").write_bytes(b"never signed\n")
    p = sceau("verify", str(tmp_path / "other.txt"), "--signature", str(signed / "sig"),
              "--certificate", str(signed / "cert.pem"), "--rekor-url", instance.url,
              *instance.identity(), home=instance.home)  # fmt: skip
    one_error_line(p, "no entry in the log at", instance.url)


def test_detached_with_the_sigstore_bundle(instance: Instance, signed: Path) -> None:
    p = sceau("verify", "file.txt", "--signature", "sig", "--certificate", "cert.pem",
              "--bundle", "file.txt.sigstore.json", *instance.identity(), cwd=signed,
              home=instance.home)  # fmt: skip
    assert p.returncode == 0, p.stderr


def test_detached_with_certificate_chain(instance: Instance, signed: Path, tmp_path: Path) -> None:
    """The chain must be the path the trusted root gives: the instance's own CA passes,
    a certificate that is not on that path is refused."""
    root = json.loads(instance.trusted_root.read_text())
    chain_der = [
        c["rawBytes"] for c in root["certificateAuthorities"][0]["certChain"]["certificates"]
    ]
    pems = "".join(
        "-----BEGIN CERTIFICATE-----\n" + "\n".join(c[i : i + 64] for i in range(0, len(c), 64))
        + "\n-----END CERTIFICATE-----\n" for c in chain_der
    )  # fmt: skip
    (tmp_path / "chain.pem").write_text(pems)
    args = ["verify", "file.txt", "--signature", "sig", "--certificate", "cert.pem",
            "--rekor-url", instance.url, *instance.identity()]  # fmt: skip
    p = sceau(*args, "--certificate-chain", str(tmp_path / "chain.pem"), cwd=signed,
              home=instance.home)  # fmt: skip
    assert p.returncode == 0, p.stderr
    p = sceau(*args, "--certificate-chain", "cert.pem", cwd=signed, home=instance.home)
    one_error_line(p, "--certificate-chain is not the certificate's path")


def test_legacy_bundle_of_the_instance(instance: Instance, signed: Path, tmp_path: Path) -> None:
    legacy = legacy_bundle(json.loads((signed / "file.txt.sigstore.json").read_text()))
    path = write_json(tmp_path / "file.txt.bundle", legacy)
    p = sceau("verify", str(signed / "file.txt"), "--bundle", str(path), *instance.identity(),
              home=instance.home)  # fmt: skip
    assert p.returncode == 0, p.stderr
    legacy["rekorBundle"]["Payload"]["integratedTime"] += 1
    write_json(path, legacy)
    p = sceau("verify", str(signed / "file.txt"), "--bundle", str(path), *instance.identity(),
              home=instance.home)  # fmt: skip
    one_error_line(p, "inclusion promise (SET) does not verify")


def test_tampered_detached_signature_is_refused(
    instance: Instance, signed: Path, tmp_path: Path
) -> None:
    import base64

    raw = bytearray(base64.b64decode((signed / "sig").read_text()))
    raw[-3] ^= 1
    (tmp_path / "sig").write_text(base64.b64encode(bytes(raw)).decode())
    p = sceau("verify", str(signed / "file.txt"), "--signature", str(tmp_path / "sig"),
              "--certificate", str(signed / "cert.pem"),
              "--bundle", str(signed / "file.txt.sigstore.json"), *instance.identity(),
              home=instance.home)  # fmt: skip
    one_error_line(p, "differs from the bundle's signature")


def test_cosign_key_pair_round_trip(instance: Instance, tmp_path: Path) -> None:
    """generate-key-pair → sign --key cosign.key → verify --key cosign.pub, by look-up."""
    env = {"COSIGN_PASSWORD": "pa55"}
    assert sceau("generate-key-pair", cwd=tmp_path, home=instance.home, **env).returncode == 0
    (tmp_path / "blob").write_bytes(b"blob signed with a cosign key\n")
    p = sceau("sign", "blob", "--key", "cosign.key", "--output-signature", "blob.sig",
              *instance.signing(), cwd=tmp_path, home=instance.home, **env)  # fmt: skip
    assert p.returncode == 0, p.stderr
    trust = ["--trust-config", str(instance.trust_config)]
    p = sceau("verify", "blob", "--key", "cosign.pub", "--signature", "blob.sig",
              "--rekor-url", instance.url, *trust, cwd=tmp_path, home=instance.home)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "signed by the given key" in p.stdout
    # the wrong password, and a key that is not the signer's
    bad = sceau("sign", "blob", "--key", "cosign.key", *instance.signing(), "--bundle", "x.json",
                cwd=tmp_path, home=instance.home, COSIGN_PASSWORD="nope")  # fmt: skip
    one_error_line(bad, "cannot decrypt the private key")
    other = tmp_path / "other"
    other.mkdir()
    sceau("generate-key-pair", cwd=other, home=instance.home, **env)
    p = sceau("verify", "blob", "--key", str(other / "cosign.pub"), "--signature", "blob.sig",
              "--rekor-url", instance.url, *trust, cwd=tmp_path, home=instance.home)  # fmt: skip
    one_error_line(p, "no entry in the log")
    # the legacy bundle cosign writes for a key: the key's PEM in "cert"
    sigstore = json.loads((tmp_path / "blob.sigstore.json").read_text())
    legacy = legacy_bundle(sigstore, (tmp_path / "cosign.pub").read_bytes())
    write_json(tmp_path / "blob.bundle", legacy)
    p = sceau("verify", "blob", "--key", "cosign.pub", "--bundle", "blob.bundle", *trust,
              cwd=tmp_path, home=instance.home)  # fmt: skip
    assert p.returncode == 0, p.stderr
    p = sceau("verify", "blob", "--key", str(other / "cosign.pub"), "--bundle", "blob.bundle",
              *trust, cwd=tmp_path, home=instance.home)  # fmt: skip
    one_error_line(p, "the bundle's public key is not the --key given")


@pytest.mark.parametrize(
    ("short", "uri"),
    [
        ("slsaprovenance", "https://slsa.dev/provenance/v0.2"),
        ("slsaprovenance1", "https://slsa.dev/provenance/v1"),
        ("spdxjson", "https://spdx.dev/Document"),
        ("cyclonedx", "https://cyclonedx.org/bom"),
        ("vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"),
        ("openvex", "https://openvex.dev/ns"),
        ("custom", "https://cosign.sigstore.dev/attestation/v1"),
        ("https://example.com/my-predicate/v1", "https://example.com/my-predicate/v1"),
    ],
)
def test_attest_type_and_verify_attestation_filter(
    instance: Instance, tmp_path: Path, short: str, uri: str
) -> None:
    (tmp_path / "a.bin").write_bytes(b"attested " + short.encode())
    (tmp_path / "pred.json").write_text('{"k": "v"}')
    p = sceau("attest", "a.bin", "--predicate", "pred.json", "--type", short,
              "--identity-token", instance.token(), *instance.signing(), cwd=tmp_path,
              home=instance.home)  # fmt: skip
    assert p.returncode == 0, p.stderr
    verify = ["verify-attestation", "a.bin", "--bundle", "a.bin.intoto.sigstore.json",
              *instance.identity()]  # fmt: skip
    for t in (short, uri):
        p = sceau(*verify, "--type", t, cwd=tmp_path, home=instance.home)
        assert p.returncode == 0, p.stderr
        assert f"predicateType: {uri}" in p.stdout
    other = "link" if short != "link" else "vuln"
    p = sceau(*verify, "--type", other, cwd=tmp_path, home=instance.home)
    one_error_line(p, "attestation predicate type is", uri)


def test_attest_rejects_a_type_that_is_not_a_uri(instance: Instance, tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"x")
    (tmp_path / "pred.json").write_text("{}")
    p = sceau("attest", "a.bin", "--predicate", "pred.json", "--type", "slsa provenance",
              "--identity-token", instance.token(), *instance.signing(), cwd=tmp_path,
              home=instance.home)  # fmt: skip
    one_error_line(p, "invalid predicate type")


def test_detached_outputs_need_one_keyless_file(instance: Instance, tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).write_bytes(name.encode())
    p = sceau("sign", "a", "b", "--output-signature", "s", *instance.signing(), cwd=tmp_path,
              home=instance.home)  # fmt: skip
    one_error_line(p, "take one FILE")
    p = sceau("sign", "a", "--key", "k.pem", "--output-certificate", "c", *instance.signing(),
              cwd=tmp_path, home=instance.home)  # fmt: skip
    one_error_line(p, "a key has no certificate")
