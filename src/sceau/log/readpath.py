"""The C2SP tlog-tiles read path: ``checkpoint``, ``tile/L/N[.p/W]``, ``tile/entries/N[.p/W]``.

Everything here is static bytes with cache headers, so a CDN or a plain web server can
serve it too. Tiles (full or partial at a given width) never change once they exist, so
they are immutable; the checkpoint changes with every batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sceau.errors import NotFound
from sceau.merkle.tiles import parse_tile_path

if TYPE_CHECKING:
    from sceau.log.engine import Log
    from sceau.log.reader import LogReader

IMMUTABLE = "public, max-age=31536000, immutable"
CHECKPOINT_CACHE = "no-cache"


async def read_path(log: LogReader, path: str) -> tuple[bytes, str, str]:
    """``(body, content type, cache control)`` for a read-path ``path`` of ``log``."""
    if path == "checkpoint":
        head = await log.latest()
        return head.note.encode(), "text/plain; charset=utf-8", CHECKPOINT_CACHE
    if not path.startswith("tile/"):
        raise NotFound(f"no such path {path!r}")
    try:
        tile = parse_tile_path(path)
    except Exception as e:
        raise NotFound(str(e)) from e
    data = await log.read_tile(tile.level, tile.index, tile.width)
    return data, "application/octet-stream", IMMUTABLE


def read_routes(log: Log, prefix: str = "") -> list[Route]:
    """Starlette routes serving ``log``'s read path under ``prefix`` (e.g. ``/api/v2``)."""

    async def checkpoint(request: Request) -> Response:
        body, ctype, cache = await read_path(log, "checkpoint")
        return Response(body, media_type=ctype, headers={"Cache-Control": cache})

    async def tile(request: Request) -> Response:
        body, ctype, cache = await read_path(log, "tile/" + request.path_params["rest"])
        return Response(body, media_type=ctype, headers={"Cache-Control": cache})

    return [
        Route(f"{prefix}/checkpoint", checkpoint, methods=["GET"]),
        Route(prefix + "/tile/{rest:path}", tile, methods=["GET"]),
    ]
