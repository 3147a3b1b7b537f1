"""sceau.merkle and sceau.note against real Rekor v1/v2 inclusion proofs and checkpoints.

For every conformance case in ``vectors/bundle-verify``: the leaf hash of the logged body,
its inclusion proof and the signed checkpoint it leads to, checked with the log key from the
case's trusted root. The tables below classify every case whose Merkle/checkpoint part is
*meant* to fail (or is absent), each with the reason read from its README or its data; all
other cases, including ``_fail`` cases that break something else, must verify.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sceau import merkle
from sceau.keys import load_public_key_pem
from sceau.note import (
    NoteError,
    cosignature_timestamp,
    log_id,
    note_verifier,
    open_checkpoint,
    parse_note,
)
from tests.conftest import VECTORS

CASES_DIR = VECTORS / "bundle-verify"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir()) if CASES_DIR.is_dir() else []

# The bundle is not JSON at all (README: "truncated/malformed JSON").
MALFORMED = {"bundle-malformed-json_fail"}

# Tlog entries without any inclusion proof (asserted, not skipped).
NO_PROOF = {
    "bundle-unknown-version_fail": "entry with only a SET (the case is about the version)",
    "intoto-missing-inclusion-proof_fail": "README: the log entry has no inclusion proof",
    "rekor2-no-inclusion-proof_fail": "README: the inclusion proof is removed",
}

# Proofs without a checkpoint (older bundles): checked against inclusionProof.rootHash.
NO_CHECKPOINT = {
    "bundle-empty-certificate-chain_fail",
    "bundle-with-root-cert_fail",
    "invalid-inclusion-proof_fail",
}

# The logged leaf is not in the tree the proof describes.
BAD_PROOF = {
    "invalid-inclusion-proof_fail": "README: the inclusion proof is old, not valid for the entry",
    "incorrect-public-key_fail": "README: the key inside canonicalizedBody was modified",
    "bundle-invalid-base64-signature_fail": "the signature inside canonicalizedBody was altered",
    "bundle-empty-certificate-chain_fail": "canonicalizedBody and proof hashes were cut down",
}

# The checkpoint must not open with the log's key.
BAD_CHECKPOINT = {
    "checkpoint-bad-keyhint_fail": "README: the key hint does not match the log",
    "invalid-checkpoint-signature_fail": "README: the checkpoint signature is invalid",
    "rekor2-checkpoint-missing-log-signature_fail": "no signature lines at all",
    "rekor2-checkpoint-missing-origin_fail": "origin line removed",
    "rekor2-checkpoint-missing-root-hash_fail": "root hash line removed",
    "rekor2-checkpoint-missing-size_fail": "size line removed",
    "rekor2-checkpoint-no-matching-signature_fail": "README: origin and key name say github.dev",
}

# Checkpoints carrying extra signature lines besides the log's: (witness cosignatures, other).
EXTRA_LINES = {
    "rekor2-checkpoint-cosigned": (1, 0),
    "rekor2-checkpoint-multiple-cosigs": (2, 0),
    "rekor2-checkpoint-two-sigs-cosigned": (1, 1),  # + an ECDSA line under the log's name
    "rekor2-dsse-happy-path": (3, 0),
    "rekor2-dsse-invalid-sig_fail": (3, 0),
    "rekor2-dsse-mismatch-envelope_fail": (3, 0),
}


def _b64(s: str) -> bytes:
    return base64.b64decode(s, validate=True)


def _trusted_root(case_dir: Path) -> dict:
    path = case_dir / "trusted_root.json"
    if not path.exists():
        path = VECTORS / "public-good" / "production" / "trusted_root.json"
    return json.loads(path.read_text())


def _log_key_name(envelope: str) -> str:
    """The key name a Rekor log signs with: the origin's host (v1 origins: "<host> - <tree>")."""
    origin = envelope.split("\n", 1)[0]
    return origin.split(" - ", 1)[0]


