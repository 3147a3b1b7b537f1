"""Pure integration (sceau.log.integrate) against the reference Merkle code, batch by batch."""

from __future__ import annotations

import random

from sceau.log.integrate import TreeEdge, integrate, split_hashes
from sceau.merkle import leaf_hash, tree_root, verify_inclusion

# Batch sizes that land on and around every tile boundary up to a level-2 carry (65,536).
BATCHES = [1, 254, 1, 1, 255, 256, 513, 4096, 1000, 7, 59_000, 148, 1, 1, 1, 300, 2]


def test_batches_of_any_size_give_the_reference_root_tiles_and_proofs():
    rng = random.Random(7)
    edge, stored = TreeEdge(), {}
    hashes: list[bytes] = []
    for n in BATCHES:
        entries = [b"e%d" % (len(hashes) + i) for i in range(n)]
        new = [leaf_hash(e) for e in entries]
        integ = integrate(edge, new, entries, stored.__getitem__)
        hashes += new
        size = len(hashes)
        assert integ.edge.size == size
        assert integ.root == tree_root(hashes), f"root after a batch of {n} (size {size})"
        for i in {integ.old_size, size - 1, rng.randrange(integ.old_size, size)}:
            verify_inclusion(i, size, hashes[i], integ.hasher.inclusion_proof(i), integ.root)
        stored.update(integ.writes)
        edge = integ.edge
    # The stored level-0 tiles are the leaf hashes in order; level 1 folds each full tile.
    level0 = [h for i in range(0, (len(hashes) + 255) // 256) for h in split_hashes(stored[0, i])]
    assert level0 == hashes
    level1 = split_hashes(stored[1, 0])
    assert level1 == [tree_root(hashes[i : i + 256]) for i in range(0, 65_536, 256)]
    assert split_hashes(stored[2, 0])[0] == tree_root(hashes[:65_536])
