"""The conformance cases in ``vectors/bundle-verify`` and how to run each (vectors/README.md)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import VECTORS

BV = VECTORS / "bundle-verify"
SP = VECTORS / "sigstore-python"
PRODUCTION_ROOT = VECTORS / "public-good" / "production" / "trusted_root.json"
DEFAULT_IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
DEFAULT_ISSUER = "https://token.actions.githubusercontent.com"

# Cases we cannot make pass, with the reason. Empty: every case passes.
EXPECTED_FAILURES: dict[str, str] = {}


@dataclass(frozen=True)
class Case:
    name: str
    dir: Path

    @property
    def should_pass(self) -> bool:
        return not self.name.endswith("_fail")

    @property
    def bundle(self) -> Path:
        return self.dir / "bundle.sigstore.json"

    @property
    def artifact(self) -> Path:
        own = self.dir / "artifact"
        return own if own.exists() else BV / "a.txt"

    @property
    def key(self) -> Path | None:
        k = self.dir / "key.pub"
        return k if k.exists() else None

    @property
    def trusted_root(self) -> Path | None:
        t = self.dir / "trusted_root.json"
        return t if t.exists() else None

    def _read(self, name: str, default: str) -> str:
        p = self.dir / name
        return p.read_text().strip() if p.exists() else default

    @property
    def is_message_signature(self) -> bool:
        """True unless the bundle is a DSSE bundle (digest-only input needs a message sig)."""
        try:
            return "dsseEnvelope" not in json.loads(self.bundle.read_bytes())
        except ValueError:
            return True  # the malformed-JSON case: still run it with a digest

    def digest_arg(self) -> str:
        return "sha256:" + hashlib.sha256(self.artifact.read_bytes()).hexdigest()

    def argv(self, artifact: str | None = None) -> list[str]:
        """``sceau conformance verify-bundle …`` arguments in the harness's order."""
        args = ["conformance", "verify-bundle", "--bundle", str(self.bundle)]
        if self.key is not None:
            args += ["--key", str(self.key)]
        else:
            args += [
                "--certificate-identity", self._read("identity", DEFAULT_IDENTITY),
                "--certificate-oidc-issuer", self._read("issuer", DEFAULT_ISSUER),
            ]  # fmt: skip
        if self.trusted_root is not None:
            args += ["--trusted-root", str(self.trusted_root)]
        return [*args, artifact or str(self.artifact)]


def conformance_cases() -> list[Case]:
    return sorted((Case(d.name, d) for d in BV.iterdir() if d.is_dir()), key=lambda c: c.name)


@dataclass(frozen=True)
class TableRow:
    bundle: str
    artifact: str
    root: str
    identity: str
    issuer: str
    expect: str

    @property
    def should_pass(self) -> bool:
        return self.expect.startswith("ok")

    def argv(self) -> list[str]:
        args = [
            "verify",
            str(SP / self.artifact),
            "--bundle",
            str(SP / self.bundle),
            "--certificate-identity",
            self.identity,
            "--certificate-oidc-issuer",
            self.issuer,
        ]
        if self.root == "staging":
            args.append("--staging")
        elif self.root == "production":
            pass  # the shipped production root is the default
        else:
            args += ["--trust-config", str(SP / self.root.split()[0])]
        return args


def sigstore_python_rows() -> list[TableRow]:
    rows = []
    for line in (SP / "README.md").read_text().splitlines():
        if not line.startswith("| ") or line.startswith("| bundle |"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append(TableRow(*cells))
    return rows
