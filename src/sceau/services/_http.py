"""HTTP plumbing shared by every service: bounded bodies, strict JSON, one error mapping.

Every service raises :mod:`sceau.errors` exceptions; :func:`install_error_handlers` turns
them into ``{"code", "message"}`` JSON with the right status, so no handler ever has to
build an error response by hand and client input never becomes a 500.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import re
import sys
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from sceau.errors import (
    Conflict,
    InputError,
    Overloaded,
    PayloadTooLarge,
    SceauError,
    UnsupportedMediaType,
)

log = logging.getLogger("sceau.http")

DEFAULT_BODY_LIMIT = 4 * 1024 * 1024


async def read_body(request: Request, limit: int = DEFAULT_BODY_LIMIT) -> bytes:
    """Read the request body, refusing (413) as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InputError("Content-Length is not a number")
        if int(declared) > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect as e:  # the client's fault, not a crash to log
        raise InputError("the client hung up before sending the whole request body") from e
    return b"".join(chunks)


# A \uD800-\uDFFF escape: only then can a parsed string hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _no_constant(name: str) -> Any:
    raise InputError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise InputError(f"number {text[:40]} is out of range")
    return value


def has_lone_surrogate(value: Any) -> bool:
    """True if a string (or key) in ``value`` holds a lone UTF-16 surrogate, which no
    handler could encode as UTF-8 (RFC 7493 §2.1 forbids them in I-JSON)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_json_object(body: bytes, what: str = "request body") -> dict[str, Any]:
    """Parse ``body`` as a JSON object or raise a precise :class:`InputError`.

    Strict where Python's parser is lenient: ``NaN``/``Infinity``, integers past
    Python's digit limit, nesting past the recursion limit and lone surrogates are
    refused here, so no handler meets a value it cannot encode or compare.
    """
    try:
        value = json.loads(body, parse_constant=_no_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{what} is not valid JSON: {e}") from e
    except ValueError as e:  # the only other ValueError: an integer with too many digits
        raise InputError(
            f"{what} holds an integer of more than {sys.get_int_max_str_digits()} digits"
        ) from e
    except RecursionError as e:
        raise InputError(f"{what} is nested too deeply") from e
    except InputError as e:
        raise InputError(f"{what} is not valid JSON: {e.message}") from e
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a JSON object")
    if _SURROGATE_ESCAPE.search(body) and has_lone_surrogate(value):
        raise InputError(f"{what} holds a string with a lone UTF-16 surrogate escape")
    return value


def require_json(request: Request) -> None:
    """Refuse a write whose Content-Type is not ``application/json`` (415).

    Every real client says so; a browser form (``text/plain``, urlencoded, multipart) can
    be sent cross-site without a CORS preflight, a JSON one cannot."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise UnsupportedMediaType(f"expected Content-Type application/json, got {ctype or 'none'}")


async def read_json(request: Request, limit: int = DEFAULT_BODY_LIMIT) -> dict[str, Any]:
    """Read a bounded JSON object body sent as ``application/json``."""
    require_json(request)
    return parse_json_object(await read_body(request, limit))


def error_body(code: int | str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def error_response(exc: SceauError) -> Response:
    headers: dict[str, str] = {}
    if isinstance(exc, Overloaded):
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    if isinstance(exc, Conflict) and isinstance(exc.existing, str):
        headers["Location"] = exc.existing
    message = exc.message if exc.status < 500 or isinstance(exc, Overloaded) else "internal error"
    # A message quoting client input must still render: escape what UTF-8 cannot encode.
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return JSONResponse(error_body(exc.status, message), status_code=exc.status, headers=headers)


def tune_gc_for_serving() -> None:
    """Fewer, cheaper garbage collections in a long-running server process.

    Call it once the app is built. Everything alive then (modules, keys, routes) moves out
    of the collector's view, and the youngest generation is collected every 50,000
    allocations instead of 700: a request allocates a few hundred short-lived objects that
    reference counting frees anyway, and the default ran a collection every few requests
    (about 4 % of a Rekor entry's CPU; ``bench/rekor_http.py``)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def install_error_handlers(app: Starlette) -> None:
    """Map sceau errors to JSON responses; anything else is logged and becomes a bare 500."""

    async def on_sceau_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SceauError)
        if exc.status >= 500 and not isinstance(exc, Overloaded):
            log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
        return error_response(exc)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("%s %s crashed", request.method, request.url.path)
        return JSONResponse(error_body(500, "internal error"), status_code=500)

    app.add_exception_handler(SceauError, on_sceau_error)
    app.add_exception_handler(Exception, on_unexpected)
