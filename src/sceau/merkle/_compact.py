"""Compact ranges: the O(log n) state that lets anyone extend a Merkle tree leaf by leaf.

The compact range of a tree of size ``n`` is the list of complete subtrees covering leaves
``[0, n)`` (:func:`sceau.merkle.range_nodes` order, largest first). Folding it gives the tree
root; appending a leaf merges equal-height subtrees. A monitor that keeps the compact range
of the last tree it verified, appends every new entry's leaf hash and compares the result
with the new signed root has proved both that the new tree extends the old one and that the
entries it read are exactly the log's leaves (docs/monitoring.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sceau.merkle._hash import EMPTY_ROOT, HASH_SIZE, ProofError, node_hash
from sceau.merkle._plan import range_nodes


class CompactRange:
    """Subtree hashes covering leaves ``[0, size)``; :meth:`append` adds the next leaf."""

    __slots__ = ("_hashes", "_heights", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        nodes = range_nodes(0, size)
        if len(nodes) != len(hashes):
            raise ProofError(
                f"a compact range of size {size} has {len(nodes)} hashes, got {len(hashes)}"
            )
        for h in hashes:
            if not isinstance(h, bytes) or len(h) != HASH_SIZE:
                raise ProofError("compact range hash is not 32 bytes")
        self.size = size
        self._heights = [level for level, _ in nodes]
        self._hashes = list(hashes)

    @property
    def hashes(self) -> list[bytes]:
        return list(self._hashes)

    def append(self, leaf: bytes) -> None:
        """Add the leaf hash of entry ``size``."""
        heights, hashes = self._heights, self._hashes
        height, h = 0, leaf
        while heights and heights[-1] == height:
            heights.pop()
            h = node_hash(hashes.pop(), h)
            height += 1
        heights.append(height)
        hashes.append(h)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """The tree hash of leaves ``[0, size)``."""
        if not self._hashes:
            return EMPTY_ROOT
        root = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            root = node_hash(left, root)
        return root


def left_siblings(index: int, size: int, proof: Sequence[bytes]) -> list[bytes]:
    """The proof hashes of an inclusion proof for ``index`` that lie left of the leaf.

    They are the complete subtrees covering ``[0, index)`` (smallest first in the proof),
    returned largest first: with the leaf appended, the compact range of ``index + 1``.
    Whatever tree the proof is for, the caller checks the result against a signed root.
    """
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not below tree size {size}")
    fn, sn = index, size - 1
    left: list[bytes] = []
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            left.append(p)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    left.reverse()
    return left
