"""Pure parts of signing: service selection, token checks, statements, ambient tokens."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from sceau.client.identity import (
    IdentityError,
    IdentityToken,
    get_identity_token,
    github_actions_token,
)
from sceau.client.sign import pae, statement_bytes
from sceau.client.signing_config import SigningConfig, SigningConfigError
from sceau.errors import InputError

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _svc(url: str, version: int = 1, operator: str = "op", start: str = "2026-01-01T00:00:00Z",
         end: str | None = None) -> dict:  # fmt: skip
    vf = {"start": start} | ({"end": end} if end else {})
    return {"url": url, "majorApiVersion": version, "validFor": vf, "operator": operator}


def _config(**members: object) -> SigningConfig:
    doc = {
        "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "caUrls": [_svc("https://ca")],
        "rekorTlogUrls": [_svc("https://rekor")],
    }
    doc.update(members)
    return SigningConfig.from_json(json.dumps(doc))


def test_highest_version_per_operator_then_selector() -> None:
    cfg = _config(
        rekorTlogUrls=[
            _svc("https://v1-a", 1, "a"), _svc("https://v2-a", 2, "a"),
            _svc("https://v1-b", 1, "b"), _svc("https://v3-b", 3, "b"),
            _svc("https://future", 2, "c", start="2027-01-01T00:00:00Z"),
        ],
        rekorTlogConfig={"selector": "ANY"},
        tsaUrls=[_svc("https://tsa1", 1, "a"), _svc("https://tsa2", 1, "b"),
                 _svc("https://expired", 1, "c", end="2026-02-01T00:00:00Z")],
    )  # fmt: skip
    s = cfg.select(now=NOW)
    assert s.tlog.url == "https://v2-a"  # a: v2 beats v1; b: v3 unsupported, v1 kept
    assert [t.url for t in s.tsas] == ["https://tsa1", "https://tsa2"]  # no tsaConfig = ALL
    assert cfg.select(rekor_version=1, now=NOW).tlog.url == "https://v1-a"
    assert s.oidc is None and s.ca.url == "https://ca"


def test_selector_exact_and_errors() -> None:
    tsas = [_svc("https://t1", 1, "a"), _svc("https://t2", 1, "b")]
    exact = _config(tsaUrls=tsas, tsaConfig={"selector": "EXACT", "count": 2})
    assert len(exact.select(now=NOW).tsas) == 2
    too_many = _config(tsaUrls=tsas, tsaConfig={"selector": "EXACT", "count": 3})
    with pytest.raises(SigningConfigError, match="exactly 3"):
        too_many.select(now=NOW)
    with pytest.raises(SigningConfigError, match="no valid Rekor v2"):
        _config().select(rekor_version=2, now=NOW)
    with pytest.raises(SigningConfigError, match="certificate authority"):
        _config(caUrls=[_svc("https://ca", start="2027-01-01T00:00:00Z")]).select(now=NOW)
    for bad in ({"caUrls": [{"url": "https://x", "majorApiVersion": "1"}]},
                {"caUrls": [{"url": "ftp://x", "majorApiVersion": 1}]},
                {"extra": 1}, {"mediaType": "application/json"},
                {"tsaConfig": {"selector": "SOME"}}):  # fmt: skip
        with pytest.raises(SigningConfigError):
            _config(**bad)


def _jwt(claims: dict) -> str:
    def part(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'ES256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def _claims(**over: object) -> dict:
    now = int(time.time())
    claims = {"iss": "https://issuer", "sub": "me", "aud": "sigstore", "iat": now, "exp": now + 60}
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def test_identity_token_claims() -> None:
    t = IdentityToken.parse(_jwt(_claims(aud=["other", "sigstore"], email="me@x.org")))
    assert t.identity == "me" and t.challenge == "me@x.org" and not t.expired()
    google = IdentityToken.parse(_jwt(_claims(iss="https://accounts.google.com", email="g@x")))
    assert google.identity == "g@x"
    cases = {
        "not a JWT": "abc",
        "base64url JSON": "a.b.c",
        "'sub'": _jwt(_claims(sub=None)),
        "'iat' claim is not a number": _jwt(_claims(iat=True)),
        "audience": _jwt(_claims(aud="other")),
        "expired": _jwt(_claims(exp=int(time.time()) - 10)),
        "not valid yet": _jwt(_claims(nbf=int(time.time()) + 3600)),
        "not a number": _jwt(_claims(exp="soon")),
        "out of range": _jwt(_claims(exp=10**20)),
        "'email' claim": _jwt(_claims(iss="https://accounts.google.com")),
    }
    for message, raw in cases.items():
        with pytest.raises(IdentityError, match=message):
            IdentityToken.parse(raw)


def test_token_sources(monkeypatch) -> None:
    for name in ("SIGSTORE_ID_TOKEN", "SIGSTORE_IDENTITY_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL"):
        monkeypatch.delenv(name, raising=False)
    a, b = _jwt(_claims(sub="a")), _jwt(_claims(sub="b"))
    assert get_identity_token(a, env={"SIGSTORE_ID_TOKEN": b}).subject == "a"
    assert get_identity_token(None, env={"SIGSTORE_IDENTITY_TOKEN": b}).subject == "b"
    with pytest.raises(IdentityError, match="no identity token"):
        get_identity_token(None, env={})
    with pytest.raises(IdentityError, match="not both"):
        get_identity_token(a, dev_email="x@y.z", oidc_url="http://127.0.0.1:9/oidc")
    with pytest.raises(IdentityError, match="OIDC issuer"):
        get_identity_token(None, env={}, dev_email="x@y.z")


def test_github_actions_ambient_token() -> None:
    """The Actions token endpoint is called with audience=sigstore and the bearer token."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.serving import serve_app

    token = _jwt(_claims(iss="https://token.actions.githubusercontent.com", sub="repo:o/r"))
    seen: list[tuple[str | None, str | None]] = []

    async def endpoint(request):  # type: ignore[no-untyped-def]
        seen.append((request.query_params.get("audience"), request.headers.get("authorization")))
        if request.headers.get("authorization") != "bearer runner-secret":
            return JSONResponse({"message": "no"}, status_code=403)
        return JSONResponse({"value": token})

    app = Starlette(routes=[Route("/token", endpoint)])
    with serve_app(app) as url:
        env = {"ACTIONS_ID_TOKEN_REQUEST_URL": f"{url}/token?api-version=2.0",
               "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-secret"}  # fmt: skip
        assert github_actions_token(env) == token
        assert get_identity_token(None, env=env).subject == "repo:o/r"
        with pytest.raises(Exception, match="HTTP 403"):
            github_actions_token({**env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "wrong"})
    assert seen[0] == ("sigstore", "bearer runner-secret")
    assert github_actions_token({}) is None


def test_statements_and_pae() -> None:
    assert pae("t", b"xy") == b"DSSEv1 1 t 2 xy"
    ok = {"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "a"}]}
    assert json.loads(statement_bytes(ok)) == ok
    raw = b'{"_type": "x", "subject": [{}]}'
    assert statement_bytes(raw) == raw  # signed exactly as given
    for bad in (b"nope", b"[]", b'{"_type": "x"}', b'{"_type": "x", "subject": []}'):
        with pytest.raises(InputError):
            statement_bytes(bad)


def test_expiry_margin() -> None:
    t = IdentityToken.parse(_jwt(_claims(exp=int(time.time()) + 2)))
    assert t.expired(datetime.now(UTC) + timedelta(seconds=10))
