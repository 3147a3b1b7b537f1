"""OpenAPI paths of the explorer's JSON API, merged into ``/api/openapi.json``."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "description": "bad input (the message says why) or no such entry",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_SUMMARY = {
    "type": "object",
    "required": ["log", "index", "uuid", "kind"],
    "properties": {
        "log": {"type": "string", "enum": ["rekor-v1", "rekor-v2", "ct"]},
        "index": {"type": "integer", "minimum": 0},
        "uuid": _HEX64,
        "kind": {"type": "string"},
        "version": {"type": "string"},
        "integratedTime": {"type": ["string", "null"]},
        "identity": {"type": "string"},
    },
}


def _ok(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _param(name: str, where: str, schema: dict[str, Any], required: bool, text: str) -> Any:
    return {"name": name, "in": where, "required": required, "description": text, "schema": schema}


def paths() -> dict[str, Any]:
    page = _param("page", "query", {"type": "integer", "minimum": 1, "maximum": 50}, False,
                  "1-based page of 20 results")  # fmt: skip
    return {
        "/api/explorer/v1/search": {
            "get": {
                "operationId": "explorerSearch",
                "tags": ["explorer"],
                "summary": "Search every log of the instance with one query",
                "parameters": [
                    _param(
                        "q",
                        "query",
                        {"type": "string", "maxLength": 512},
                        True,
                        "e-mail, identity URI, 64-hex SHA-256 (artifact, UUID or key), "
                        "log index, 80-hex entry ID, sha384:/sha512: digest, serial:<hex>",
                    ),
                    page,
                ],
                "responses": {
                    "200": _ok(
                        {
                            "type": "object",
                            "required": ["query", "page", "more", "results"],
                            "properties": {
                                "query": {"type": "object"},
                                "page": {"type": "integer"},
                                "more": {"type": "boolean"},
                                "results": {"type": "array", "items": _SUMMARY},
                            },
                        },
                        "matching entries, log order within each log",
                    ),
                    "400": _ERROR,
                },
            }
        },
        "/api/explorer/v1/entries/{uuid}": {
            "get": {
                "operationId": "explorerEntry",
                "tags": ["explorer"],
                "summary": "An entry's leaf, inclusion proof and the checkpoint it leads to",
                "parameters": [
                    _param(
                        "uuid",
                        "path",
                        {"type": "string"},
                        True,
                        "leaf hash (64 hex) or Rekor v1 entry ID (80 hex)",
                    ),
                    _param(
                        "log",
                        "query",
                        {"type": "string", "enum": ["rekor-v1", "rekor-v2", "ct"]},
                        False,
                        "the log to look in (default: all)",
                    ),
                ],
                "responses": {
                    "200": _ok(
                        {
                            "allOf": [_SUMMARY],
                            "type": "object",
                            "required": ["leaf", "treeSize", "hashes", "checkpoint"],
                            "properties": {
                                "leaf": {"type": "string", "contentEncoding": "base64"},
                                "treeSize": {"type": "integer"},
                                "hashes": {"type": "array", "items": _HEX64},
                                "checkpoint": {"type": "string"},
                            },
                        },
                        "the entry and its proof to the latest checkpoint",
                    ),
                    "400": _ERROR,
                    "404": _ERROR,
                },
            }
        },
        "/api/explorer/v1/recent": {
            "get": {
                "operationId": "explorerRecent",
                "tags": ["explorer"],
                "summary": "The newest entries of each log",
                "parameters": [
                    _param(
                        "limit",
                        "query",
                        {"type": "integer", "minimum": 1, "maximum": 20},
                        False,
                        "entries per log (default 5)",
                    ),
                ],
                "responses": {
                    "200": _ok({"type": "array", "items": _SUMMARY}, "newest first, per log"),
                    "400": _ERROR,
                },
            }
        },
        "/api/explorer/v1/stats": {
            "get": {
                "operationId": "explorerStats",
                "tags": ["explorer"],
                "summary": "Entries per hour of each log (cached for a minute)",
                "parameters": [
                    _param(
                        "hours",
                        "query",
                        {"type": "integer", "minimum": 1, "maximum": 336},
                        False,
                        "how many hours back, ending with the current hour",
                    ),
                ],
                "responses": {
                    "200": _ok(
                        {
                            "type": "object",
                            "required": ["logs"],
                            "properties": {
                                "logs": {
                                    "type": "object",
                                    "additionalProperties": {
                                        "type": "object",
                                        "properties": {
                                            "start": {"type": "string"},
                                            "hourly": {
                                                "type": "array",
                                                "items": {"type": "integer"},
                                            },
                                        },
                                    },
                                }
                            },
                        },
                        "one count per hour, oldest first",
                    ),
                    "400": _ERROR,
                },
            }
        },
        "/api/explorer/v1/trusted-root": {
            "get": {
                "operationId": "explorerTrustedRoot",
                "tags": ["explorer"],
                "summary": "The instance's trusted_root.json (the keys the pages verify with)",
                "responses": {"200": _ok({"type": "object"}, "Sigstore TrustedRoot JSON")},
            }
        },
    }
