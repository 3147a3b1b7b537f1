"""A served instance (``sceau init`` + ``sceau serve`` on a free port) and helpers to run
``sceau`` as a cosign user would, in a private HOME; the cosign-format vectors' paths."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.instance import ServedInstance, client_env, served_instance

BIN = Path(sys.executable).parent
VECTORS = Path(__file__).resolve().parents[1] / "vectors"
COSIGN = VECTORS / "cosign"
STAGING_ROOT = VECTORS / "public-good" / "staging" / "trusted_root.json"
EMAIL = "cosign-user@example.com"


@dataclass(frozen=True)
class Instance(ServedInstance):
    home: Path

    def token(self, email: str = EMAIL) -> str:
        from sceau.cli.dev_token import load_dev_issuer

        return load_dev_issuer(self.dir).mint_email(email, lifetime=600)

    def identity(self, email: str = EMAIL) -> list[str]:
        """The policy options that accept a signature by ``email`` on this instance."""
        return [
            "--certificate-identity", email,
            "--certificate-oidc-issuer", self.email_issuer,
            "--trust-config", str(self.trust_config),
        ]  # fmt: skip

    def signing(self) -> list[str]:
        return ["--instance-dir", str(self.dir), "--rekor-version", "1"]


def sceau(*args: str, cwd: Path | None = None, home: Path, **env: str) -> Any:
    """Run the ``sceau`` console script as a user would."""
    return subprocess.run(
        [str(BIN / "sceau"), *args],
        capture_output=True, text=True, timeout=120, cwd=cwd,
        env={**client_env(home), **env},
    )  # fmt: skip


def one_error_line(proc: Any, *expect: str) -> str:
    """Exit 1 with exactly one ``error:`` line on stderr (no traceback) containing ``expect``."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for e in expect:
        assert e in lines[0], lines[0]
    return lines[0]


def legacy_bundle(
    sigstore_bundle: dict[str, Any], public_key_pem: bytes | None = None
) -> dict[str, Any]:
    """The legacy cosign bundle holding the same facts as a Rekor v1 Sigstore bundle: the
    shape ``cosign sign-blob --bundle`` writes without ``--new-bundle-format`` (for a key,
    its PEM goes in ``cert``, as cosign does)."""
    vm = sigstore_bundle["verificationMaterial"]
    if public_key_pem is not None:
        pem = public_key_pem.decode()
    else:
        raw = (
            vm["certificate"]["rawBytes"]
            if "certificate" in vm
            else vm["x509CertificateChain"]["certificates"][0]["rawBytes"]
        )
        lines = "\n".join(raw[i : i + 64] for i in range(0, len(raw), 64))
        pem = f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n"
    entry = vm["tlogEntries"][0]
    return {
        "base64Signature": sigstore_bundle["messageSignature"]["signature"],
        "cert": base64.b64encode(pem.encode()).decode(),
        "rekorBundle": {
            "SignedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
            "Payload": {
                "body": entry["canonicalizedBody"],
                "integratedTime": int(entry["integratedTime"]),
                "logIndex": int(entry["logIndex"]),
                "logID": base64.b64decode(entry["logId"]["keyId"]).hex(),
            },
        },
    }


def write_json(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture(scope="session")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    base = tmp_path_factory.mktemp("cosign-instance")
    (base / "home").mkdir()
    with served_instance(base, client_env(base / "home")) as (directory, url):
        yield Instance(directory, url, base / "home")
