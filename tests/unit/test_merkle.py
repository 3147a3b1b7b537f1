"""sceau.merkle against a naive RFC 6962 reference written here (recursive MTH, PATH, PROOF).

The reference follows RFC 6962 §2.1 literally and shares no code with sceau: roots, proofs
and plans from sceau must equal it, verification must accept every honest proof and refuse
every tampered one.
"""

from __future__ import annotations

import hashlib
import random
from functools import cache

import pytest

from sceau import merkle

RNG = random.Random(6962)
LEAVES = [
    hashlib.sha256(b"\x00" + RNG.randbytes(RNG.randrange(0, 40))).digest() for _ in range(320)
]


# --- the naive reference (RFC 6962 §2.1) --------------------------------------------------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """Largest power of two strictly smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def mth(lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) over LEAVES, recursively."""
    n = hi - lo
    if n == 0:
        return _h(b"")
    if n == 1:
        return LEAVES[lo]
    k = _k(n)
    return _h(b"\x01" + mth(lo, lo + k) + mth(lo + k, hi))


def path(m: int, lo: int, hi: int) -> list[bytes]:
    """PATH(m, D[lo:hi]) with m relative to lo."""
    n = hi - lo
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, lo, lo + k), mth(lo + k, hi)]
    return [*path(m - k, lo + k, hi), mth(lo, lo + k)]


def subproof(m: int, lo: int, hi: int, b: bool) -> list[bytes]:
    """SUBPROOF(m, D[lo:hi], b)."""
    n = hi - lo
    if m == n:
        return [] if b else [mth(lo, hi)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, lo, lo + k, b), mth(lo + k, hi)]
    return [*subproof(m - k, lo + k, hi, False), mth(lo, lo + k)]


def proof(m: int, n: int) -> list[bytes]:
    return subproof(m, 0, n, True) if 0 < m < n else []


def _tampered(p: list[bytes]):
    """Every single-change corruption of a proof worth trying."""
    for i in range(len(p)):
        flipped = bytearray(p[i])
        flipped[i % 32] ^= 0x40
        yield [*p[:i], bytes(flipped), *p[i + 1 :]]
        yield p[:i] + p[i + 1 :]  # element dropped
    yield [*p, p[-1] if p else LEAVES[0]]  # element added
    if len(p) > 1:
        yield [p[1], p[0], *p[2:]]  # order swapped


# --- roots ---------------------------------------------------------------------------------


def test_roots_match_reference():
    for n in range(0, 301):
        assert merkle.tree_root(LEAVES[:n]) == mth(0, n)
    assert merkle.tree_root([]) == merkle.EMPTY_ROOT == _h(b"")


def test_hash_prefixes():
    assert merkle.leaf_hash(b"abc") == _h(b"\x00abc")
    assert merkle.node_hash(b"a" * 32, b"b" * 32) == _h(b"\x01" + b"a" * 32 + b"b" * 32)


# --- inclusion -----------------------------------------------------------------------------


def test_inclusion_every_index_up_to_100():
    for n in range(1, 101):
        root = mth(0, n)
        for i in range(n):
            want = path(i, 0, n)
            got = merkle.inclusion_proof(i, LEAVES[:n])
            assert got == want, (i, n)
            merkle.verify_inclusion(i, n, LEAVES[i], got, root)


def test_inclusion_tampering_rejected():
    rng = random.Random(1)
    for n in [*range(1, 40), *rng.sample(range(40, 301), 40)]:
        root = mth(0, n)
        for i in {0, n - 1, rng.randrange(n)}:
            p = path(i, 0, n)
            for bad in _tampered(p):
                with pytest.raises(merkle.ProofError):
                    merkle.verify_inclusion(i, n, LEAVES[i], bad, root)
            wrong_leaf = LEAVES[(i + 1) % len(LEAVES)]
            for args in (
                (i, n, wrong_leaf, p, root),  # another leaf
                (i, n, LEAVES[i], p, mth(0, n - 1) if n > 1 else _h(b"x")),  # another root
                (i, n + 1, LEAVES[i], p, mth(0, n + 1)),  # the next tree, with its root
                (n, n, LEAVES[i], p, root),  # index == size
                (-1, n, LEAVES[i], p, root),
            ):
                with pytest.raises(merkle.ProofError):
                    merkle.verify_inclusion(*args)
            if n > 1 and (i ^ 1) < n:  # the sibling index with the same path never verifies
                with pytest.raises(merkle.ProofError):
                    merkle.verify_inclusion(i ^ 1, n, LEAVES[i], p, root)


