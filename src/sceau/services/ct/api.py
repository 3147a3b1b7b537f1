"""RFC 6962 §4 HTTP API of the CT log, under ``{prefix}/ct/v1/``."""

from __future__ import annotations

import base64
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sceau.errors import InputError
from sceau.services._http import parse_json_object, read_body, require_json
from sceau.services.ct.ctlog import CTLog
from sceau.services.ct.rfc6962 import b64decode

BODY_LIMIT = 256 * 1024  # ten certificates with room to spare


def _chain(body: dict[str, Any]) -> list[bytes]:
    chain = body.get("chain")
    if not isinstance(chain, list) or not chain:
        raise InputError("'chain' must be a non-empty list of base64 DER certificates")
    return [b64decode(c, f"chain[{i}]") for i, c in enumerate(chain)]


def _uint(request: Request, name: str) -> int:
    value = request.query_params.get(name)
    if value is None:
        raise InputError(f"missing query parameter {name!r}")
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        raise InputError(f"query parameter {name!r} must be a non-negative integer")
    return int(value)


def routes(ct: CTLog, prefix: str = "", *, body_limit: int = BODY_LIMIT) -> list[Route]:
    """The CT routes at ``{prefix}/ct/v1/…`` (``prefix`` like ``""`` or ``"/ctlog"``)."""
    base = prefix.rstrip("/") + "/ct/v1"

    async def add_chain(request: Request) -> JSONResponse:
        require_json(request)
        body = parse_json_object(await read_body(request, body_limit))
        return JSONResponse((await ct.add_chain(_chain(body))).to_json())

    async def add_pre_chain(request: Request) -> JSONResponse:
        require_json(request)
        body = parse_json_object(await read_body(request, body_limit))
        return JSONResponse((await ct.add_pre_chain(_chain(body))).to_json())

    async def get_sth(request: Request) -> JSONResponse:
        return JSONResponse((await ct.get_sth()).to_json())

    async def get_sth_consistency(request: Request) -> JSONResponse:
        proof = await ct.consistency(_uint(request, "first"), _uint(request, "second"))
        return JSONResponse({"consistency": [base64.b64encode(h).decode() for h in proof]})

    async def get_proof_by_hash(request: Request) -> JSONResponse:
        raw = request.query_params.get("hash")
        # an unescaped '+' in a query string arrives as a space
        lh = b64decode(raw.replace(" ", "+") if raw else raw, "hash")
        if len(lh) != 32:
            raise InputError("hash must be a base64 SHA-256 leaf hash")
        index, path = await ct.proof_by_hash(lh, _uint(request, "tree_size"))
        return JSONResponse(
            {"leaf_index": index, "audit_path": [base64.b64encode(h).decode() for h in path]}
        )

    async def get_entries(request: Request) -> JSONResponse:
        entries = await ct.entries(_uint(request, "start"), _uint(request, "end"))
        return JSONResponse(
            {
                "entries": [
                    {
                        "leaf_input": base64.b64encode(e.leaf_input).decode(),
                        "extra_data": base64.b64encode(e.extra_data).decode(),
                    }
                    for e in entries
                ]
            }
        )

    async def get_roots(request: Request) -> JSONResponse:
        return JSONResponse(
            {"certificates": [base64.b64encode(r).decode() for r in ct.roots_der()]}
        )

    return [
        Route(f"{base}/add-chain", add_chain, methods=["POST"]),
        Route(f"{base}/add-pre-chain", add_pre_chain, methods=["POST"]),
        Route(f"{base}/get-sth", get_sth, methods=["GET"]),
        Route(f"{base}/get-sth-consistency", get_sth_consistency, methods=["GET"]),
        Route(f"{base}/get-proof-by-hash", get_proof_by_hash, methods=["GET"]),
        Route(f"{base}/get-entries", get_entries, methods=["GET"]),
        Route(f"{base}/get-roots", get_roots, methods=["GET"]),
    ]