def test_vectors_present_and_tables_name_real_cases(vectors):
    assert len(CASES) > 40, f"expected the conformance cases in {CASES_DIR}"
    named = MALFORMED | set(NO_PROOF) | NO_CHECKPOINT | set(BAD_PROOF) | set(BAD_CHECKPOINT)
    assert named | set(EXTRA_LINES) <= set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_case(vectors, case):
    case_dir = vectors / "bundle-verify" / case
    text = (case_dir / "bundle.sigstore.json").read_text()
    if case in MALFORMED:
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)
        return
    entries = json.loads(text)["verificationMaterial"].get("tlogEntries", [])
    assert entries, "every case here has a tlog entry"
    with_proof = [e for e in entries if e.get("inclusionProof")]
    if case in NO_PROOF:
        assert not with_proof, f"{case} was expected to have no inclusion proof"
        return
    assert len(with_proof) == len(entries), "an entry lacks its inclusion proof"
    for entry in entries:
        _check_entry(case, case_dir, entry)


def _check_entry(case: str, case_dir: Path, entry: dict) -> None:
    proof = entry["inclusionProof"]
    leaf = merkle.leaf_hash(_b64(entry["canonicalizedBody"]))
    index, size = int(proof["logIndex"]), int(proof["treeSize"])
    hashes = [_b64(h) for h in proof["hashes"]]
    envelope = (proof.get("checkpoint") or {}).get("envelope")

    if case in NO_CHECKPOINT:
        assert envelope is None
        root = _b64(proof["rootHash"])
    else:
        assert envelope is not None, "checkpoint missing"
        root_hash = _open(case, case_dir, entry, envelope)
        if root_hash is None:
            return  # a bad checkpoint: nothing to check the proof against
        root = root_hash
        assert root == _b64(proof["rootHash"])

    if case in BAD_PROOF:
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(index, size, leaf, hashes, root)
    else:
        merkle.verify_inclusion(index, size, leaf, hashes, root)
        assert merkle.root_from_inclusion_proof(index, size, leaf, hashes) == root


def _open(case: str, case_dir: Path, entry: dict, envelope: str) -> bytes | None:
    """Open the checkpoint with the log's key; None (after asserting) if it must fail."""
    entry_log_id = _b64(entry["logId"]["keyId"])
    tlogs = [
        t for t in _trusted_root(case_dir)["tlogs"] if _b64(t["logId"]["keyId"]) == entry_log_id
    ]
    assert len(tlogs) == 1, "exactly one trusted log has the entry's log ID"
    tlog = tlogs[0]
    key = load_public_key_pem(_b64(tlog["publicKey"]["rawBytes"]))
    host = urlsplit(tlog["baseUrl"]).netloc
    name = _log_key_name(envelope)

    if case in BAD_CHECKPOINT:
        # Refused under the name the checkpoint claims and under the trusted log's own name.
        for n in {name, host}:
            with pytest.raises(NoteError):
                open_checkpoint(envelope, [note_verifier(n, key)])
        return None

    assert name == host, "the checkpoint is signed under the log's host name"
    # The log ID in the trusted root is sceau's log_id: SHA-256(SPKI) for the ECDSA v1 logs,
    # SHA-256(name ‖ \n ‖ 0x01 ‖ key) for the Ed25519 v2 logs.
    assert log_id(name, key) == entry_log_id
    verifier = note_verifier(name, key)
    assert verifier.key_id == entry_log_id[:4]
    checkpoint = open_checkpoint(envelope, [verifier])
    assert checkpoint.size == int(entry["inclusionProof"]["treeSize"])
    assert checkpoint.origin.split(" - ", 1)[0] == host
    _check_extra_lines(case, envelope, verifier)
    return checkpoint.root_hash


def _check_extra_lines(case: str, envelope: str, verifier) -> None:
    note = parse_note(envelope)
    others = [s for s in note.signatures if (s.name, s.key_id) != (verifier.name, verifier.key_id)]
    cosigs = [s for s in others if s.name != verifier.name]
    want_cosigs, want_other = EXTRA_LINES.get(case, (0, 0))
    assert (len(cosigs), len(others) - len(cosigs)) == (want_cosigs, want_other)
    for sig in cosigs:
        # cosignature/v1 shape: 8-byte timestamp (2025..2030) ‖ 64-byte Ed25519 signature.
        assert 1_735_689_600 <= cosignature_timestamp(sig) < 1_893_456_000
