"""Reading a log over HTTP: its checkpoint, its entries, and the compact range of a tree.

- :class:`TileSource` — C2SP tlog-tiles (Rekor v2 at ``/api/v2``, sceau's CT log at
  ``/ct``): entries come 256 at a time from entry bundles, fetched a few in parallel, and
  the compact range of any tree is read from the hash tiles.
- :class:`RekorV1Source` — Rekor v1 has no public tiles: entries come by index, ten per
  ``POST /api/v1/log/entries/retrieve``, and a compact range comes from the left half of
  one entry's inclusion proof.

Nothing here is trusted: the caller folds what it read into a root and compares it with
a signed checkpoint (a mismatch is the alarm). Malformed answers — a short tile, a
truncated bundle — are :class:`RemoteError`: the log answered badly, which a retry or a
cache may explain; only a signed contradiction is an alarm. Every response is size-bounded.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx

from sceau.errors import RemoteError
from sceau.merkle import CompactRange, ProofError, leaf_hash, left_siblings, range_nodes
from sceau.merkle.tiles import (
    ENTRIES_LEVEL,
    TILE_WIDTH,
    fold_complete,
    node_location,
    split_tile,
    tile_path,
    tile_width_at,
)
from sceau.monitor.checkpoints import open_checkpoint
from sceau.monitor.logs import LogTarget
from sceau.note import Checkpoint

TIMEOUT = 30.0
MAX_CHECKPOINT = 1 << 20
MAX_TILE = TILE_WIDTH * 32
MAX_BUNDLE = TILE_WIDTH * (2 + 65535)
MAX_JSON = 32 << 20
PARALLEL = 4  # requests in flight while catching up
V1_BATCH = 10  # Rekor's limit on logIndexes per retrieve


class Http:
    """One httpx client per thread (a pooled connection must not be shared across
    threads: httpcore#1110), bounded reads, errors as :class:`RemoteError`."""

    def __init__(self, user_agent: str = "sceau-monitor") -> None:
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()
        self._headers = {"User-Agent": user_agent}

    def _client(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(timeout=TIMEOUT, headers=self._headers)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def request(self, method: str, url: str, limit: int, **kw: Any) -> tuple[int, bytes]:
        try:
            with self._client().stream(method, url, **kw) as resp:
                body = bytearray()
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise RemoteError(f"{url}: answer larger than {limit} bytes")
                return resp.status_code, bytes(body)
        except httpx.HTTPError as e:
            raise RemoteError(f"{url}: {type(e).__name__}: {e}") from None

    def get(self, url: str, limit: int) -> bytes:
        status, body = self.request("GET", url, limit)
        if status != 200:
            raise RemoteError(f"GET {url}: HTTP {status}")
        return body

    def close(self) -> None:
        with self._lock:
            for c in self._clients:
                c.close()
            self._clients.clear()


def ordered(jobs: list[Callable[[], Any]], parallel: int = PARALLEL) -> Iterator[Any]:
    """Run ``jobs`` with ``parallel`` in flight, yielding results in order."""
    with ThreadPoolExecutor(parallel) as pool:
        pending: list[Future[Any]] = []
        it = iter(jobs)
        for job in it:
            pending.append(pool.submit(job))
            if len(pending) >= parallel * 2:
                break
        while pending:
            result = pending.pop(0).result()
            for job in it:
                pending.append(pool.submit(job))
                break
            yield result


class TileSource:
    """A C2SP tlog-tiles log under ``prefix`` (``…/api/v2`` or ``…/ct``)."""

    index_offset = 0

    def __init__(self, http: Http, prefix: str) -> None:
        self.http = http
        self.prefix = prefix.rstrip("/")

    def checkpoint(self) -> bytes:
        return self.http.get(f"{self.prefix}/checkpoint", MAX_CHECKPOINT)

    def latest(self, target: LogTarget) -> tuple[Checkpoint, str]:
        text = self.checkpoint()
        return open_checkpoint(target, text), text.decode()

    def tile(self, level: int, index: int, width: int) -> bytes:
        """A tile or entry bundle at exactly ``width``; if the log no longer serves that
        partial width, the fuller tile is read and cut (C2SP allows either)."""
        limit = MAX_BUNDLE if level == ENTRIES_LEVEL else MAX_TILE
        url = f"{self.prefix}/{tile_path(level, index, width)}"
        status, body = self.http.request("GET", url, limit)
        if status == 404 and width < TILE_WIDTH:
            url = f"{self.prefix}/{tile_path(level, index)}"
            status, body = self.http.request("GET", url, limit)
            if status == 200:
                if level == ENTRIES_LEVEL:
                    return _rebundle(_bundle_entries(body, url)[:width])
                return body[: width * 32]
        if status != 200:
            raise RemoteError(f"GET {url}: HTTP {status}")
        return body

    def start_range(self, size: int) -> CompactRange:
        """The compact range of the tree of ``size``, read from hash tiles."""
        nodes = range_nodes(0, size)
        tiles: dict[tuple[int, int], list[bytes]] = {}
        hashes = []
        for level, index in nodes:
            tl, ti, first, count = node_location(level, index)
            if (tl, ti) not in tiles:
                width = tile_width_at(tl, ti, size)
                tiles[(tl, ti)] = _split(self.tile(tl, ti, width), width, f"tile {tl}/{ti}")
            hashes.append(fold_complete(tiles[(tl, ti)][first : first + count]))
        return CompactRange(size, hashes)

    def entries(self, start: int, end: int, size: int) -> Iterator[tuple[int, bytes]]:
        """``(index, leaf bytes)`` for ``start <= index < end`` of the tree of ``size``."""
        if start >= end:
            return
        first, last = start // TILE_WIDTH, (end - 1) // TILE_WIDTH

        def job(n: int) -> Callable[[], tuple[int, list[bytes]]]:
            def run() -> tuple[int, list[bytes]]:
                width = tile_width_at(0, n, size)
                url = f"{self.prefix}/{tile_path(ENTRIES_LEVEL, n, width)}"
                leaves = _bundle_entries(self.tile(ENTRIES_LEVEL, n, width), url)
                if len(leaves) < width:
                    raise RemoteError(
                        f"entry bundle {url} holds {len(leaves)} entries, not {width}"
                    )
                return n, leaves[:width]

            return run

        for n, leaves in ordered([job(n) for n in range(first, last + 1)]):
            base = n * TILE_WIDTH
            for i in range(max(start, base), min(end, base + len(leaves))):
                yield i, leaves[i - base]


def _split(data: bytes, width: int, what: str) -> list[bytes]:
    try:
        hashes = split_tile(data)
    except ValueError as e:
        raise RemoteError(f"{what}: {e}") from None
    if len(hashes) < width:
        raise RemoteError(f"{what} holds {len(hashes)} hashes, not {width}")
    return hashes[:width]


def _bundle_entries(data: bytes, url: str) -> list[bytes]:
    """Split a C2SP entry bundle (``u16 length ‖ bytes``, repeated)."""
    out, pos, n = [], 0, len(data)
    while pos < n:
        if pos + 2 > n:
            raise RemoteError(f"entry bundle {url} is truncated")
        length = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if pos + length > n:
            raise RemoteError(f"entry bundle {url} is truncated")
        out.append(data[pos : pos + length])
        pos += length
    return out


def _rebundle(entries: list[bytes]) -> bytes:
    return b"".join(len(e).to_bytes(2, "big") + e for e in entries)


class RekorV1Source:
    """A Rekor v1 log at ``base`` (``/api/v1/log…``).

    A sharded Rekor (rekor.sigstore.dev) numbers entries globally: the active tree's entry
    ``i`` is ``logIndex`` ``i + index_offset``, the offset being the sizes of its inactive
    shards (``GET /api/v1/log``). sceau has one shard, so its offset is 0.
    """

    def __init__(self, http: Http, base: str) -> None:
        self.http = http
        self.base = base.rstrip("/")
        self.index_offset = 0

    def checkpoint(self) -> bytes:
        doc = _json(self.http.get(f"{self.base}/api/v1/log", MAX_JSON), "GET /api/v1/log")
        note = doc.get("signedTreeHead") if isinstance(doc, dict) else None
        if not isinstance(note, str):
            raise RemoteError(f"{self.base}/api/v1/log: no signedTreeHead")
        try:
            shards = doc.get("inactiveShards") or []
            self.index_offset = sum(int(s["treeSize"]) for s in shards)
        except (TypeError, KeyError, ValueError):
            raise RemoteError(f"{self.base}/api/v1/log: malformed inactiveShards") from None
        return note.encode()

    def latest(self, target: LogTarget) -> tuple[Checkpoint, str]:
        text = self.checkpoint()
        return open_checkpoint(target, text), text.decode()

    def _retrieve(self, indexes: list[int]) -> dict[int, dict[str, Any]]:
        """Entries by tree index (asked for by global ``logIndex``)."""
        url = f"{self.base}/api/v1/log/entries/retrieve"
        off = self.index_offset
        body = {"logIndexes": [i + off for i in indexes]}
        status, answer = self.http.request("POST", url, MAX_JSON, json=body)
        if status != 200:
            raise RemoteError(f"POST {url}: HTTP {status}")
        out: dict[int, dict[str, Any]] = {}
        doc = _json(answer, url)
        for item in doc if isinstance(doc, list) else []:
            for entry in item.values() if isinstance(item, dict) else []:
                if isinstance(entry, dict) and isinstance(entry.get("logIndex"), int):
                    out[entry["logIndex"] - off] = entry
        missing = [i for i in indexes if i not in out]
        if missing:
            raise RemoteError(f"POST {url}: no entry for logIndex {missing[0] + off}")
        return out

    def entries(self, start: int, end: int, size: int) -> Iterator[tuple[int, bytes]]:
        def job(batch: list[int]) -> Callable[[], dict[int, dict[str, Any]]]:
            return lambda: self._retrieve(batch)

        batches = [list(range(i, min(end, i + V1_BATCH))) for i in range(start, end, V1_BATCH)]
        for batch, found in zip(batches, ordered([job(b) for b in batches]), strict=True):
            for i in batch:
                yield i, _b64(found[i].get("body"), f"entry {i + self.index_offset} body")

    def start_range(self, size: int) -> CompactRange:
        """The compact range of ``size`` from entry ``size - 1``: its inclusion proof's left
        siblings (whatever tree that proof is for) plus its own leaf hash."""
        if size == 0:
            return CompactRange()
        entry = self._retrieve([size - 1])[size - 1]
        try:
            proof = entry["verification"]["inclusionProof"]
            hashes = [binascii.unhexlify(h) for h in proof["hashes"]]
            index = int(proof["logIndex"])  # tree-local
            if index != size - 1:
                raise ValueError(f"its proof is for tree index {index}")
            left = left_siblings(index, int(proof["treeSize"]), hashes)
            compact = CompactRange(size - 1, left)
        except (KeyError, TypeError, ValueError, binascii.Error, ProofError) as e:
            raise RemoteError(f"entry {size - 1} has no usable inclusion proof ({e})") from None
        compact.append(leaf_hash(_b64(entry.get("body"), f"entry {size - 1} body")))
        return compact


def _json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise RemoteError(f"{what}: answer is not JSON") from None


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise RemoteError(f"{what} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise RemoteError(f"{what} is not base64") from None
