"""Every row of the table in docs/cosign.md ("Blobs, keys and attestations") runs, in order,
in one directory, against a served instance, and gives the documented result."""

from __future__ import annotations

import base64
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cosign_compat.conftest import Instance, legacy_bundle, one_error_line, sceau, write_json

DOC = Path(__file__).resolve().parents[2] / "docs" / "cosign.md"
SECTION = "## Blobs, keys and attestations"
PASSWORD = {"COSIGN_PASSWORD": "table-password"}


@dataclass(frozen=True)
class Row:
    cosign: str
    sceau: list[str]
    result: str


def rows() -> list[Row]:
    text = DOC.read_text()
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    found = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`cosign "):
            continue
        found.append(Row(cells[0].strip("`"), shlex.split(cells[1].strip("`")), cells[2]))
    return found


ROWS = rows()


def test_table_is_there() -> None:
    assert len(ROWS) >= 12
    assert all(r.sceau[0] == "sceau" for r in ROWS)


def _pem(b64: str) -> str:
    body = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"


def _prepare(instance: Instance, work: Path, args: list[str]) -> None:
    """Files a row names that an earlier row does not write."""
    if "chain.pem" in args and not (work / "chain.pem").exists():
        root = json.loads(instance.trusted_root.read_text())
        certs = root["certificateAuthorities"][0]["certChain"]["certificates"]
        (work / "chain.pem").write_text("".join(_pem(c["rawBytes"]) for c in certs))
    if "cosign.bundle" in args and not (work / "cosign.bundle").exists():
        sigstore = json.loads((work / "file.txt.sigstore.json").read_text())
        write_json(work / "cosign.bundle", legacy_bundle(sigstore))
    if "blob.bundle" in args and not (work / "blob.bundle").exists():
        sigstore = json.loads((work / "blob.txt.sigstore.json").read_text())
        key = (work / "cosign.pub").read_bytes()
        write_json(work / "blob.bundle", legacy_bundle(sigstore, key))


def _context(instance: Instance, args: list[str]) -> list[str]:
    """The instance-dependent options the table leaves out (see docs/cosign.md)."""
    command, keyed = args[1], "--key" in args
    if command in ("sign", "attest"):
        identity = [] if keyed else ["--identity-token", instance.token()]
        return [*identity, *instance.signing()]
    if command in ("verify", "verify-attestation"):
        trust = ["--trust-config", str(instance.trust_config)]
        if keyed:
            return trust
        policy = instance.identity()
        if "--certificate-identity-regexp" in args:  # the row gives the identity itself
            policy = policy[2:]
        return policy
    return []


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("table")
    (d / "file.txt").write_bytes(b"a file, signed keylessly\n")
    (d / "blob.txt").write_bytes(b"a blob, signed with cosign.key\n")
    (d / "pred.json").write_text(json.dumps({"buildType": "https://example.com/build"}))
    return d


@pytest.mark.parametrize("row", ROWS, ids=[" ".join(r.sceau[1:4]) for r in ROWS])
def test_row(instance: Instance, work: Path, row: Row) -> None:
    args = [a.replace("$REKOR", instance.url) for a in row.sceau]
    _prepare(instance, work, args)
    proc = sceau(*args[1:], *_context(instance, args), cwd=work, home=instance.home,
                 **PASSWORD)  # fmt: skip
    expected = re.sub(r"^(OK|error): ", "", row.result)
    if row.result.startswith("error: "):
        one_error_line(proc, expected)
    else:
        assert row.result.startswith("OK: "), row.result
        assert proc.returncode == 0, proc.stderr
        assert expected in proc.stdout, proc.stdout


def test_generated_key_is_private(work: Path) -> None:
    assert (work / "cosign.key").stat().st_mode & 0o077 == 0
    assert base64.b64decode((work / "blob.sig").read_text())  # cosign's base64 signature
