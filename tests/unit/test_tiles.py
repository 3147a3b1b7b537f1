"""sceau.merkle.tiles: C2SP tlog-tiles paths, widths and node locations (docs/protocols.md §7.5)."""

from __future__ import annotations

import hashlib

import pytest

from sceau import merkle
from sceau.errors import InputError
from sceau.merkle import tiles
from sceau.merkle.tiles import Tile, encode_index, parse_tile_path, tile_path


@pytest.mark.parametrize(
    ("n", "encoded"),
    [
        (1234067, "x001/x234/067"),
        (5, "005"),
        (1000, "x001/000"),
        (0, "000"),
        (999, "999"),
        (1_000_000, "x001/x000/000"),
        (273, "273"),
    ],
)
def test_index_encoding(n, encoded):
    assert encode_index(n) == encoded
    assert parse_tile_path(f"tile/0/{encoded}") == Tile(0, n)


def test_paths():
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(1, 1, 17) == "tile/1/001.p/17"
    assert tile_path(tiles.ENTRIES_LEVEL, 1000, 5) == "tile/entries/x001/000.p/5"
    assert parse_tile_path("tile/entries/x001/000.p/5") == Tile(tiles.ENTRIES_LEVEL, 1000, 5)
    assert parse_tile_path("tile/2/000.p/1") == Tile(2, 0, 1)
    assert parse_tile_path("tile/63/000") == Tile(63, 0)
    for tile in (Tile(0, 5), Tile(3, 1234067, 255), Tile(tiles.ENTRIES_LEVEL, 7, 1)):
        assert parse_tile_path(tile.path) == tile
        assert tile.is_partial == (tile.width < 256)
    with pytest.raises(ValueError):
        tile_path(0, 1, 0)
    with pytest.raises(ValueError):
        tile_path(0, 1, 257)
    with pytest.raises(ValueError):
        encode_index(-1)


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/x000/005",  # non-canonical leading group
        "tile/0/x000/x001/005",
        "tile/0/005.p/0",  # width 0
        "tile/0/005.p/256",  # full width written as partial
        "tile/0/005.p/300",
        "tile/0/005.p/05",  # leading zero in width
        "tile/0/005.p/",
        "tile/0/005.p/1x",
        "tile/0/5",  # not three digits
        "tile/0/0005",
        "tile/0/x1/005",
        "tile/0/00a",  # letters
        "tile/0/x00a/005",
        "tile/0/X001/005",
        "tile/a/005",
        "tile/00/005",  # leading zero in level
        "tile/01/005",
        "tile/64/000",  # level out of range
        "tile/-1/000",
        "tile/entries/005.p/0",
        "tile/0/005/",
        "/tile/0/005",
        "tile/0/x001",  # ends on an x group
        "tile//005",
        "tile/0/005 ",
        "tile/0/００５",  # non-ASCII digits
        "tile/0/001/002",
    ],
)
def test_parse_strictness(path):
    with pytest.raises(InputError):
        parse_tile_path(path)


def test_tiles_for_size_70000_matches_protocols_example():
    """docs/protocols.md §7.5: 273 full L0 + L0 partial w112, 1 full L1 + L1 partial w17, L2 w1."""
    assert tiles.tiles_for_size(70000) == [Tile(0, 273, 112), Tile(1, 1, 17), Tile(2, 0, 1)]
    full_l0 = [n for n in range(300) if tiles.tile_width_at(0, n, 70000) == 256]
    full_l1 = [n for n in range(5) if tiles.tile_width_at(1, n, 70000) == 256]
    assert full_l0 == list(range(273)) and full_l1 == [0]
    assert tiles.tile_width_at(0, 273, 70000) == 112
    assert tiles.tile_width_at(0, 274, 70000) == 0
    assert tiles.tile_width_at(1, 1, 70000) == 17
    assert tiles.tile_width_at(2, 0, 70000) == 1
    assert tiles.tile_width_at(3, 0, 70000) == 0
    # Entry bundles follow level 0.
    assert tiles.tile_width_at(tiles.ENTRIES_LEVEL, 273, 70000) == 112


@pytest.mark.parametrize(
    ("size", "want"),
    [
        (0, []),
        (1, [Tile(0, 0, 1)]),
        (255, [Tile(0, 0, 255)]),
        (256, [Tile(0, 0, 256), Tile(1, 0, 1)]),
        (257, [Tile(0, 1, 1), Tile(1, 0, 1)]),
        (65536, [Tile(0, 255, 256), Tile(1, 0, 256), Tile(2, 0, 1)]),
    ],
)
def test_tiles_for_size_edges(size, want):
    assert tiles.tiles_for_size(size) == want


def test_tiles_for_size_agrees_with_widths():
    for size in [*range(0, 600, 7), 65535, 65536, 65537, 16_777_216 + 3]:
        got = tiles.tiles_for_size(size)
        for t in got:
            assert tiles.tile_width_at(t.level, t.index, size) == t.width
            assert tiles.tile_width_at(t.level, t.index + 1, size) == 0
        # The rightmost tile at level L holds the last hash of tree level 8·L.
        levels = [t.level for t in got]
        assert levels == list(range(len(got)))


# --- node locations against real tiles built naively --------------------------------------

LEAVES = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(700)]


def _mth(lo: int, hi: int) -> bytes:
    return merkle.tree_root(LEAVES[lo:hi])


def _tile_hashes(level: int, size: int) -> list[bytes]:
    """All hashes of tree level 8·level (complete subtrees of 256**level leaves)."""
    span = 256**level
    return [_mth(i * span, (i + 1) * span) for i in range(size // span)]


def test_node_location_reads_the_right_hashes():
    size = len(LEAVES)
    stored = {0: _tile_hashes(0, size), 1: _tile_hashes(1, size)}
    checked = 0
    for level in range(0, 10):
        for index in range(0, size >> level):
            tl, ti, first, count = tiles.node_location(level, index)
            assert count == 1 << (level % 8) and 0 <= first and first + count <= 256
            base = ti * 256 + first
            hashes = stored[tl][base : base + count]
            assert len(hashes) == count
            want = _mth(index << level, (index + 1) << level)
            assert tiles.fold_complete(hashes) == want, (level, index)
            checked += 1
    assert checked > 1300


def test_split_tile():
    data = b"".join(LEAVES[:3])
    assert tiles.split_tile(data) == LEAVES[:3]
    with pytest.raises(ValueError):
        tiles.split_tile(data[:-1])
