"""Services that answer nonsense: every case is one precise SceauError, never a crash.

A fake server stands in for one service at a time (CA, Rekor v1, Rekor v2, TSA) while the
real instance provides the others.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sceau.client.sign import SigningContext, SigningServiceError
from sceau.client.signing_config import SigningConfig
from tests.client_sign.conftest import Instance
from tests.serving import serve_app

pytestmark = pytest.mark.server

# mode -> (status, body, content type)
ANSWERS: dict[str, tuple[int, bytes, str]] = {
    "not-json": (200, b"<html>hi</html>", "text/html"),
    "empty-object": (200, b"{}", "application/json"),
    "short-chain": (
        200,
        json.dumps({"signedCertificateEmbeddedSct": {"chain": {"certificates": ["x"]}}}).encode(),
        "application/json",
    ),
    "bad-pem": (
        200,
        json.dumps(
            {"signedCertificateEmbeddedSct": {"chain": {"certificates": ["x", "y"]}}}
        ).encode(),
        "application/json",
    ),
    "refused": (403, b'{"code": 7, "message": "nope\\nsecond line"}', "application/json"),
    "server-error": (500, b"boom", "text/plain"),
    "v1-malformed": (201, b'{"abc": {"body": "!!"}}', "application/json"),
    "v1-two": (201, b'{"a": {}, "b": {}}', "application/json"),
    "v2-malformed": (201, b'{"logIndex": "x"}', "application/json"),
}


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[str, list[str]]]:
    mode = ["not-json"]

    async def answer(request: Request) -> Response:
        await request.body()
        status, body, ctype = ANSWERS[mode[0]]
        return Response(body, status_code=status, media_type=ctype)

    async def tsa(request: Request) -> Response:
        return JSONResponse({"not": "a timestamp"})

    app = Starlette(
        routes=[
            Route("/api/v2/signingCert", answer, methods=["POST"]),
            Route("/api/v1/log/entries", answer, methods=["POST"]),
            Route("/api/v2/log/entries", answer, methods=["POST"]),
            Route("/tsa", tsa, methods=["POST"]),
        ]
    )
    with serve_app(app) as url:
        yield url, mode


def _context(instance: Instance, trust, **urls: str) -> SigningContext:
    _, tr = trust
    doc = json.loads(instance.trust_config.read_text())["signingConfig"]
    for member, url in urls.items():
        doc[member] = [{**s, "url": url} for s in doc[member]]
    return SigningContext(SigningConfig.from_json(json.dumps(doc)), tr)


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("not-json", "not JSON"),
        ("empty-object", "no signedCertificateEmbeddedSct"),
        ("short-chain", "at least one CA"),
        ("bad-pem", "not PEM"),
        ("refused", "CA refused the request (HTTP 403): nope"),
        ("server-error", "HTTP 500"),
    ],
)
def test_bad_ca(instance: Instance, trust, fake, mode: str, message: str) -> None:
    url, current = fake
    current[0] = mode
    ctx = _context(instance, trust, caUrls=url)
    with ctx.signer(instance.token()) as signer:
        with pytest.raises(SigningServiceError) as e:
            signer.sign_artifact(b"x")
    assert message in e.value.message and "\n" not in e.value.message


@pytest.mark.parametrize(
    ("version", "mode", "message"),
    [
        (1, "v1-malformed", "Rekor v1 log answered a malformed entry"),
        (1, "v1-two", "other than one entry"),
        (1, "refused", "Rekor v1 log refused the request (HTTP 403)"),
        (2, "v2-malformed", "Rekor v2 log answered a malformed entry"),
        (2, "not-json", "Rekor v2 log answered HTTP 200 unexpectedly"),
    ],
)
def test_bad_log(instance: Instance, trust, fake, version: int, mode: str, message: str) -> None:
    url, current = fake
    current[0] = mode
    ctx = _context(instance, trust, rekorTlogUrls=url)
    ctx.rekor_version = version
    with ctx.signer(instance.token()) as signer:
        with pytest.raises(SigningServiceError) as e:
            signer.sign_artifact(b"x")
    assert message in e.value.message and "\n" not in e.value.message


def test_bad_tsa_is_skipped_on_v1(instance: Instance, trust, fake, caplog) -> None:
    url, _ = fake
    ctx = _context(instance, trust, tsaUrls=url + "/tsa")
    ctx.rekor_version = 1
    with ctx.signer(instance.token()) as signer:
        bundle = signer.sign_artifact(b"x")
    assert bundle.timestamps == ()
    assert "not a TimeStampResp" in caplog.text
    ctx.rekor_version = 2
    with ctx.signer(instance.token()) as signer:
        with pytest.raises(SigningServiceError, match="no TSA gave a valid one"):
            signer.sign_artifact(b"x")