def test_inclusion_rejects_malformed_hashes():
    p = path(3, 0, 10)
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(3, 10, LEAVES[3], [*p[:-1], p[-1][:31]], mth(0, 10))
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(3, 10, LEAVES[3][:31], p, mth(0, 10))


# --- consistency ---------------------------------------------------------------------------


def _pairs():
    pairs = [(m, n) for n in range(1, 65) for m in range(0, n + 1)]
    rng = random.Random(2)
    for _ in range(400):
        n = rng.randrange(65, 301)
        pairs.append((rng.randrange(0, n + 1), n))
    return pairs


def test_consistency_all_pairs():
    for m, n in _pairs():
        want = proof(m, n)
        got = merkle.consistency_proof(m, LEAVES[:n])
        assert got == want, (m, n)
        merkle.verify_consistency(m, n, got, mth(0, m), mth(0, n))


def test_consistency_tampering_rejected():
    for m, n in _pairs():
        if not 0 < m < n:
            continue
        p = proof(m, n)
        r1, r2 = mth(0, m), mth(0, n)
        for bad in _tampered(p):
            with pytest.raises(merkle.ProofError):
                merkle.verify_consistency(m, n, bad, r1, r2)
        for args in (
            (m, n, p, mth(0, m - 1), r2),  # wrong first root
            (m, n, p, r1, mth(0, n - 1)),  # wrong second root
            (m, n, [], r1, r2),
        ):
            with pytest.raises(merkle.ProofError):
                merkle.verify_consistency(*args)
        if m + 1 < n:
            with pytest.raises(merkle.ProofError):
                merkle.verify_consistency(m + 1, n, p, mth(0, m + 1), r2)


def test_consistency_edge_cases():
    r = mth(0, 5)
    merkle.verify_consistency(5, 5, [], r, r)
    merkle.verify_consistency(0, 5, [], _h(b""), r)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(5, 5, [], r, mth(0, 4))
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(5, 5, [r], r, r)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(0, 5, [r], _h(b""), r)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(6, 5, [], r, r)


# --- plans ---------------------------------------------------------------------------------


def _read_nodes(size: int):
    """A naive node reader that also checks every requested node is complete and in range."""
    asked: list[tuple[int, int]] = []

    def read(nodes):
        out = {}
        for level, index in nodes:
            lo, hi = index << level, (index + 1) << level
            assert hi <= size, f"plan reads node {(level, index)} beyond size {size}"
            asked.append((level, index))
            out[(level, index)] = mth(lo, hi)
        return out

    return read, asked


def test_inclusion_plans_equal_reference():
    for n in range(1, 101):
        for i in range(n):
            read, _ = _read_nodes(n)
            assert merkle.resolve_plan(merkle.inclusion_plan(i, n), read) == path(i, 0, n)
    for n in (255, 256, 257, 299, 300):
        for i in (0, 1, n // 2, n - 2, n - 1):
            read, _ = _read_nodes(n)
            assert merkle.resolve_plan(merkle.inclusion_plan(i, n), read) == path(i, 0, n)


def test_consistency_plans_equal_reference():
    for m, n in _pairs():
        read, _ = _read_nodes(n)
        assert merkle.resolve_plan(merkle.consistency_plan(m, n), read) == proof(m, n), (m, n)


def test_plans_reject_bad_ranges():
    for args in ((5, 5), (-1, 5), (0, 0)):
        with pytest.raises(ValueError):
            merkle.inclusion_plan(*args)
    with pytest.raises(ValueError):
        merkle.consistency_plan(6, 5)


def test_range_nodes_cover_the_range():
    for lo in range(0, 70):
        for hi in range(lo, 140):
            nodes = merkle.range_nodes(lo, hi)
            covered = []
            for level, index in nodes:
                covered.extend(range(index << level, (index + 1) << level))
            assert covered == list(range(lo, hi))
            n = hi - lo
            if n and lo % (1 << (n - 1).bit_length()) == 0:
                # A range aligned like a subtree of the log folds (from the right) to its MTH.
                folded = merkle.fold_range([mth(i << lv, (i + 1) << lv) for lv, i in nodes])
                assert folded == mth(lo, hi), (lo, hi)
