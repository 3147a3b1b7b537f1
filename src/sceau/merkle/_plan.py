"""Proofs as plans over complete subtrees, so storage can answer them from tiles.

A :data:`Node` ``(level, index)`` is the complete subtree of ``2**level`` leaves starting at
leaf ``index * 2**level``. Every hash in an RFC 6962 proof is the tree hash of a leaf range
``[lo, hi)`` whose start is aligned to its largest power-of-two part; such a range is the
ordered list of complete subtrees in the binary decomposition of its length, and its hash is
those nodes folded from the right (:func:`fold_range`). A *plan* is one such list per proof
element; :func:`resolve_plan` turns it into hashes given any node reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from sceau.merkle._hash import node_hash

Node = tuple[int, int]
Plan = list[list[Node]]


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(lo: int, hi: int) -> list[Node]:
    """Complete subtrees covering leaves ``[lo, hi)``, largest (leftmost) first."""
    nodes: list[Node] = []
    while lo < hi:
        # Largest aligned power-of-two block starting at lo that fits in [lo, hi).
        size = (lo & -lo) if lo else 1 << (hi - lo).bit_length()
        while size > hi - lo:
            size >>= 1
        level = size.bit_length() - 1
        nodes.append((level, lo >> level))
        lo += size
    return nodes


def fold_range(hashes: Sequence[bytes]) -> bytes:
    """Tree hash of a range from its complete-subtree hashes (largest first)."""
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


def inclusion_plan(index: int, size: int) -> Plan:
    """Nodes needed for RFC 6962 PATH(index, D[size]), leaf-to-root order."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} out of range for tree size {size}")
    plan: Plan = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            plan.append(range_nodes(lo + k, hi))
            hi = lo + k
        else:
            plan.append(range_nodes(lo, lo + k))
            lo = lo + k
    plan.reverse()
    return plan


def consistency_plan(first: int, second: int) -> Plan:
    """Nodes needed for RFC 6962 PROOF(first, D[second])."""
    if not 0 <= first <= second:
        raise ValueError(f"sizes {first} and {second} are not in order")
    if first in (0, second):
        return []
    plan: Plan = []
    lo, hi, m, complete = 0, second, first, True
    while True:
        if m == hi - lo:
            if not complete:
                plan.append(range_nodes(lo, hi))
            break
        k = _split(hi - lo)
        if m <= k:
            plan.append(range_nodes(lo + k, hi))
            hi = lo + k
        else:
            plan.append(range_nodes(lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    plan.reverse()
    return plan


def plan_nodes(plan: Plan) -> set[Node]:
    return {node for element in plan for node in element}


def resolve_plan(
    plan: Plan, read_nodes: Callable[[Iterable[Node]], Mapping[Node, bytes]]
) -> list[bytes]:
    """Turn a plan into proof hashes, reading every needed node in one call."""
    if not plan:
        return []
    hashes = read_nodes(plan_nodes(plan))
    return [fold_range([hashes[n] for n in element]) for element in plan]
