"""OpenAPI 3.1 description of the Rekor v1 and v2 endpoints, served at /api/openapi.json.

Written by hand from the same shapes the handlers emit (and checked against them by the
tests), so schema-driven clients and fuzzers can target the API.
"""

from __future__ import annotations

from typing import Any

HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
B64 = {"type": "string", "contentEncoding": "base64"}
INT64_STR = {"type": "string", "pattern": "^[0-9]+$"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out = _json(_ref("Error"), description)
    if headers:
        out["headers"] = headers
    return out


_ERRORS = {
    "400": _error("invalid input; the message names the field"),
    "413": _error("request body or attestation over the configured limit"),
    "503": _error("log overloaded; retry", {"Retry-After": {"schema": {"type": "integer"}}}),
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
    },
    "ProposedEntry": {
        "type": "object",
        "required": ["kind", "apiVersion", "spec"],
        "properties": {
            "kind": {"type": "string", "enum": ["hashedrekord", "dsse", "intoto"]},
            "apiVersion": {"type": "string", "enum": ["0.0.1", "0.0.2"]},
            "spec": {"type": "object"},
        },
        "description": "hashedrekord 0.0.1, dsse 0.0.1 or intoto 0.0.2 (docs/protocols.md §3)",
    },
    "InclusionProofV1": {
        "type": "object",
        "required": ["logIndex", "rootHash", "treeSize", "hashes", "checkpoint"],
        "properties": {
            "logIndex": {"type": "integer", "minimum": 0},
            "rootHash": HEX64,
            "treeSize": {"type": "integer", "minimum": 1},
            "hashes": {"type": "array", "items": HEX64},
            "checkpoint": {"type": "string", "description": "C2SP signed note"},
        },
    },
    "LogEntryAnon": {
        "type": "object",
        "required": ["body", "integratedTime", "logID", "logIndex", "verification"],
        "properties": {
            "body": B64,
            "integratedTime": {"type": "integer"},
            "logID": HEX64,
            "logIndex": {"type": "integer", "minimum": 0},
            "verification": {
                "type": "object",
                "required": ["inclusionProof", "signedEntryTimestamp"],
                "properties": {
                    "inclusionProof": _ref("InclusionProofV1"),
                    "signedEntryTimestamp": B64,
                },
            },
        },
    },
    "LogEntry": {
        "type": "object",
        "description": "one key: the 80-hex entry ID",
        "additionalProperties": _ref("LogEntryAnon"),
    },
    "SearchLogQuery": {
        "type": "object",
        "properties": {
            "entryUUIDs": {
                "type": "array",
                "maxItems": 10,
                "items": {"type": "string", "pattern": "^([0-9a-fA-F]{16})?[0-9a-fA-F]{64}$"},
            },
            "logIndexes": {
                "type": "array",
                "maxItems": 10,
                "items": {"type": "integer", "minimum": 0},
            },
            "entries": {"type": "array", "maxItems": 10, "items": _ref("ProposedEntry")},
        },
    },
    "SearchIndex": {
        "type": "object",
        "properties": {
            "hash": {
                "type": "string",
                "pattern": "^(sha512:)?[0-9a-fA-F]{128}$|"
                "^(sha256:)?[0-9a-fA-F]{64}$|^(sha1:)?[0-9a-fA-F]{40}$",
            },
            "email": {"type": "string", "format": "email"},
            "subject": {"type": "string", "description": "SAN URI, e-mail or otherName"},
            "publicKey": {
                "type": "object",
                "required": ["format"],
                "properties": {
                    "format": {"type": "string", "enum": ["x509"]},
                    "content": {"type": "string", "description": "PEM, or base64 PEM/DER"},
                    "url": {
                        "type": "string",
                        "format": "uri",
                        "description": "only if the instance allows key URLs",
                    },
                },
            },
            "operator": {"type": "string", "enum": ["and", "or"], "default": "or"},
        },
    },
    "LogInfo": {
        "type": "object",
        "required": ["rootHash", "treeSize", "signedTreeHead", "treeID", "inactiveShards"],
        "properties": {
            "rootHash": HEX64,
            "treeSize": {"type": "integer"},
            "signedTreeHead": {"type": "string"},
            "treeID": {"type": "string", "pattern": "^[0-9]+$"},
            "inactiveShards": {"type": "array", "items": {"type": "object"}},
        },
    },
    "ConsistencyProof": {
        "type": "object",
        "required": ["rootHash", "hashes"],
        "properties": {"rootHash": HEX64, "hashes": {"type": "array", "items": HEX64}},
    },
    "Verifier": {
        "type": "object",
        "required": ["keyDetails"],
        "properties": {
            "x509Certificate": {"type": "object", "properties": {"rawBytes": B64}},
            "publicKey": {"type": "object", "properties": {"rawBytes": B64}},
            "keyDetails": {"type": "string"},
        },
    },
    "CreateEntryRequest": {
        "type": "object",
        "description": "exactly one member",
        "properties": {
            "hashedRekordRequestV002": {
                "type": "object",
                "required": ["digest", "signature"],
                "properties": {
                    "digest": B64,
                    "signature": {
                        "type": "object",
                        "required": ["content", "verifier"],
                        "properties": {"content": B64, "verifier": _ref("Verifier")},
                    },
                },
            },
            "dsseRequestV002": {
                "type": "object",
                "required": ["envelope", "verifiers"],
                "properties": {
                    "envelope": {"type": "object"},
                    "verifiers": {"type": "array", "items": _ref("Verifier")},
                },
            },
        },
    },
    "TransparencyLogEntry": {
        "type": "object",
        "required": ["logIndex", "logId", "kindVersion", "inclusionProof", "canonicalizedBody"],
        "properties": {
            "logIndex": INT64_STR,
            "logId": {"type": "object", "properties": {"keyId": B64}},
            "kindVersion": {
                "type": "object",
                "properties": {"kind": {"type": "string"}, "version": {"type": "string"}},
            },
            "integratedTime": INT64_STR,
            "inclusionPromise": {"type": "null"},
            "inclusionProof": {
                "type": "object",
                "properties": {
                    "logIndex": INT64_STR,
                    "rootHash": B64,
                    "treeSize": INT64_STR,
                    "hashes": {"type": "array", "items": B64},
                    "checkpoint": {
                        "type": "object",
                        "properties": {"envelope": {"type": "string"}},
                    },
                },
            },
            "canonicalizedBody": B64,
        },
    },
}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _query(name: str, required: bool, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": "integer", "minimum": 0},
    }


