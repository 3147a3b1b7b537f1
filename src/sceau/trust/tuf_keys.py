"""The four TUF role keys of an instance, and the bridge to python-tuf's signer API.

Keys are ordinary :mod:`sceau.keys` signers, so a TUF role can later sit in an HSM like
any other instance key. :class:`SslibSigner` adapts one to ``securesystemslib``'s
``Signer``, which is what ``tuf.api.metadata.Metadata.sign`` takes: sceau's ECDSA
signatures (DER over SHA-256/384) and pure Ed25519 are exactly what the TUF
``ecdsa-sha2-nistp256/384`` and ``ed25519`` schemes verify.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from securesystemslib.signer import Key, Signature, SSlibKey
from securesystemslib.signer import Signer as _SslibSignerBase

from sceau.errors import InternalError
from sceau.keys import Algorithm, FileSigner, Signer, generate_signer, load_signer, save_signer

ROLES = ("root", "targets", "snapshot", "timestamp")


def key_filename(role: str) -> str:
    """``tuf-<role>.pem``: the file name of a role key under ``<instance>/keys/``."""
    return f"tuf-{role}.pem"


class SslibSigner(_SslibSignerBase):
    """A :class:`sceau.keys.Signer` seen through securesystemslib's ``Signer`` interface."""

    def __init__(self, signer: Signer) -> None:
        self._signer = signer
        self._key = SSlibKey.from_crypto(signer.public_key())

    @property
    def public_key(self) -> Key:
        return self._key

    @property
    def keyid(self) -> str:
        return self._key.keyid

    def sign(self, payload: bytes) -> Signature:
        return Signature(self._key.keyid, self._signer.sign(payload).hex())

    @classmethod
    def from_priv_key_uri(cls, priv_key_uri, public_key, secrets_handler=None):  # type: ignore[no-untyped-def]
        raise NotImplementedError("sceau loads TUF keys through sceau.keys, not URIs")


class RootKeyOffline(InternalError):
    """The root key is not in ``keys/``: root metadata is signed offline."""


@dataclass(frozen=True)
class TufKeys:
    """One signer per top-level role, as the running instance holds them.

    ``root`` is None once the operator has taken the root key offline (docs/security.md):
    the server never needs it; a new root is made with ``sceau tuf sign-root``, which may
    also raise the root role's threshold."""

    root: Signer | None
    targets: Signer
    snapshot: Signer
    timestamp: Signer

    def for_role(self, role: str) -> Signer:
        if role not in ROLES:
            raise ValueError(f"unknown TUF role {role!r}")
        signer: Signer | None = getattr(self, role)
        if signer is None:
            raise RootKeyOffline(
                "the TUF root key is offline (not in keys/): sign a new root with "
                "`sceau tuf sign-root`"
            )
        return signer

    @classmethod
    def generate(cls, algorithm: Algorithm | str = Algorithm.ECDSA_P256) -> TufKeys:
        """Fresh keys; ECDSA P-256 by default, as the public Sigstore repository uses."""
        return cls(*(generate_signer(algorithm) for _ in ROLES))

    def save(self, keys_dir: str | os.PathLike[str], passphrase: bytes | None = None) -> None:
        """Write ``tuf-<role>.pem`` files (PKCS#8, mode 0600, atomically)."""
        for role in ROLES:
            if role == "root" and self.root is None:
                continue
            signer = self.for_role(role)
            if not isinstance(signer, FileSigner):
                continue  # held in a token: nothing to write
            save_signer(signer, Path(keys_dir) / key_filename(role), passphrase)

    @classmethod
    def load(
        cls,
        keys_dir: str | os.PathLike[str],
        passphrase: bytes | None = None,
        overrides: Mapping[str, Signer] | None = None,
    ) -> TufKeys:
        """Load the role keys; the root key may be absent (offline). A missing online key or
        a key others can read is an error. ``overrides``: role → signer held elsewhere (a
        PKCS#11 token), used instead of the role's file."""
        d = Path(keys_dir)
        given = dict(overrides or {})
        root_file = d / key_filename("root")
        root = load_signer(root_file, passphrase) if root_file.exists() else None
        online = (
            given[r] if r in given else load_signer(d / key_filename(r), passphrase)
            for r in ROLES[1:]
        )
        return cls(given.get("root", root), *online)
