"""HTTP API of the TSA, as sigstore's timestamp-authority serves it (docs/protocols.md §1.5).

``POST /api/v1/timestamp`` takes a DER ``application/timestamp-query`` (sigstore-python)
or sigstore's JSON request (``application/json``, sigstore-js) and answers 200 with a
DER ``application/timestamp-reply``. Bad requests are 400 JSON errors, not RFC 3161
``rejection`` replies (see :mod:`sceau.services.tsa.responder`); other content types
are 415; bodies over the limit are 413. ``GET /api/v1/timestamp/certchain`` serves the
PEM chain, leaf first.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sceau.errors import UnsupportedMediaType
from sceau.services._http import parse_json_object, read_body
from sceau.services.tsa.responder import TimestampAuthority
from sceau.telemetry.metrics import TSA_TOKENS

TIMESTAMP_PATH = "/api/v1/timestamp"
CERTCHAIN_PATH = "/api/v1/timestamp/certchain"
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
CHAIN_TYPE = "application/pem-certificate-chain"
# A TimeStampReq is ~100 bytes and sigstore's JSON request ~100 too; the server refuses
# far earlier than any real request could need (timestamp-authority caps JSON at 1 KiB).
MAX_DER_BODY = 10 * 1024
MAX_JSON_BODY = 1024


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def routes(
    tsa: TimestampAuthority, max_body: int = MAX_DER_BODY, max_json_body: int = MAX_JSON_BODY
) -> list[Route]:
    """Starlette routes for ``tsa``; mount them in an app with ``install_error_handlers``."""

    async def timestamp(request: Request) -> Response:
        media_type = _media_type(request)
        if media_type == QUERY_TYPE:
            reply = tsa.respond(await read_body(request, max_body))
        elif media_type == "application/json":
            obj = parse_json_object(await read_body(request, max_json_body), "timestamp request")
            reply = tsa.respond_json(obj)
        else:
            raise UnsupportedMediaType(
                f"unsupported Content-Type {media_type or '(none)'}: "
                f"expected {QUERY_TYPE} or application/json"
            )
        TSA_TOKENS.inc()
        return Response(reply, media_type=REPLY_TYPE)

    async def certchain(request: Request) -> Response:
        return Response(tsa.chain_pem, media_type=CHAIN_TYPE)

    return [
        Route(TIMESTAMP_PATH, timestamp, methods=["POST"]),
        Route(CERTCHAIN_PATH, certchain, methods=["GET"]),
    ]
