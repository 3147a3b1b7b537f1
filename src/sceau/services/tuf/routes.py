"""Read-only HTTP access to a TUF repository directory.

Only names a TUF client can ask for are served: ``[N.]root|targets|snapshot|timestamp.json``
and ``targets/<sha256>.<name>``. Anything else — dot files, lock and temp files, ``..`` —
fails the name patterns and is a 404 before the filesystem is touched.

Files are read whole (they are small) rather than streamed: ``timestamp.json`` is
replaced by rename while the server runs, and a stat-then-open response could announce
one file's length and send another's bytes.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import stat
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sceau.errors import NotFound
from sceau.services._http import error_response

METADATA_NAME = re.compile(
    r"(?:(?P<version>[1-9][0-9]{0,9})\.)?(?:root|targets|snapshot|timestamp)\.json"
)
TARGET_FILE = re.compile(r"[0-9a-f]{64}\.[A-Za-z0-9][A-Za-z0-9._-]{0,199}")

# Versioned metadata and content-addressed targets never change once written.
IMMUTABLE = "public, max-age=31536000, immutable"
# timestamp.json and root.json change on every refresh/rotation: keep caches short.
SHORT = "public, max-age=60"
# What "this name is not a servable file" looks like to open(2) (ELOOP: a symlink).
_ABSENT = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.ELOOP}


def routes(repo_dir: str | os.PathLike[str], prefix: str = "/tuf") -> list[Route]:
    """Starlette routes serving ``repo_dir`` under ``prefix`` (``/tuf`` by default)."""
    base = Path(repo_dir).resolve()
    prefix = prefix.rstrip("/")

    async def metadata(request: Request) -> Response:
        name = request.path_params["name"]
        match = METADATA_NAME.fullmatch(name)
        if match is None:
            return _not_found(name)
        cache = IMMUTABLE if match.group("version") else SHORT
        return await _serve(base / name, name, "application/json", cache)

    async def target(request: Request) -> Response:
        name = request.path_params["name"]
        if TARGET_FILE.fullmatch(name) is None or ".." in name:
            return _not_found(f"targets/{name}")
        media = "application/json" if name.endswith(".json") else "application/octet-stream"
        return await _serve(base / "targets" / name, f"targets/{name}", media, IMMUTABLE)

    async def other(request: Request) -> Response:
        return _not_found(request.path_params["rest"])

    return [
        Route(f"{prefix}/targets/{{name}}", target, methods=["GET", "HEAD"]),
        Route(f"{prefix}/{{name}}", metadata, methods=["GET", "HEAD"]),
        Route(f"{prefix}/{{rest:path}}", other, methods=["GET", "HEAD"]),
    ]


async def _serve(path: Path, name: str, media_type: str, cache: str) -> Response:
    try:
        data = await asyncio.to_thread(_read_regular_file, path)
    except OSError as e:
        if e.errno not in _ABSENT:
            raise
        return _not_found(name)
    return Response(data, media_type=media_type, headers={"Cache-Control": cache})


def _read_regular_file(path: Path) -> bytes:
    """Read ``path`` unless it is a symlink or not a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise IsADirectoryError(str(path))
        return f.read()


def _not_found(name: str) -> Response:
    response = error_response(NotFound(f"no such TUF file: {name}"))
    # A missing N+1.root.json is how clients learn there is no newer root: never cache it.
    response.headers["Cache-Control"] = "no-store"
    return response
