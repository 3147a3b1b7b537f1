"""Pure RFC 6962 / RFC 9162 Merkle trees and C2SP tlog-tiles arithmetic. No I/O.

Two layers:

- :mod:`sceau.merkle._hash` — hashing, tree roots, proof generation from an in-memory list
  (the reference) and proof verification.
- :mod:`sceau.merkle._plan` — proofs as *plans*: which complete subtrees ("nodes") a proof
  needs, so a caller holding hashes elsewhere (tiles in a database) reads exactly those.
- :mod:`sceau.merkle._compact` — compact ranges: extend a verified tree leaf by leaf.
- :mod:`sceau.merkle.tiles` — tile coordinates, the ``x001/234/067`` path encoding and
  partial tiles.
"""

from sceau.merkle._compact import CompactRange, left_siblings
from sceau.merkle._hash import (
    EMPTY_ROOT,
    HASH_SIZE,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    tree_root,
    verify_consistency,
    verify_inclusion,
)
from sceau.merkle._plan import (
    Node,
    consistency_plan,
    fold_range,
    inclusion_plan,
    range_nodes,
    resolve_plan,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "Node",
    "ProofError",
    "consistency_plan",
    "consistency_proof",
    "fold_range",
    "inclusion_plan",
    "inclusion_proof",
    "leaf_hash",
    "left_siblings",
    "node_hash",
    "range_nodes",
    "resolve_plan",
    "root_from_inclusion_proof",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
]
