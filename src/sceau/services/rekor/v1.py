"""Rekor v1 HTTP API (``rekor: openapi.yaml``, ``pkg/api/entries.go``, ``pkg/api/tlog.go``).

Paths, status codes and JSON shapes follow docs/protocols.md §1.3. One shard: the tree-local
index equals the global one and ``inactiveShards`` is empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sceau import merkle
from sceau.errors import Conflict, InputError, NotFound
from sceau.log.api import LogAPI
from sceau.services._http import parse_json_object, read_body, read_json, require_json
from sceau.services.rekor.logs import V1Identity
from sceau.services.rekor.responses import json_response, v1_entry, v1_keyed
from sceau.services.rekor.search import KeyFetcher, parse_query
from sceau.services.rekor.types import Limits, from_v1_request
from sceau.telemetry.metrics import LOG_ENTRIES

_ENTRY_ID = re.compile(r"^(?:([0-9a-fA-F]{16}))?([0-9a-fA-F]{64})$")
MAX_RETRIEVE = 10


class Unprocessable(InputError):
    """Schema-level violation; go-swagger (and so Rekor) answers 422."""

    status = 422
    code = "unprocessable_entity"


def _int_param(request: Request, name: str, default: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        if default is None:
            raise InputError(f"{name}: missing query parameter")
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise InputError(f"{name}: must be a non-negative integer, got {raw!r}")
    return int(raw)


@dataclass
class V1Api:
    """Handlers bound to the v1 log; :meth:`routes` lists them."""

    log: LogAPI
    ident: V1Identity
    limits: Limits
    fetch_key: KeyFetcher | None = None

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/v1/log", self.log_info, methods=["GET"]),
            Route("/api/v1/log/publicKey", self.public_key, methods=["GET"]),
            Route("/api/v1/log/proof", self.consistency, methods=["GET"]),
            Route("/api/v1/log/entries", self.create, methods=["POST"]),
            Route("/api/v1/log/entries", self.get_by_index, methods=["GET"]),
            Route("/api/v1/log/entries/retrieve", self.retrieve, methods=["POST"]),
            Route("/api/v1/log/entries/retrieve/", self.retrieve, methods=["POST"]),
            Route("/api/v1/log/entries/{entry_id}", self.get_by_id, methods=["GET"]),
            Route("/api/v1/index/retrieve", self.search, methods=["POST"]),
        ]

    # -- writes ---------------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        require_json(request)
        body = await read_body(request, self.limits.v1_body)
        entry = from_v1_request(parse_json_object(body), self.limits, raw_size=len(body))
        r = await self.log.append(entry.body, keys=entry.keys)
        if not r.duplicate:
            LOG_ENTRIES.labels("rekor-v1", entry.kind).inc()
        base = request.scope["path"].rstrip("/")  # request.url would build a whole URL
        if r.duplicate:
            entry_id = self.ident.entry_id(r.leaf_hash)
            raise Conflict(
                "an equivalent entry already exists in the transparency log with UUID "
                f"{r.leaf_hash.hex()}",
                existing=f"{base}/{entry_id}",
            )
        entry_id, value = v1_entry(
            self.ident, r.index, entry.body, r.timestamp_ms // 1000, r.proof, r.checkpoint
        )
        return json_response(
            v1_keyed(entry_id, value),
            status_code=201,
            headers={"ETag": entry_id, "Location": f"{base}/{entry_id}"},
        )

    # -- reads ----------------------------------------------------------------------------

    async def _entry(self, index: int, checkpoint: Any = None) -> tuple[str, str]:
        checkpoint = checkpoint or await self.log.latest()
        if index >= checkpoint.size:
            raise NotFound(f"no entry at logIndex {index}")
        body = await self.log.get_entry(index)
        proof = await self.log.inclusion_proof(index, checkpoint.size)
        integrated = await self.log.entry_time(index) // 1000
        return v1_entry(self.ident, index, body, integrated, proof, checkpoint)

    async def _index_of(self, entry_id: str, field: str) -> int | None:
        m = _ENTRY_ID.match(entry_id) if isinstance(entry_id, str) else None
        if not m:
            raise InputError(f"{field}: must be a 64-hex UUID or an 80-hex entry ID")
        tree, uuid = m.groups()
        if tree is not None and int(tree, 16) != self.ident.tree_id:
            return None
        found: int | None = await self.log.find_leaf(bytes.fromhex(uuid))
        return found

    async def get_by_id(self, request: Request) -> Response:
        index = await self._index_of(request.path_params["entry_id"], "entryUUID")
        if index is None:
            raise NotFound("no entry with this UUID in the log")
        return json_response(v1_keyed(*await self._entry(index)))

    async def get_by_index(self, request: Request) -> Response:
        return json_response(v1_keyed(*await self._entry(_int_param(request, "logIndex"))))

    async def retrieve(self, request: Request) -> Response:
        query = await read_json(request, self.limits.v1_body)
        indexes: list[int] = []
        for field in ("entryUUIDs", "logIndexes", "entries"):
            items = query.get(field)
            if items is None:
                continue
            if not isinstance(items, list):
                raise Unprocessable(f"{field}: must be an array")
            if len(items) > MAX_RETRIEVE:
                raise Unprocessable(f"{field}: at most {MAX_RETRIEVE} items per request")
            for i, item in enumerate(items):
                found = await self._resolve(field, i, item)
                if found is not None:
                    indexes.append(found)
        checkpoint = await self.log.latest()
        out: list[tuple[str, str]] = []
        for index in dict.fromkeys(indexes):
            if index < checkpoint.size:
                out.append(await self._entry(index, checkpoint))
        return json_response("[" + ",".join(v1_keyed(*e) for e in out) + "]")

    async def _resolve(self, field: str, i: int, item: object) -> int | None:
        where = f"{field}[{i}]"
        if field == "entryUUIDs":
            return await self._index_of(item, where)  # type: ignore[arg-type]
        if field == "logIndexes":
            if not isinstance(item, int) or isinstance(item, bool) or item < 0:
                raise Unprocessable(f"{where}: must be a non-negative integer")
            return item
        if not isinstance(item, dict):
            raise Unprocessable(f"{where}: must be a proposed entry object")
        entry = from_v1_request(item, self.limits)
        found: int | None = await self.log.find_leaf(merkle.leaf_hash(entry.body))
        return found

    async def search(self, request: Request) -> Response:
        query = await parse_query(await read_json(request, self.limits.v1_body), self.fetch_key)
        indexes = await query.run(self.log)
        ids: list[str] = []
        for index in indexes:
            ids.append(self.ident.entry_id(merkle.leaf_hash(await self.log.get_entry(index))))
        return JSONResponse(ids)

    # -- log state ------------------------------------------------------------------------

    def _check_tree(self, request: Request) -> None:
        raw = request.query_params.get("treeID")
        if raw is not None and raw != str(self.ident.tree_id):
            raise NotFound(f"treeID {raw!r} is not a shard of this log")

    async def log_info(self, request: Request) -> Response:
        cp = await self.log.latest()
        return JSONResponse(
            {
                "rootHash": cp.root_hash.hex(),
                "treeSize": cp.size,
                "signedTreeHead": cp.note,
                "treeID": str(self.ident.tree_id),
                "inactiveShards": [],
            }
        )

    async def public_key(self, request: Request) -> Response:
        self._check_tree(request)
        pem = self.ident.signer.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return Response(pem, media_type="application/x-pem-file")

    async def consistency(self, request: Request) -> Response:
        self._check_tree(request)
        first = _int_param(request, "firstSize", 1)
        last = _int_param(request, "lastSize")
        size = (await self.log.latest()).size
        if first < 1:
            raise InputError("firstSize: must be at least 1")
        if last < first:
            raise InputError(f"lastSize ({last}) must not be smaller than firstSize ({first})")
        if last > size:
            raise InputError(f"lastSize ({last}) is larger than the tree ({size})")
        hashes = await self.log.consistency_proof(first, last)
        root = await self.log.root_at(last)
        return JSONResponse({"rootHash": root.hex(), "hashes": [h.hex() for h in hashes]})
