"""Opening a log: create it, or load its durable head and refuse to serve it if what is
stored disagrees with itself (a truncated, corrupt or foreign database)."""

from __future__ import annotations

from functools import partial

from sceau.errors import InternalError
from sceau.log.integrate import (
    ENTRIES,
    TreeEdge,
    TreeHasher,
    integrate,
    split_bundle,
    split_hashes,
)
from sceau.log.model import LogConfig, TreeState, batch_write, tile_loader
from sceau.log.storage import Storage, TreeHead
from sceau.merkle import leaf_hash
from sceau.merkle.tiles import TILE_HEIGHT, TILE_WIDTH, fold_complete, tile_width_at
from sceau.note import NoteError, open_checkpoint

_MASK = TILE_WIDTH - 1


class StartupCheck:
    """Runs in the writer thread, once, before the log takes entries.

    Always: tile sizes against the head, the right edge, the root, the checkpoint's
    signature and the edge bundle's entries (cost independent of the log's size, except
    one hash per full tile). With ``verify_entries`` (``sceau check``): every entry bundle
    against its tile and every leaf through the leaf index (reads the whole log).
    """

    def __init__(self, storage: Storage, config: LogConfig, *, verify_entries: bool) -> None:
        self._storage, self.config = storage, config
        self.name = config.name
        self._verify_entries = verify_entries
        self._load_tile = tile_loader(partial(storage.read_tiles, config.name))

    def open(self, state: TreeState, *, create: bool) -> None:
        """Load (or create) the log into ``state``. Raises if the stored state is damaged."""
        stored = self._storage.load_head(self.name)
        if stored is None:
            if not create:
                raise InternalError(
                    f"log {self.name!r} does not exist in storage (run `sceau init`)"
                )
            # The first head: the genesis entry if there is one, else the empty tree; either
            # way a signed checkpoint exists from the start (the read path always has one).
            genesis = [] if self.config.genesis is None else [self.config.genesis]
            hashes = [leaf_hash(e) for e in genesis]
            integ = integrate(TreeEdge(), hashes, genesis, self._load_tile)
            first = batch_write(self.config, None, integ, [(h, 0) for h in hashes], [])
            self._storage.create_log(self.name, self.config.origin, first)
            stored = self._storage.load_head(self.name)
            assert stored is not None
        origin = self._storage.log_origin(self.name)
        if origin != self.config.origin:
            raise InternalError(
                f"log {self.name!r} was created with origin {origin!r}, "
                f"config says {self.config.origin!r}"
            )
        state.adopt(self._check_stored(stored), stored)

    def _check_stored(self, head: TreeHead) -> TreeEdge:
        """Refuse to serve a log whose tiles or head disagree (truncated or corrupt state)."""
        what = f"log {self.name!r} is damaged"
        for level, idx, nbytes in self._storage.tile_sizes(self.name):
            if level == ENTRIES:
                continue
            want = tile_width_at(level, idx, head.size)
            if nbytes % 32 or nbytes // 32 < want or nbytes > TILE_WIDTH * 32:
                raise InternalError(
                    f"{what}: tile {level}/{idx} has {nbytes} bytes, expected {want} hashes"
                )
        try:
            edge = TreeEdge.load(head.size, self._load_tile)
        except InternalError as e:
            raise InternalError(f"{what}: {e.message}") from e
        if head.size == 0:
            return edge  # a new log: nothing stored yet, no checkpoint signed yet
        self._check_tile_tree(head.size, what)
        root = TreeHasher(
            head.size, {(lvl, i): h for lvl, (i, h) in edge.tiles.items()}, self._load_tile
        ).root()
        if root != head.root_hash:
            raise InternalError(f"{what}: tiles give a root hash that differs from the stored head")
        try:
            cp = open_checkpoint(head.note, [s.verifier() for s in self.config.note_signers])
        except NoteError as e:
            raise InternalError(f"{what}: stored checkpoint does not verify: {e.message}") from e
        if (cp.size, cp.root_hash, cp.origin) != (head.size, head.root_hash, self.config.origin):
            raise InternalError(f"{what}: stored checkpoint does not match the tree head")
        idx, data = edge.bundle
        entries = split_bundle(data)
        first = idx << TILE_HEIGHT
        tile0 = edge.tiles[0][1]
        for i, entry in enumerate(entries):
            if leaf_hash(entry) != tile0[(first + i) & _MASK]:
                raise InternalError(f"{what}: entry {first + i} does not match its leaf hash")
        if self._verify_entries:
            self._check_leaf_index(first, tile0[: len(entries)], what)
        return edge

    def _check_leaf_index(self, first: int, hashes: list[bytes], what: str) -> None:
        """(``sceau check``) The leaf index finds each leaf at its own index, or at an earlier
        copy of the same leaf."""
        found = self._storage.find_leaves(self.name, hashes)
        for k, lh in enumerate(hashes, first):
            at = found.get(lh)
            if at is None or at > k:
                raise InternalError(f"{what}: the leaf index does not find entry {k}")
            if at != k and split_hashes(self._load_tile((0, at >> TILE_HEIGHT)))[at & _MASK] != lh:
                raise InternalError(f"{what}: the leaf index maps entry {k} to entry {at}")

    def _check_tile_tree(self, size: int, what: str) -> None:
        """Every full tile must hash to its parent's entry, up to the edge (≈1 hash/leaf).

        With ``verify_entries`` every full entry bundle is also re-hashed against its
        level-0 tile (reads the whole log: ``sceau check``, not every start).
        """
        level, stored = 0, size
        while stored >> TILE_HEIGHT:
            parents = stored >> TILE_HEIGHT  # full tiles at this level
            for first in range(0, parents, 256):
                keys = [(level, i) for i in range(first, min(first + 256, parents))]
                tiles = self._storage.read_tiles(self.name, keys)
                parent = split_hashes(self._load_tile((level + 1, first >> TILE_HEIGHT)))
                for lvl, i in keys:
                    data = tiles.get((lvl, i))
                    if data is None or len(data) != TILE_WIDTH * 32:
                        raise InternalError(f"{what}: tile {lvl}/{i} is missing or short")
                    hashes = split_hashes(data)
                    if fold_complete(hashes) != parent[i & _MASK]:
                        raise InternalError(f"{what}: tile {lvl}/{i} does not hash to its parent")
                    if lvl == 0 and self._verify_entries:
                        bundle = self._load_tile((ENTRIES, i))
                        if [leaf_hash(e) for e in split_bundle(bundle)] != hashes:
                            raise InternalError(
                                f"{what}: entry bundle {i} does not match tile 0/{i}"
                            )
                        self._check_leaf_index(i << TILE_HEIGHT, hashes, what)
            stored >>= TILE_HEIGHT
            level += 1
