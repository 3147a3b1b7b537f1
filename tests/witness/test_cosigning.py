"""A served sceau log gets its checkpoints cosigned by two witnesses while clients write to
it concurrently; the witnesses that are down or hang cost only their lines."""

from __future__ import annotations

import base64
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from sceau import merkle
from sceau.note import Checkpoint, parse_note, parse_vkey, verify_note
from tests.rekor.helpers import hashedrekord_v2
from tests.witness.conftest import WitnessedInstance

pytestmark = [pytest.mark.server, pytest.mark.slow]

WRITES = 120


def _append(url: str) -> dict:
    request, _, _, _ = hashedrekord_v2()
    start = time.monotonic()
    r = httpx.post(f"{url}/api/v2/log/entries", json=request, timeout=30)
    assert r.status_code == 201, r.text
    return {**r.json(), "latency": time.monotonic() - start}


def _witness_names(note_text: str, inst: WitnessedInstance) -> set[str]:
    verifiers = [w.verifier for w in inst.witnesses]
    verifiers += [parse_vkey(inst.down[1]), parse_vkey(inst.hung[1])]
    verifiers.append(parse_vkey(inst.log_vkey))
    note = verify_note(note_text, verifiers)
    return {s.name for s in note.verified}


def test_bundles_under_load_carry_both_cosignatures(witnessed: WitnessedInstance) -> None:
    with ThreadPoolExecutor(16) as pool:
        entries = list(pool.map(lambda _: _append(witnessed.url), range(WRITES)))
    sizes = set()
    for e in entries:
        proof = e["inclusionProof"]
        envelope = proof["checkpoint"]["envelope"]
        names = _witness_names(envelope, witnessed)
        assert names == {"127.0.0.1:" + witnessed.url.rsplit(":", 1)[1], "witness.example/w1",
                         "witness.example/w2"}  # fmt: skip
        cp = Checkpoint.parse(parse_note(envelope).body)
        assert cp.size == int(proof["treeSize"]) and cp.root_hash == base64.b64decode(
            proof["rootHash"]
        )
        leaf = merkle.leaf_hash(base64.b64decode(e["canonicalizedBody"]))
        merkle.verify_inclusion(
            int(proof["logIndex"]), cp.size, leaf,
            [base64.b64decode(h) for h in proof["hashes"]], cp.root_hash,
        )  # fmt: skip
        sizes.add(cp.size)
    assert len(sizes) > 1  # several checkpoints were cosigned, not one at the end
    # The witness that hangs is never waited for once the quorum is in: no answer took the
    # 10 s its requests are allowed (each round would otherwise last that long).
    assert max(e["latency"] for e in entries) < 10


def test_published_checkpoint_is_cosigned_and_witnesses_agree(
    witnessed: WitnessedInstance,
) -> None:
    _append(witnessed.url)
    text = httpx.get(f"{witnessed.url}/api/v2/checkpoint", timeout=10).text
    assert {"witness.example/w1", "witness.example/w2"} <= _witness_names(text, witnessed)
    published = Checkpoint.parse(parse_note(text).body)
    origin_hash = hashlib.sha256(published.origin.encode()).hexdigest()
    for w in witnessed.witnesses:
        stored = httpx.get(f"{w.url}/{origin_hash}/checkpoint", timeout=10)
        assert stored.status_code == 200
        cp = Checkpoint.parse(parse_note(stored.text).body)
        assert (cp.size, cp.root_hash) == (published.size, published.root_hash)


def test_get_entry_returns_the_cosigned_checkpoint(witnessed: WitnessedInstance) -> None:
    e = _append(witnessed.url)
    index = int(e["logIndex"])
    got = httpx.get(f"{witnessed.url}/api/v2/log/entries/{index}", timeout=10).json()
    envelope = got["inclusionProof"]["checkpoint"]["envelope"]
    assert {"witness.example/w1", "witness.example/w2"} <= _witness_names(envelope, witnessed)
