"""Verifier-key text (``vkey``): ``<name>+<hex key ID>+<base64(type ‖ key)>``.

The one-line form operators paste into config to name a log or witness key (signed-note
"verifier keys"; Go's ``note.NewVerifier``). Types: 0x01 Ed25519 log key, 0x02 ECDSA (SPKI
DER), 0x04 Ed25519 cosignature/v1 witness key. The key ID is recomputed and must match.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import load_der_public_key

from sceau.keys import spki_der
from sceau.note._cosign import CosignatureVerifier
from sceau.note._keys import COSIGNATURE_V1, ECDSA, ED25519, NoteVerifier, raw_ed25519
from sceau.note._text import NoteError, b64decode_strict, check_name

_HEX_ID = re.compile(r"[0-9a-f]{8}")


def _key_bytes(key: Any) -> bytes:
    if key.sig_type == ECDSA:
        return spki_der(key.public_key)
    return raw_ed25519(key.public_key)


def format_vkey(key: Any) -> str:
    """The vkey of a :class:`NoteVerifier` or :class:`NoteSigner` (either kind)."""
    if key.sig_type not in (ED25519, ECDSA, COSIGNATURE_V1):
        raise NoteError(f"no vkey encoding for signature type {key.sig_type:#04x}")
    material = base64.b64encode(bytes([key.sig_type]) + _key_bytes(key)).decode()
    return f"{key.name}+{key.key_id.hex()}+{material}"


def parse_vkey(vkey: str) -> NoteVerifier:
    """The verifier a vkey names; raises :class:`NoteError` on any mismatch."""
    parts = vkey.split("+", 2)  # the base64 key may itself contain "+"
    if len(parts) != 3:
        raise NoteError("vkey is not '<name>+<key id>+<key>'")
    name, hex_id, b64 = parts
    check_name(name)
    if not _HEX_ID.fullmatch(hex_id):
        raise NoteError("vkey key ID is not 8 lowercase hex digits")
    raw = b64decode_strict(b64, "vkey key")
    if not raw:
        raise NoteError("vkey key is empty")
    sig_type, material = raw[0], raw[1:]
    verifier: NoteVerifier
    if sig_type in (ED25519, COSIGNATURE_V1):
        if len(material) != 32:
            raise NoteError("vkey Ed25519 key is not 32 bytes")
        pub = ed25519.Ed25519PublicKey.from_public_bytes(material)
        if sig_type == ED25519:
            verifier = NoteVerifier(name, pub)
        else:
            verifier = CosignatureVerifier(name, pub)
    elif sig_type == ECDSA:
        try:
            pub = load_der_public_key(material)  # type: ignore[assignment]
        except (ValueError, TypeError) as e:
            raise NoteError("vkey ECDSA key is not a DER public key") from e
        verifier = NoteVerifier(name, pub)
        if verifier.sig_type != ECDSA:
            raise NoteError("vkey type 0x02 holds a non-ECDSA key")
    else:
        raise NoteError(f"unsupported vkey signature type {sig_type:#04x}")
    if verifier.key_id.hex() != hex_id:
        raise NoteError("vkey key ID does not match its name and key")
    return verifier


def check_log_vkey(vkey: str) -> NoteVerifier:
    """:func:`parse_vkey` for a log's checkpoint key: a witness key (type 0x04) is refused."""
    verifier = parse_vkey(vkey)
    if verifier.sig_type == COSIGNATURE_V1:
        raise NoteError("this vkey is a witness cosignature key, not a log key")
    return verifier


def check_witness_vkey(vkey: str) -> CosignatureVerifier:
    """:func:`parse_vkey` for a witness: only cosignature/v1 keys (type 0x04) are accepted."""
    verifier = parse_vkey(vkey)
    if not isinstance(verifier, CosignatureVerifier):
        raise NoteError("this vkey is not a cosignature/v1 witness key (type 0x04)")
    return verifier
