"""C2SP signed notes and checkpoints (``c2sp.org/signed-note``, ``tlog-checkpoint``,
``tlog-cosignature``).

A log signs its checkpoint text with :func:`note_signer` keys; clients check it with
:func:`note_verifier` (or a :func:`parse_vkey` line) through :func:`open_checkpoint`. Witness
cosignatures are ordinary signature lines made by :class:`CosignatureSigner` and checked by
:func:`cosignature_verifier`; signatures from keys a verifier does not know are ignored.
"""

from sceau.note._checkpoint import Checkpoint, open_checkpoint
from sceau.note._cosign import (
    CosignatureSigner,
    CosignatureVerifier,
    cosignature_signer,
    cosignature_timestamp,
    cosignature_verifier,
)
from sceau.note._keys import NoteSigner, NoteVerifier, log_id, note_signer, note_verifier
from sceau.note._sign import sign_note, verify_note
from sceau.note._text import Note, NoteError, NoteSignature, check_name, parse_note
from sceau.note._vkey import check_log_vkey, check_witness_vkey, format_vkey, parse_vkey

__all__ = [
    "Checkpoint",
    "CosignatureSigner",
    "CosignatureVerifier",
    "Note",
    "NoteError",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "check_log_vkey",
    "check_name",
    "check_witness_vkey",
    "cosignature_signer",
    "cosignature_timestamp",
    "cosignature_verifier",
    "format_vkey",
    "log_id",
    "note_signer",
    "note_verifier",
    "open_checkpoint",
    "parse_note",
    "parse_vkey",
    "sign_note",
    "verify_note",
]