PATHS: dict[str, Any] = {
    "/api/v1/log/entries": {
        "post": {
            "operationId": "createLogEntry",
            "tags": ["rekor v1"],
            "requestBody": _body(_ref("ProposedEntry")),
            "responses": {
                "201": {
                    **_json(_ref("LogEntry"), "entry logged"),
                    "headers": {
                        "ETag": {"schema": {"type": "string"}, "description": "entry ID"},
                        "Location": {"schema": {"type": "string"}},
                    },
                },
                "409": _error(
                    "equivalent entry exists", {"Location": {"schema": {"type": "string"}}}
                ),
                **_ERRORS,
            },
        },
        "get": {
            "operationId": "getLogEntryByIndex",
            "tags": ["rekor v1"],
            "parameters": [_query("logIndex", True, "global log index")],
            "responses": {
                "200": _json(_ref("LogEntry"), "the entry"),
                "404": _error("no such entry"),
                "400": _ERRORS["400"],
            },
        },
    },
    "/api/v1/log/entries/{entryUUID}": {
        "get": {
            "operationId": "getLogEntryByUUID",
            "tags": ["rekor v1"],
            "parameters": [
                {
                    "name": "entryUUID",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^([0-9a-fA-F]{16})?[0-9a-fA-F]{64}$"},
                }
            ],
            "responses": {
                "200": _json(_ref("LogEntry"), "the entry"),
                "404": _error("no such entry"),
                "400": _ERRORS["400"],
            },
        }
    },
    "/api/v1/log/entries/retrieve": {
        "post": {
            "operationId": "searchLogQuery",
            "tags": ["rekor v1"],
            "requestBody": _body(_ref("SearchLogQuery")),
            "responses": {
                "200": _json(
                    {"type": "array", "items": _ref("LogEntry")},
                    "entries found (missing ones are skipped)",
                ),
                "422": _error("more than 10 items or wrong item type"),
                "400": _ERRORS["400"],
            },
        }
    },
    "/api/v1/index/retrieve": {
        "post": {
            "operationId": "searchIndex",
            "tags": ["rekor v1", "search"],
            "requestBody": _body(_ref("SearchIndex")),
            "responses": {
                "200": _json(
                    {"type": "array", "items": {"type": "string"}}, "80-hex entry IDs in log order"
                ),
                "400": _ERRORS["400"],
            },
        }
    },
    "/api/v1/log": {
        "get": {
            "operationId": "getLogInfo",
            "tags": ["rekor v1"],
            "responses": {"200": _json(_ref("LogInfo"), "current tree head")},
        },
    },
    "/api/v1/log/proof": {
        "get": {
            "operationId": "getLogProof",
            "tags": ["rekor v1"],
            "parameters": [
                _query("firstSize", False, "default 1"),
                _query("lastSize", True, "tree size to prove consistency to"),
                {"name": "treeID", "in": "query", "required": False, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": _json(_ref("ConsistencyProof"), "consistency proof"),
                "400": _ERRORS["400"],
                "404": _error("unknown treeID"),
            },
        }
    },
    "/api/v1/log/publicKey": {
        "get": {
            "operationId": "getPublicKey",
            "tags": ["rekor v1"],
            "responses": {
                "200": {
                    "description": "PEM public key of the v1 log",
                    "content": {"application/x-pem-file": {"schema": {"type": "string"}}},
                }
            },
        },
    },
    "/api/v2/log/entries": {
        "post": {
            "operationId": "createEntry",
            "tags": ["rekor v2"],
            "requestBody": _body(_ref("CreateEntryRequest")),
            "responses": {
                "201": _json(_ref("TransparencyLogEntry"), "entry logged"),
                "409": _error(
                    "equivalent entry exists", {"x-log-index": {"schema": {"type": "string"}}}
                ),
                "415": _error("not application/json"),
                **_ERRORS,
            },
        }
    },
    "/api/v2/log/entries/{logIndex}": {
        "get": {
            "operationId": "getEntryV2",
            "tags": ["rekor v2", "sceau extension"],
            "parameters": [
                {
                    "name": "logIndex",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0},
                }
            ],
            "responses": {
                "200": _json(
                    _ref("TransparencyLogEntry"), "entry with a proof to the latest checkpoint"
                ),
                "404": _error("no such entry"),
            },
        }
    },
    "/api/v2/index/retrieve": {
        "post": {
            "operationId": "searchIndexV2",
            "tags": ["rekor v2", "search", "sceau extension"],
            "requestBody": _body(_ref("SearchIndex")),
            "responses": {
                "200": _json(
                    {"type": "array", "items": INT64_STR}, "matching log indexes, in log order"
                ),
                "400": _ERRORS["400"],
            },
        }
    },
    "/api/v2/checkpoint": {
        "get": {
            "operationId": "getCheckpoint",
            "tags": ["rekor v2"],
            "responses": {
                "200": {
                    "description": "C2SP checkpoint",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        },
    },
    "/api/v2/tile/{path}": {
        "get": {
            "operationId": "getTile",
            "tags": ["rekor v2"],
            "parameters": [
                {
                    "name": "path",
                    "in": "path",
                    "required": True,
                    "description": "C2SP tlog-tiles path, e.g. 0/x001/234 or entries/000.p/5",
                    "schema": {"type": "string"},
                }
            ],
            "responses": {
                "200": {
                    "description": "tile bytes",
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    },
                },
                "404": _error("no such tile"),
            },
        }
    },
}


def document(server_url: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "sceau transparency log (Rekor v1 and v2 APIs)",
            "version": "1",
            "description": "Rekor-compatible API served by sceau. See docs/rekor.md.",
        },
        "paths": PATHS,
        "components": {"schemas": SCHEMAS},
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc
