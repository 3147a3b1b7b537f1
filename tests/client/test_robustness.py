"""Corrupted bundles fail with a VerificationError — never another exception (which the CLI
would show as a traceback). Deterministic byte flips in every binary field of real bundles."""

from __future__ import annotations

import base64
import json
import random

import pytest

from sceau.client import Identity, TrustedRoot, Verifier
from sceau.errors import VerificationError
from tests.client.cases import BV, DEFAULT_IDENTITY, DEFAULT_ISSUER

POLICY = Identity(DEFAULT_IDENTITY, DEFAULT_ISSUER)


def _fields(doc: dict) -> list[tuple[list, str]]:
    """(container path, key) of the base64 / text fields worth corrupting."""
    vm = doc["verificationMaterial"]
    out: list[tuple[list, str]] = []
    if "certificate" in vm:
        out.append((["verificationMaterial", "certificate"], "rawBytes"))
    entry = ["verificationMaterial", "tlogEntries", 0]
    out += [
        (entry, "canonicalizedBody"),
        ([*entry, "inclusionProof"], "rootHash"),
        ([*entry, "inclusionProof", "checkpoint"], "envelope"),
    ]
    if "inclusionPromise" in vm["tlogEntries"][0]:
        out.append(([*entry, "inclusionPromise"], "signedEntryTimestamp"))
    if vm.get("timestampVerificationData", {}).get("rfc3161Timestamps"):
        out.append(
            (
                ["verificationMaterial", "timestampVerificationData", "rfc3161Timestamps", 0],
                "signedTimestamp",
            )
        )
    if "messageSignature" in doc:
        out.append((["messageSignature"], "signature"))
    else:
        out.append((["dsseEnvelope"], "payload"))
    return out


def _get(doc, path):
    for p in path:
        doc = doc[p]
    return doc


@pytest.mark.parametrize(
    "case",
    [
        "happy-path-v0.3",
        "rekor2-happy-path",
        "rekor2-dsse-happy-path",
        "intoto-with-custom-trust-root",
    ],
)
def test_corruptions_raise_verification_errors(case: str) -> None:
    d = BV / case
    root_file = d / "trusted_root.json"
    root = TrustedRoot.from_json(root_file.read_bytes()) if root_file.exists() else (
        TrustedRoot.production())  # fmt: skip
    verifier = Verifier(root, certificate_cache=0)
    artifact = (d / "artifact") if (d / "artifact").exists() else BV / "a.txt"
    original = json.loads((d / "bundle.sigstore.json").read_bytes())
    rng = random.Random(case)
    for path, key in _fields(original):
        for _ in range(12):
            doc = json.loads(json.dumps(original))
            holder = _get(doc, path)
            value = holder[key]
            unsigned = key == "signedTimestamp"
            if key == "envelope":
                i = rng.randrange(len(value))
                # Past the log's own signature line come only unknown witnesses' lines.
                unsigned = i > value.index("\n", value.index("\u2014"))
                holder[key] = value[:i] + rng.choice("x\n—= ") + value[i + 1 :]
            else:
                raw = bytearray(base64.b64decode(value))
                i = rng.randrange(len(raw))
                raw[i] ^= 1 << rng.randrange(8)
                if rng.random() < 0.2:
                    raw = raw[: rng.randrange(len(raw))]
                holder[key] = base64.b64encode(bytes(raw)).decode()
            try:
                verifier.verify_artifact(json.dumps(doc), artifact, POLICY)
            except VerificationError as e:
                assert "\n" not in e.message
                continue
            # Only unsigned bytes may change without notice: cosignature lines from unknown
            # witnesses, and the unsigned parts of an RFC 3161 token (e.g. SignerInfo's
            # signatureAlgorithm OID, which OpenSSL does not bind).
            assert unsigned, f"corrupted {key} still verified"
