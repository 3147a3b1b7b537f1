"""Signing keys behind one small interface.

A :class:`Signer` signs bytes the way Sigstore expects for its key type: Ed25519 signs
the message itself; ECDSA signs SHA-256 (P-256) or SHA-384 (P-384) of the message and
returns a DER signature. :class:`Verifier` is the public half. File-backed keys are PEM
(PKCS#8), optionally encrypted with a passphrase, written 0600.
"""

from __future__ import annotations

from sceau.keys._core import (
    Algorithm,
    FileSigner,
    Signer,
    Verifier,
    generate_signer,
    key_passphrase,
    load_public_key_pem,
    load_signer,
    save_signer,
    spki_der,
    verifier_for,
)

__all__ = [
    "Algorithm",
    "FileSigner",
    "Signer",
    "Verifier",
    "generate_signer",
    "key_passphrase",
    "load_public_key_pem",
    "load_signer",
    "save_signer",
    "spki_der",
    "verifier_for",
]
