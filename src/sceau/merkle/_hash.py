"""RFC 6962 hashing, in-memory proof generation (the reference) and proof verification."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sceau.errors import VerificationError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


class ProofError(VerificationError):
    """An inclusion or consistency proof is malformed or does not match the root."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 ‖ data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right)."""
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def tree_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over the given leaf hashes (iterative, O(n) hashes, O(log n) memory)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    # A stack of (height, hash) of complete subtrees: the "compact range" of the prefix.
    stack: list[tuple[int, bytes]] = []
    for h in leaf_hashes:
        height = 0
        while stack and stack[-1][0] == height:
            h = node_hash(stack.pop()[1], h)
            height += 1
        stack.append((height, h))
    root = stack.pop()[1]
    while stack:
        root = node_hash(stack.pop()[1], root)
    return root


def _mth(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    return tree_root(leaves[lo:hi])


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(index, D[n]) computed from all leaf hashes (reference)."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ValueError(f"index {index} out of range for tree size {n}")
    proof: list[bytes] = []
    lo, hi = 0, n
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            proof.append(_mth(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_mth(leaf_hashes, lo, lo + k))
            lo = lo + k
    proof.reverse()
    return proof


def consistency_proof(first: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.2 PROOF(first, D[n]) computed from all leaf hashes (reference)."""
    n = len(leaf_hashes)
    if not 0 <= first <= n:
        raise ValueError(f"first size {first} out of range for tree size {n}")
    if first in (0, n):
        return []
    proof: list[bytes] = []
    lo, hi, m, complete = 0, n, first, True
    while True:
        if m == hi - lo:
            if not complete:
                proof.append(_mth(leaf_hashes, lo, hi))
            break
        k = _split(hi - lo)
        if m <= k:
            proof.append(_mth(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_mth(leaf_hashes, lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    proof.reverse()
    return proof


def _check_hashes(proof: Sequence[bytes], *named: tuple[str, bytes]) -> None:
    for h in proof:
        if not isinstance(h, bytes | bytearray) or len(h) != HASH_SIZE:
            raise ProofError("proof hash is not 32 bytes")
    for name, h in named:
        if not isinstance(h, bytes | bytearray) or len(h) != HASH_SIZE:
            raise ProofError(f"{name} is not 32 bytes")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2: the root implied by an inclusion proof (raises if malformed)."""
    _check_hashes(proof, ("leaf hash", leaf))
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise :class:`ProofError` unless ``leaf`` is at ``index`` in the tree ``(size, root)``."""
    computed = root_from_inclusion_proof(index, size, leaf, proof)
    if computed != root:
        raise ProofError("inclusion proof does not lead to the expected root hash")


def verify_consistency(
    first: int, second: int, proof: Sequence[bytes], first_root: bytes, second_root: bytes
) -> None:
    """RFC 9162 §2.1.4.2: raise :class:`ProofError` unless tree 2 extends tree 1."""
    _check_hashes(proof, ("first root", first_root), ("second root", second_root))
    if not 0 <= first <= second:
        raise ProofError(f"sizes {first} and {second} are not in order")
    if first == second:
        if proof:
            raise ProofError("consistency proof between equal sizes must be empty")
        if first_root != second_root:
            raise ProofError("equal tree sizes with different root hashes")
        return
    if first == 0:
        if proof:
            raise ProofError("consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first tree is a node of the second
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != first_root:
        raise ProofError("consistency proof does not match the first root")
    if sr != second_root:
        raise ProofError("consistency proof does not match the second root")
