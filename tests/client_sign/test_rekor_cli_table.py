"""Every row of docs/rekor-cli.md's table runs against a live instance and succeeds."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
from pathlib import Path

import pytest

from tests.client_sign.conftest import EMAIL, Instance

pytestmark = pytest.mark.server
DOC = Path(__file__).resolve().parents[2] / "docs" / "rekor-cli.md"


def table_rows() -> list[tuple[str, str]]:
    rows = re.findall(r"^\| `(rekor-cli [^`]*)` \| `(sceau [^`]*)` \|$", DOC.read_text(), re.M)
    assert len(rows) >= 10, "docs/rekor-cli.md lost its table"
    return rows


@pytest.fixture(scope="module")
def values(instance: Instance, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("rekor-cli")
    artifact = d / "artifact.txt"
    artifact.write_text("for the rekor-cli table")
    bundle = d / "artifact.txt.sigstore.json"
    r = instance.run("sign", str(artifact), "--bundle", str(bundle), "--trust-config",
                     str(instance.trust_config), "--identity-token", instance.token(),
                     "--rekor-version", "1")  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(bundle.read_text())
    cert = base64.b64decode(doc["verificationMaterial"]["certificate"]["rawBytes"])
    pem = d / "cert.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(cert).decode()
                   + "-----END CERTIFICATE-----\n")  # fmt: skip
    index = doc["verificationMaterial"]["tlogEntries"][0]["logIndex"]
    search = instance.run("log", "search", "--rekor-url", instance.url, "--artifact",
                          str(artifact), "--trust-config", str(instance.trust_config),
                          "--output", "json")  # fmt: skip
    (uuid,) = json.loads(search.stdout)["uuids"]
    return {
        "URL": instance.url, "N": "1", "M": str(int(index) + 1), "U": uuid, "E": EMAIL,
        "HEX": hashlib.sha256(artifact.read_bytes()).hexdigest(), "F": str(artifact),
        "B": str(bundle), "K": str(pem),
    }  # fmt: skip


@pytest.mark.parametrize("rekor_cli, sceau", table_rows())
def test_documented_row_runs(
    rekor_cli: str, sceau: str, instance: Instance, values: dict[str, str], tmp_path: Path
) -> None:
    args = [values.get(word, word) for word in shlex.split(sceau)[1:]]
    if "--index" in args:  # a real entry: the one the fixture signed
        args[args.index("--index") + 1] = str(int(values["M"]) - 1)
    r = instance.run(*args, "--trust-config", str(instance.trust_config),
                     SCEAU_STATE_DIR=str(tmp_path))  # fmt: skip
    assert r.returncode == 0, (sceau, r.stderr)
    assert "unverified" not in r.stdout and '"verified": null' not in r.stdout, r.stdout
    if "--output" in args:
        json.loads(r.stdout)
