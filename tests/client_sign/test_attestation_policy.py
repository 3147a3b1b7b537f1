"""``verify-attestation --policy FILE``: a JSON Schema over the verified in-toto statement."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.client_sign.conftest import EMAIL, Instance, one_error_line

pytestmark = pytest.mark.server

PREDICATE = {"builder": {"id": "https://ci.example.com/builder"}, "buildType": "make"}


@pytest.fixture(scope="module")
def attested(instance: Instance, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("policy")
    artifact, predicate = d / "app.tar", d / "predicate.json"
    artifact.write_bytes(b"the app")
    predicate.write_text(json.dumps(PREDICATE))
    r = instance.run("attest", str(artifact), "--predicate", str(predicate), "--type",
                     "slsaprovenance1", "--trust-config", str(instance.trust_config),
                     "--identity-token", instance.token())  # fmt: skip
    assert r.returncode == 0, r.stderr
    return artifact, Path(f"{artifact}.intoto.sigstore.json")


def _verify(
    instance: Instance, attested: tuple[Path, Path], policy: Path
) -> subprocess.CompletedProcess[str]:
    artifact, bundle = attested
    return instance.run("verify-attestation", str(artifact), "--bundle", str(bundle),
                        "--policy", str(policy), "--certificate-identity", EMAIL,
                        "--certificate-oidc-issuer", instance.issuer,
                        "--trust-config", str(instance.trust_config))  # fmt: skip


def _schema(tmp_path: Path, schema: object) -> Path:
    p = tmp_path / "policy.json"
    p.write_text(json.dumps(schema))
    return p


def builder_is(value: str) -> dict[str, object]:
    return {
        "type": "object",
        "required": ["predicateType", "predicate"],
        "properties": {
            "predicateType": {"const": "https://slsa.dev/provenance/v1"},
            "predicate": {
                "type": "object",
                "required": ["builder"],
                "properties": {"builder": {"properties": {"id": {"const": value}}}},
            },
        },
    }


def test_a_satisfied_policy_passes(
    instance: Instance, attested: tuple[Path, Path], tmp_path: Path
) -> None:
    r = _verify(instance, attested, _schema(tmp_path, builder_is("https://ci.example.com/builder")))
    assert r.returncode == 0, r.stderr
    assert "predicateType: https://slsa.dev/provenance/v1" in r.stdout


def test_a_broken_policy_names_where(
    instance: Instance, attested: tuple[Path, Path], tmp_path: Path
) -> None:
    r = _verify(instance, attested, _schema(tmp_path, builder_is("https://evil.example")))
    one_error_line(r, "does not satisfy policy", "at /predicate/builder/id")


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "is not JSON"),
        (json.dumps({"type": 12}), "not a valid JSON Schema"),
        (json.dumps([1, 2]), "must be a JSON Schema"),
        (json.dumps({"$ref": "https://example.com/remote.json"}), "unresolvable $ref"),
    ],
)
def test_bad_policies_are_one_line_errors(
    instance: Instance,
    attested,
    tmp_path: Path,
    content: str,
    message: str,
) -> None:
    p = tmp_path / "policy.json"
    p.write_text(content)
    one_error_line(_verify(instance, attested, p), message)
