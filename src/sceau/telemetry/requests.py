"""One ASGI wrapper around the whole app: a request id, the access line and HTTP metrics.

The request id comes from the client's ``X-Request-Id`` when it is short and plain (so a
proxy's id follows the request through), else it is made here. It is echoed as
``X-Request-Id`` on every response, put into the body of every JSON error
(``request_id``), and written on the access line, so a user's error report finds its
log line.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from typing import Any

from sceau.telemetry.metrics import HttpMetrics

access_log = logging.getLogger("sceau.access")

HEADER = b"x-request-id"
_SANE = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")
_MAX_ERROR_BODY = 64 * 1024  # error bodies are small; a larger one passes unchanged


def request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's id if it is plain text of at most 128 characters, else a new one."""
    for name, value in headers:
        if name == HEADER:
            if _SANE.fullmatch(value):
                return value.decode()
            break
    return secrets.token_hex(8)


def route_template(scope: dict[str, Any]) -> str:
    """The route's path template with the prefixes of the mounts it is under
    (``/oidc/token``, not ``/token``): a label that does not grow with the URLs asked."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return "unmatched"
    prefix = scope.get("root_path", "")
    return f"{prefix}{path}" if prefix and not path.startswith(prefix) else path


def _with_request_id(body: bytes, rid: str) -> bytes | None:
    try:
        obj = json.loads(body)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    obj.setdefault("request_id", rid)
    return json.dumps(obj, separators=(",", ":")).encode()


class RequestTelemetry:
    """ASGI middleware: request id, access log line, request counters and latency."""

    def __init__(self, app: Any, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope["headers"])
        scope.setdefault("state", {})["request_id"] = rid
        status = 500
        held: dict[str, Any] | None = None  # a JSON error's start, until its body is in
        chunks: list[bytes] = []

        async def send_wrapped(message: dict[str, Any]) -> None:
            nonlocal status, held
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), (HEADER, rid.encode())]
                message = {**message, "headers": headers}
                if status >= 400 and _is_json(headers):
                    held = message
                    return
                await send(message)
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False) and sum(map(len, chunks)) < _MAX_ERROR_BODY:
                return
            body = b"".join(chunks)
            more = message.get("more_body", False)
            new = None if more else _with_request_id(body, rid)
            start = held
            held = None
            if new is not None:
                body = new
                start = {
                    **start,
                    "headers": [
                        (k, v) for k, v in start["headers"] if k.lower() != b"content-length"
                    ]
                    + [(b"content-length", str(len(body)).encode())],
                }
            await send(start)
            await send({"type": "http.response.body", "body": body, "more_body": more})

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_wrapped)
        finally:
            elapsed = time.perf_counter() - start
            route = route_template(scope)
            method = scope["method"]
            self.metrics.observe(method, route, status, elapsed)
            client = scope.get("client")
            access_log.info(
                "%s %s %d",
                method,
                scope.get("path", ""),
                status,
                extra={
                    "request_id": rid,
                    "method": method,
                    "path": scope.get("path", ""),
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": client[0] if client else None,
                },
            )


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k.lower() == b"content-type" and b"json" in v for k, v in headers)
