"""C2SP tlog-tiles arithmetic: tile coordinates, path encoding, partial tiles.

A tile at level ``L`` and index ``N`` holds up to 256 hashes of tree level ``8·L``: hash ``i``
is the node ``(8·L, N·256 + i)``. Nodes at levels between multiples of 8 are not stored;
they are folded from the 2**r stored hashes below them (:func:`node_location`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sceau.errors import InputError

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes per full tile
ENTRIES_LEVEL = -1  # pseudo-level for entry bundles (``tile/entries/…``)


@dataclass(frozen=True, slots=True)
class Tile:
    """A tile or entry bundle: ``level`` (-1 for entries), ``index``, ``width`` (1..256)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    @property
    def is_partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def path(self) -> str:
        return tile_path(self.level, self.index, self.width)


def encode_index(n: int) -> str:
    """``1234067`` → ``x001/x234/067``; ``5`` → ``005``; ``1000`` → ``x001/000``."""
    if n < 0:
        raise ValueError("tile index must be non-negative")
    digits = str(n)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """The tile's path below the log prefix, e.g. ``tile/0/x001/234/067.p/5``."""
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile width {width} out of range")
    head = "tile/entries" if level == ENTRIES_LEVEL else f"tile/{level}"
    tail = f".p/{width}" if width < TILE_WIDTH else ""
    return f"{head}/{encode_index(index)}{tail}"


_PATH = re.compile(r"tile/(entries|0|[1-9][0-9]?)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([0-9]{1,3}))?")


def parse_tile_path(path: str) -> Tile:
    """Parse ``tile/L/N[.p/W]`` or ``tile/entries/N[.p/W]`` strictly (InputError otherwise)."""
    m = _PATH.fullmatch(path)
    if not m:
        raise InputError(f"malformed tile path {path!r}")
    level_s, index_s, width_s = m.groups()
    level = ENTRIES_LEVEL if level_s == "entries" else int(level_s)
    if level > 63:
        raise InputError(f"tile level {level} out of range")
    groups = index_s.split("/")
    if len(groups) > 1 and groups[0] == "x000":
        raise InputError(f"non-canonical tile index in {path!r}")
    index = int("".join(g.lstrip("x") for g in groups))
    width = TILE_WIDTH
    if width_s is not None:
        if width_s.startswith("0") or not 1 <= int(width_s) < TILE_WIDTH:
            raise InputError(f"partial tile width must be 1..255 in {path!r}")
        width = int(width_s)
    return Tile(level, index, width)


def tile_width_at(level: int, index: int, size: int) -> int:
    """Width of tile ``(level, index)`` in a tree of ``size`` leaves (0 = does not exist yet)."""
    lvl = max(level, 0)
    stored = size >> (TILE_HEIGHT * lvl)  # hashes existing at tree level 8·lvl
    start = index * TILE_WIDTH
    return max(0, min(TILE_WIDTH, stored - start))


def tiles_for_size(size: int) -> list[Tile]:
    """The rightmost tile (full or partial) at each level for a tree of ``size``."""
    tiles: list[Tile] = []
    level = 0
    stored = size
    while stored > 0:
        full, partial = divmod(stored, TILE_WIDTH)
        if partial:
            tiles.append(Tile(level, full, partial))
        elif full:
            tiles.append(Tile(level, full - 1, TILE_WIDTH))
        stored = full
        level += 1
    return tiles


def node_location(level: int, index: int) -> tuple[int, int, int, int]:
    """Where node ``(level, index)`` is stored: ``(tile_level, tile_index, first, count)``.

    The node is the fold of ``count`` (a power of two) consecutive hashes starting at
    position ``first`` of the given tile.
    """
    tile_level, r = divmod(level, TILE_HEIGHT)
    start = index << r  # index of the first covered hash at tree level 8·tile_level
    return tile_level, start >> TILE_HEIGHT, start & (TILE_WIDTH - 1), 1 << r


def fold_complete(hashes: list[bytes]) -> bytes:
    """Root of a complete subtree from its 2**r bottom hashes."""
    from sceau.merkle._hash import node_hash

    while len(hashes) > 1:
        hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return hashes[0]


def split_tile(data: bytes) -> list[bytes]:
    """Split tile bytes into 32-byte hashes (raises if the length is not a multiple)."""
    if len(data) % 32:
        raise ValueError(f"tile of {len(data)} bytes is not a whole number of hashes")
    return [data[i : i + 32] for i in range(0, len(data), 32)]
