"""An instance's key and certificate material: which keys it has and how they are loaded.

The one module that knows the key files (``keys/<name>.pem``) and certificates
(``certs/*.pem``) of an instance; the app, ``init`` and ``rotate`` all load through it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509

from sceau.config import InstanceConfig
from sceau.errors import InternalError
from sceau.keys import FileSigner, load_signer

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


@dataclass(frozen=True)
class Material:
    """The keys and certificates a running instance needs, loaded and cross-checked."""

    signers: dict[str, FileSigner]
    ca_root: x509.Certificate
    ca_intermediate: x509.Certificate
    tsa_root: x509.Certificate
    tsa_leaf: x509.Certificate

    @classmethod
    def load(cls, cfg: InstanceConfig) -> Material:
        signers: dict[str, FileSigner] = {}
        for name in KEY_FILES:
            path = cfg.keys_dir / f"{name}.pem"
            if path.exists():
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

    def signer(self, name: str) -> FileSigner:
        try:
            return self.signers[name]
        except KeyError:
            raise InternalError(f"instance key keys/{name}.pem is missing") from None


def valid_from(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_before_utc
