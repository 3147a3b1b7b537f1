"""Pure integration: append leaves to a tiled tree in memory, compute root and proofs.

Nothing here does I/O. :class:`TreeEdge` is the *right edge* of a tiled log — the rightmost
tile at every level and the rightmost entry bundle — which is all the state needed to
append (Tessera's "integrate" step). :func:`integrate` returns the tiles and bundles a batch
touched plus the new edge; the storage driver persists them, and only then does the engine
hand out results. Memory stays flat in log size: one tile per level plus one batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sceau.errors import InternalError
from sceau.merkle import EMPTY_ROOT, node_hash
from sceau.merkle.tiles import TILE_HEIGHT, TILE_WIDTH

MAX_ENTRY_SIZE = 0xFFFF  # entry bundles length-prefix entries with a big-endian u16
ENTRIES = -1  # tile level used for entry bundles
_MASK = TILE_WIDTH - 1

TileKey = tuple[int, int]  # (tile level, tile index); level -1 = entry bundle
TileLoader = Callable[[TileKey], bytes]


def join_bundle(entries: Sequence[bytes]) -> bytes:
    return b"".join(len(e).to_bytes(2, "big") + e for e in entries)


def split_bundle(data: bytes) -> list[bytes]:
    """Parse an entry bundle ``(u16 length ‖ bytes)*``; raises on truncation."""
    out: list[bytes] = []
    pos, end = 0, len(data)
    while pos < end:
        if pos + 2 > end:
            raise InternalError("entry bundle is truncated (length prefix)")
        n = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if pos + n > end:
            raise InternalError("entry bundle is truncated (entry)")
        out.append(bytes(data[pos : pos + n]))
        pos += n
    return out


def bundle_offset(data: bytes, count: int) -> int:
    """Where entry ``count`` of a bundle starts (the end of the first ``count`` entries),
    found by hopping over length prefixes: no copy of the entries before it."""
    pos, end = 0, len(data)
    for _ in range(count):
        if pos + 2 > end:
            raise InternalError("entry bundle is truncated (length prefix)")
        pos += 2 + int.from_bytes(data[pos : pos + 2], "big")
    if pos > end:
        raise InternalError("entry bundle is truncated (entry)")
    return pos


def bundle_entry(data: bytes, k: int) -> bytes:
    """Entry ``k`` of a bundle (one entry read without splitting the whole bundle)."""
    pos = bundle_offset(data, k)
    if pos + 2 > len(data):
        raise InternalError("entry bundle is truncated (length prefix)")
    n = int.from_bytes(data[pos : pos + 2], "big")
    if pos + 2 + n > len(data):
        raise InternalError("entry bundle is truncated (entry)")
    return bytes(data[pos + 2 : pos + 2 + n])


def split_hashes(data: bytes) -> list[bytes]:
    if len(data) % 32:
        raise InternalError(f"tile of {len(data)} bytes is not a whole number of hashes")
    return [data[i : i + 32] for i in range(0, len(data), 32)]


def _fold_levels(hashes: list[bytes]) -> list[list[bytes]]:
    """Every level of the complete subtree over ``hashes`` (a power of two), leaves first."""
    levels = [hashes]
    while len(hashes) > 1:
        hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        levels.append(hashes)
    return levels


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


@dataclass
class TreeEdge:
    """Rightmost tile per level and the rightmost entry bundle of a tree of ``size``."""

    size: int = 0
    tiles: dict[int, tuple[int, list[bytes]]] = field(
        default_factory=dict
    )  # level -> (idx, hashes)
    bundle: tuple[int, bytes] = (0, b"")  # (index, bytes of its entries)

    @classmethod
    def load(cls, size: int, load: TileLoader) -> TreeEdge:
        """Rebuild the edge of a stored tree from its tiles; raise if any is short or torn."""
        edge = cls(size=size)
        level, stored = 0, size
        while stored > 0:
            idx = (stored - 1) >> TILE_HEIGHT
            width = stored - (idx << TILE_HEIGHT)
            hashes = split_hashes(load((level, idx)))
            if len(hashes) < width:
                raise InternalError(
                    f"tile {level}/{idx} holds {len(hashes)} hashes; tree size {size} needs {width}"
                )
            edge.tiles[level] = (idx, hashes[:width])
            stored >>= TILE_HEIGHT
            level += 1
        if size:
            idx = (size - 1) >> TILE_HEIGHT
            count = size - (idx << TILE_HEIGHT)
            entries = split_bundle(load((ENTRIES, idx)))
            if len(entries) < count:
                raise InternalError(
                    f"entry bundle {idx} holds {len(entries)} entries; "
                    f"tree size {size} needs {count}"
                )
            edge.bundle = (idx, join_bundle(entries[:count]))
        return edge


class TreeHasher:
    """Node, root and proof hashes of one tree size, read from tiles, memoised.

    ``tiles`` are hash lists already in memory (a batch's working set); anything else is
    read through ``load``. One instance serves every proof of a batch, so the nodes that
    proofs share are hashed once.
    """

    def __init__(
        self,
        size: int,
        tiles: dict[TileKey, list[bytes]],
        load: TileLoader,
        blocks: dict[int, list[list[bytes]]] | None = None,
    ) -> None:
        self.size = size
        self._tiles = tiles
        self._load = load
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._ranges: dict[tuple[int, int], bytes] = {}
        self._upper: dict[int, tuple[list[bytes], int, int]] = {}
        # block -> its levels; integration hands over the ones it already hashed
        self._blocks: dict[int, list[list[bytes]]] = blocks if blocks is not None else {}

    def _tile(self, key: TileKey) -> list[bytes]:
        tile = self._tiles.get(key)
        if tile is None:
            tile = self._tiles[key] = split_hashes(self._load(key))
        return tile

    def node(self, level: int, index: int) -> bytes:
        """Hash of the complete subtree of 2**level leaves starting at index·2**level."""
        key = (level, index)
        h = self._nodes.get(key)
        if h is None:
            if level % TILE_HEIGHT == 0:
                tile = self._tile((level // TILE_HEIGHT, index >> TILE_HEIGHT))
                pos = index & _MASK
                if pos >= len(tile):
                    raise InternalError(f"node {level}/{index} is missing from its tile")
                h = tile[pos]
            else:
                h = node_hash(self.node(level - 1, 2 * index), self.node(level - 1, 2 * index + 1))
            self._nodes[key] = h
        return h

    def range(self, lo: int, hi: int) -> bytes:
        """MTH of leaves [lo, hi) where lo is aligned to the largest power of two part."""
        key = (lo, hi)
        h = self._ranges.get(key)
        if h is None:
            n = hi - lo
            if n & (n - 1) == 0:
                level = n.bit_length() - 1
                h = self.node(level, lo >> level)
            else:
                k = _split(n)
                h = node_hash(self.range(lo, lo + k), self.range(lo + k, hi))
            self._ranges[key] = h
        return h

    def root(self) -> bytes:
        return self.range(0, self.size) if self.size else EMPTY_ROOT

    def _block_levels(self, block: int) -> list[list[bytes]]:
        """All node hashes inside the complete 256-leaf block ``block``, level by level."""
        levels = self._blocks.get(block)
        if levels is None:
            row = self._tile((0, block))
            levels = [row]
            while len(row) > 1:
                row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row), 2)]
                levels.append(row)
            self._blocks[block] = levels
        return levels

    def inclusion_proof(self, index: int) -> list[bytes]:
        """RFC 6962 PATH(index, D[size]). The part above the index's 256-leaf block depends
        only on the block, so it is computed once per block; inside a complete block the
        siblings are read from the block's precomputed levels."""
        size = self.size
        if not 0 <= index < size:
            raise ValueError(f"index {index} out of range for tree size {size}")
        block = index >> TILE_HEIGHT
        cached = self._upper.get(block)
        if cached is None:
            upper: list[bytes] = []
            lo, hi = 0, size
            while hi - lo > TILE_WIDTH:
                k = 1 << ((hi - lo - 1).bit_length() - 1)
                if index - lo < k:
                    upper.append(self.range(lo + k, hi))
                    hi = lo + k
                else:
                    upper.append(self.range(lo, lo + k))
                    lo += k
            upper.reverse()
            cached = self._upper[block] = (upper, lo, hi)
        upper, lo, hi = cached
        if hi - lo == TILE_WIDTH:
            levels = self._block_levels(block)
            j = index & _MASK
            return [levels[lvl][(j >> lvl) ^ 1] for lvl in range(TILE_HEIGHT)] + upper
        lower: list[bytes] = []
        while hi - lo > 1:
            k = 1 << ((hi - lo - 1).bit_length() - 1)
            if index - lo < k:
                lower.append(self.range(lo + k, hi))
                hi = lo + k
            else:
                lower.append(self.range(lo, lo + k))
                lo += k
        lower.reverse()
        return lower + upper

    def consistency_proof(self, first: int) -> list[bytes]:
        if not 0 <= first <= self.size:
            raise ValueError(f"first size {first} out of range for tree size {self.size}")
        if first in (0, self.size):
            return []
        proof: list[bytes] = []
        lo, hi, m, complete = 0, self.size, first, True
        while True:
            if m == hi - lo:
                if not complete:
                    proof.append(self.range(lo, hi))
                break
            k = _split(hi - lo)
            if m <= k:
                proof.append(self.range(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self.range(lo, lo + k))
                lo, m, complete = lo + k, m - k, False
        proof.reverse()
        return proof


@dataclass
class Integration:
    """What one batch produced: the bytes to persist, the new edge, and a proof oracle."""

    old_size: int
    edge: TreeEdge
    writes: dict[TileKey, bytes]  # every tile and bundle the batch touched (widest version)
    hasher: TreeHasher

    @property
    def root(self) -> bytes:
        return self.hasher.root()


def integrate(
    edge: TreeEdge, leaf_hashes: Sequence[bytes], entries: Sequence[bytes], load: TileLoader
) -> Integration:
    """Append leaves (hashes and entry bytes) after ``edge``; ``edge`` is left unchanged.

    ``load`` reads a stored tile for proofs that reach outside the working set (only a
    duplicate's old index does).
    """
    if len(leaf_hashes) != len(entries):
        raise ValueError("leaf hashes and entries differ in length")
    old_size = edge.size
    work: dict[TileKey, list[bytes]] = {(lvl, i): list(h) for lvl, (i, h) in edge.tiles.items()}
    touched: set[TileKey] = set()
    stored: list[int] = []  # hashes stored at tile level L = size >> 8L
    s = old_size
    while s:
        stored.append(s)
        s >>= TILE_HEIGHT
    blocks: dict[int, list[list[bytes]]] = {}  # completed level-0 tiles, every level

    def carry(h: bytes, level: int) -> None:
        """Append ``h`` at tile level ``level``; a tile it fills carries its root upward."""
        while True:
            if level == len(stored):
                stored.append(0)
            n = stored[level]
            key = (level, n >> TILE_HEIGHT)
            tile = work.setdefault(key, [])
            tile.append(h)
            touched.add(key)
            stored[level] = n + 1
            if len(tile) < TILE_WIDTH:
                return
            h = _fold_levels(tile)[-1][0]
            level += 1

    # Level 0 a tile at a time (a slice, not a leaf at a time): most of the work of a batch.
    if not stored:
        stored.append(0)
    pos = 0
    while pos < len(leaf_hashes):
        n = stored[0]
        key = (0, n >> TILE_HEIGHT)
        tile = work.setdefault(key, [])
        take = leaf_hashes[pos : pos + TILE_WIDTH - len(tile)]
        tile.extend(take)
        touched.add(key)
        stored[0] = n + len(take)
        pos += len(take)
        if len(tile) == TILE_WIDTH:
            levels = blocks[key[1]] = _fold_levels(tile)  # the batch's proofs reuse them
            carry(levels[-1][0], 1)

    b_idx, b_data = edge.bundle
    bundles: dict[int, bytearray] = {b_idx: bytearray(b_data)}
    size = old_size
    for e in entries:
        if len(e) > MAX_ENTRY_SIZE:
            raise ValueError(f"entry of {len(e)} bytes exceeds {MAX_ENTRY_SIZE}")
        buf = bundles.get(size >> TILE_HEIGHT)
        if buf is None:
            buf = bundles[size >> TILE_HEIGHT] = bytearray()
        buf += len(e).to_bytes(2, "big")
        buf += e
        size += 1

    writes: dict[TileKey, bytes] = {key: b"".join(work[key]) for key in touched}
    for idx in {i >> TILE_HEIGHT for i in range(old_size, size, TILE_WIDTH)} | (
        {(size - 1) >> TILE_HEIGHT} if size > old_size else set()
    ):
        writes[(ENTRIES, idx)] = bytes(bundles[idx])

    new_edge = TreeEdge(size=size)
    for level, n in enumerate(stored):
        if n:
            idx = (n - 1) >> TILE_HEIGHT
            new_edge.tiles[level] = (idx, work[(level, idx)])
    if size:
        idx = (size - 1) >> TILE_HEIGHT
        new_edge.bundle = (idx, bytes(bundles[idx]) if idx in bundles else b"")
    return Integration(old_size, new_edge, writes, TreeHasher(size, work, load, blocks))
