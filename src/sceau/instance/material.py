"""An instance's key and certificate material: which keys it has and how they are loaded.

The one module that knows the key files (``keys/<name>.pem``) and certificates
(``certs/*.pem``) of an instance; the app, ``init`` and ``rotate`` all load through it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography import x509

from sceau.config import InstanceConfig
from sceau.errors import InputError, InternalError
from sceau.keys import Signer, load_signer

if TYPE_CHECKING:
    from sceau.trust import TufKeys

# Key name → algorithm. Every instance key, online or offline (docs/security.md).
KEY_FILES = {
    "ca-root": "ecdsa-p384",
    "ca-intermediate": "ecdsa-p256",
    "ct": "ecdsa-p256",
    "rekor-v1": "ecdsa-p256",
    "rekor-v2": "ed25519",
    "tsa": "ecdsa-p256",
    "tsa-root": "ecdsa-p384",
    "dev-oidc": "ecdsa-p256",
}
# The online keys that may live in a PKCS#11 token (``[keys]`` in sceau.toml). The roots
# are used at init and rotation only and stay files, to be kept offline; the dev issuer's
# key is for laptops.
TOKEN_ROLES = (
    "ca-intermediate",
    "ct",
    "rekor-v1",
    "rekor-v2",
    "tsa",
    "tuf-targets",
    "tuf-snapshot",
    "tuf-timestamp",
)
ALGORITHMS = {**KEY_FILES, "tuf-targets": "ecdsa-p256", "tuf-snapshot": "ecdsa-p256",
              "tuf-timestamp": "ecdsa-p256"}  # fmt: skip


def token_keys(cfg: InstanceConfig) -> dict[str, str]:
    """``[keys]``: role → PKCS#11 URI, checked against the roles a token may hold."""
    table = cfg.raw.get("keys", {}) or {}
    if not isinstance(table, dict):
        raise InputError('[keys] must be a table of role = "pkcs11:..."')
    for role, uri in table.items():
        if role not in TOKEN_ROLES:
            raise InputError(
                f"[keys] {role}: not a key that can live in a token "
                f"(choose from {', '.join(TOKEN_ROLES)})"
            )
        if not isinstance(uri, str) or not uri.startswith("pkcs11:"):
            raise InputError(f"[keys] {role} must be a pkcs11: URI")
    return dict(table)


def token_signer(cfg: InstanceConfig, role: str, uri: str) -> Signer:
    from sceau.keys.pkcs11 import Pkcs11Signer

    signer = Pkcs11Signer(uri, module=cfg.get("pkcs11", "module"), role=role)
    expected = ALGORITHMS[role]
    if signer.algorithm.value != expected:
        raise InputError(
            f"[keys] {role}: the token's key is {signer.algorithm.value}, this role needs "
            f"{expected}"
        )
    return signer


def tuf_keys(cfg: InstanceConfig) -> TufKeys:
    """The TUF role keys: files in ``keys/``, or the token's for roles in ``[keys]``."""
    from sceau.trust import TufKeys

    overrides = {
        role.removeprefix("tuf-"): token_signer(cfg, role, uri)
        for role, uri in token_keys(cfg).items()
        if role.startswith("tuf-")
    }
    return TufKeys.load(cfg.keys_dir, overrides=overrides)


@dataclass(frozen=True)
class Material:
    """The keys and certificates a running instance needs, loaded and cross-checked."""

    signers: dict[str, Signer]
    ca_root: x509.Certificate
    ca_intermediate: x509.Certificate
    tsa_root: x509.Certificate
    tsa_leaf: x509.Certificate

    @classmethod
    def load(cls, cfg: InstanceConfig) -> Material:
        signers: dict[str, Signer] = {}
        in_token = token_keys(cfg)
        for name in KEY_FILES:
            path = cfg.keys_dir / f"{name}.pem"
            if name in in_token:
                signers[name] = token_signer(cfg, name, in_token[name])
            elif path.exists():
                signers[name] = load_signer(path)

        def cert(name: str) -> x509.Certificate:
            path = cfg.dir / "certs" / name
            try:
                return x509.load_pem_x509_certificate(path.read_bytes())
            except (OSError, ValueError) as e:
                raise InternalError(f"cannot load certificate {path}: {e}") from e

        return cls(
            signers,
            cert("ca-root.pem"),
            cert("ca-intermediate.pem"),
            cert("tsa-root.pem"),
            cert("tsa-leaf.pem"),
        )

    def signer(self, name: str) -> Signer:
        try:
            return self.signers[name]
        except KeyError:
            raise InternalError(f"instance key keys/{name}.pem is missing") from None


def valid_from(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_before_utc
