"""The monitor's pure parts on real data: entries from the public Sigstore logs (the
conformance and sigstore-python vectors), the public logs' own checkpoints, compact ranges
against the reference Merkle code, and the watch rules."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from cryptography import x509

from sceau.client.trust import TrustedRoot
from sceau.errors import InputError
from sceau.merkle import (
    CompactRange,
    ProofError,
    inclusion_proof,
    leaf_hash,
    left_siblings,
    tree_root,
)
from sceau.monitor.checkpoints import open_checkpoint
from sceau.monitor.entries import parse_ct_leaf, parse_rekor
from sceau.monitor.errors import LogAlarm
from sceau.monitor.logs import targets
from sceau.monitor.watch import parse_watch
from sceau.services.ct.rfc6962 import EntryType, merkle_tree_leaf, signed_entry

BEACON = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ACTIONS = "https://token.actions.githubusercontent.com"
HASHEDREKORD_CASES = ["happy-path-v0.3", "rekor2-happy-path", "bundle-with-sct-with-extensions"]


def _bundle(vectors: Path, case: str) -> dict:
    return json.loads((vectors / "bundle-verify" / case / "bundle.sigstore.json").read_text())


def _entry(bundle: dict) -> dict:
    return bundle["verificationMaterial"]["tlogEntries"][0]


@pytest.mark.parametrize(
    "case",
    [*HASHEDREKORD_CASES, "happy-path-intoto-in-dsse-v3", "intoto-with-custom-trust-root"],
)
def test_public_log_entries_name_their_signer(vectors: Path, case: str) -> None:
    entry = _entry(_bundle(vectors, case))
    parsed = parse_rekor(base64.b64decode(entry["canonicalizedBody"]))
    assert parsed.kind == f"{entry['kindVersion']['kind']} {entry['kindVersion']['version']}"
    assert parsed.identities == [BEACON]
    assert parsed.issuer == ACTIONS
    assert parsed.github_workflow == (
        "sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/"
        "extremely-dangerous-oidc-beacon.yml"
    )
    assert parsed.artifact_digest is not None and parsed.artifact_digest.startswith("sha256:")
    assert parsed.key_fingerprint is not None and len(parsed.key_fingerprint) == 64


@pytest.mark.parametrize("case", HASHEDREKORD_CASES)
def test_hashedrekord_digest_is_the_bundles(vectors: Path, case: str) -> None:
    bundle = _bundle(vectors, case)
    parsed = parse_rekor(base64.b64decode(_entry(bundle)["canonicalizedBody"]))
    digest = base64.b64decode(bundle["messageSignature"]["messageDigest"]["digest"])
    assert parsed.artifact_digest == f"sha256:{digest.hex()}"
    assert parsed.github_repository == "sigstore-conformance/extremely-dangerous-public-oidc-beacon"


def test_managed_key_entry_has_a_fingerprint_and_no_identity(vectors: Path) -> None:
    parsed = parse_rekor(
        base64.b64decode(_entry(_bundle(vectors, "managed-key-happy-path"))["canonicalizedBody"])
    )
    assert parsed.identities == [] and parsed.issuer is None
    assert parsed.key_fingerprint is not None
    watch = parse_watch({"key_fingerprints": [f"sha256:{parsed.key_fingerprint}"]})
    assert watch.match(parsed) == ["key_fingerprints"]


def test_unknown_entries_do_not_stop_the_monitor() -> None:
    assert parse_rekor(b"not json").kind == "unknown"
    assert parse_rekor(b'{"kind":"sceau-genesis","apiVersion":"0.0.2","spec":{}}').kind == (
        "sceau-genesis 0.0.2"
    )
    assert parse_ct_leaf(b"\x00\x00garbage").kind == "unknown"


@pytest.mark.parametrize(
    ("case", "kind"),
    [("happy-path-v0.3", "rekor-v1"), ("rekor2-happy-path", "rekor-v2"),
     ("rekor2-checkpoint-cosigned", "rekor-v2")],
)  # fmt: skip
def test_public_checkpoints_verify_with_the_monitors_targets(
    vectors: Path, case: str, kind: str
) -> None:
    """The checkpoints public Rekor v1 and v2 signed verify with the key and origin rule
    the monitor derives from the trusted root the case names (cosignature lines ignored)."""
    own = vectors / "bundle-verify" / case / "trusted_root.json"
    root = TrustedRoot.from_json(own.read_bytes()) if own.is_file() else TrustedRoot.production()
    (target,) = [t for t in targets(root) if t.kind == kind]
    proof = _entry(_bundle(vectors, case))["inclusionProof"]
    cp = open_checkpoint(target, proof["checkpoint"]["envelope"].encode())
    assert cp.size == int(proof["treeSize"])
    assert cp.root_hash == base64.b64decode(proof["rootHash"])
    (other,) = [t for t in targets(TrustedRoot.production()) if t.kind not in (kind, "ct")]
    with pytest.raises(LogAlarm, match="does not verify with the log's trusted key"):
        open_checkpoint(other, proof["checkpoint"]["envelope"].encode())


def test_targets_of_the_production_root() -> None:
    found = {(t.kind, t.base_url, t.name) for t in targets(TrustedRoot.production())}
    assert found == {
        ("rekor-v1", "https://rekor.sigstore.dev", "rekor.sigstore.dev"),
        ("rekor-v2", "https://log2025-1.rekor.sigstore.dev", "log2025-1.rekor.sigstore.dev"),
        ("ct", "https://ctfe.sigstore.dev/2022", "ctfe.sigstore.dev/2022/ct"),
    }
    only = targets(TrustedRoot.production(), ("rekor-v2",))
    assert [t.kind for t in only] == ["rekor-v2"]


def test_ct_x509_and_precert_leaves(vectors: Path) -> None:
    bundle = _bundle(vectors, "happy-path-v0.3")
    der = base64.b64decode(bundle["verificationMaterial"]["certificate"]["rawBytes"])
    cert = x509.load_der_x509_certificate(der)
    leaf = merkle_tree_leaf(1, EntryType.X509, signed_entry(EntryType.X509, cert_der=der))
    parsed = parse_ct_leaf(leaf)
    assert (parsed.kind, parsed.identities, parsed.issuer) == ("x509", [BEACON], ACTIONS)
    precert = merkle_tree_leaf(
        1,
        EntryType.PRECERT,
        signed_entry(
            EntryType.PRECERT, issuer_key_hash=bytes(32), tbs_certificate=cert.tbs_certificate_bytes
        ),
    )
    parsed = parse_ct_leaf(precert)
    assert (parsed.kind, parsed.identities, parsed.issuer) == ("precert", [BEACON], ACTIONS)
    # The fast path skips certificates that cannot match, and still finds those that do.
    assert parse_ct_leaf(precert, (b"someone@else",)).identities == []
    assert parse_ct_leaf(precert, (b"extremely-dangerous",)).identities == [BEACON]


def test_watch_rules_and_their_fast_path(vectors: Path) -> None:
    body = base64.b64decode(_entry(_bundle(vectors, "rekor2-happy-path"))["canonicalizedBody"])
    parsed = parse_rekor(body)
    assert parse_watch({"identities": [BEACON]}).match(parsed) == ["identities"]
    # Regexps are searched, not anchored (as rekor-monitor and cosign do).
    assert parse_watch({"identity_regexps": ["oidc-beacon"]}).match(parsed) == ["identity_regexps"]
    assert parse_watch({"identity_regexps": ["^oidc-beacon"]}).match(parsed) == []
    assert parse_watch({"issuers": [ACTIONS]}).match(parsed) == ["issuers"]
    repo = parse_watch(
        {"github_repositories": ["https://github.com/sigstore-conformance/"
                                 "extremely-dangerous-public-oidc-beacon"]}
    )  # fmt: skip
    assert repo.match(parsed) == ["github_repositories"]
    # CT-only rules do not fire on Rekor entries.
    assert parse_watch({"ct_sans": [BEACON]}).match(parsed) == []
    assert parse_watch({"ct_sans": [BEACON]}).match(parsed, ct=True) == ["ct_sans"]
    # Exact rules give needles; the skipped parse cannot hide a match.
    exact = parse_watch({"identities": [BEACON], "issuers": ["https://nope"]})
    assert exact.needles == tuple(sorted([BEACON.encode(), b"https://nope"]))
    assert exact.match(parse_rekor(body, exact.needles)) == ["identities"]
    assert parse_watch({"identities": ["x@y.z"], "identity_regexps": ["."]}).needles is None
    with pytest.raises(InputError, match="unknown key"):
        parse_watch({"identity": ["x"]})


def test_compact_range_against_the_reference() -> None:
    leaves = [leaf_hash(os.urandom(8)) for _ in range(300)]
    grown = CompactRange()
    for i, leaf in enumerate(leaves):
        grown.append(leaf)
        assert grown.root() == tree_root(leaves[: i + 1])
    # From any inclusion proof of entry i (in any larger tree), the left siblings plus the
    # leaf are the compact range of i + 1.
    for size in (1, 2, 3, 7, 8, 9, 255, 256, 257, 300):
        for i in {0, size // 2, size - 1}:
            left = left_siblings(i, size, inclusion_proof(i, leaves[:size]))
            compact = CompactRange(i, left)
            compact.append(leaves[i])
            assert compact.root() == tree_root(leaves[: i + 1])
    with pytest.raises(ProofError):
        CompactRange(5, [])
    with pytest.raises(ProofError):
        left_siblings(3, 3, [])
