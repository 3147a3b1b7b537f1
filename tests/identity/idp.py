"""A tiny but real OpenID provider for tests: discovery + JWKS over HTTP, keys that rotate.

Each issuer is a path under the server (``<base>/<name>``); all share one key list, which
tests mutate to simulate rotation. Every discovery and JWKS request is counted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class IdPKey:
    kid: str
    alg: str
    private: Any

    @classmethod
    def generate(cls, kid: str, alg: str = "ES256") -> IdPKey:
        if alg.startswith(("RS", "PS")):
            private: Any = rsa.generate_private_key(65537, 2048)
        elif alg == "EdDSA":
            private = ed25519.Ed25519PrivateKey.generate()
        else:
            curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}
            private = ec.generate_private_key(curve[alg])
        return cls(kid, alg, private)

    def jwk(self) -> dict[str, Any]:
        pub = self.private.public_key()
        if self.alg.startswith(("RS", "PS")):
            jwk = RSAAlgorithm.to_jwk(pub, as_dict=True)
        elif self.alg == "EdDSA":
            jwk = OKPAlgorithm.to_jwk(pub, as_dict=True)
        else:
            jwk = ECAlgorithm.to_jwk(pub, as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig"}


@dataclass
class FakeIdP:
    keys: list[IdPKey] = field(default_factory=list)
    fetches: Counter[str] = field(default_factory=Counter)  # "<name>/jwks" -> count
    base: str = ""

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def app(self) -> Starlette:
        async def discovery(request: Request) -> JSONResponse:
            name = request.path_params["name"]
            self.fetches[f"{name}/discovery"] += 1
            if name.startswith("broken"):
                return JSONResponse({"error": "down"}, status_code=500)
            base = str(request.base_url).rstrip("/")
            issuer = f"{base}/{name}"
            if name.startswith("liar"):
                issuer = f"{base}/someone-else"
            return JSONResponse({"issuer": issuer, "jwks_uri": f"{issuer}/jwks"})

        async def jwks(request: Request) -> JSONResponse:
            self.fetches[f"{request.path_params['name']}/jwks"] += 1
            return JSONResponse({"keys": [k.jwk() for k in self.keys]})

        return Starlette(
            routes=[
                Route("/{name}/.well-known/openid-configuration", discovery),
                Route("/{name}/jwks", jwks),
            ]
        )

    def mint(
        self, name: str, claims: dict[str, Any], key: IdPKey | None = None, **header: Any
    ) -> str:
        """Sign ``claims`` (with iss/aud/iat/exp defaults) for issuer ``name``."""
        key = key or self.keys[0]
        now = int(time.time())
        full = {"iss": self.url(name), "aud": "sigstore", "iat": now, "exp": now + 300}
        full.update(claims)
        full = {k: v for k, v in full.items() if v is not None}
        headers = {"kid": key.kid, **header}
        headers = {k: v for k, v in headers.items() if v is not None}
        return jwt.encode(full, key.private, algorithm=key.alg, headers=headers)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict[str, Any], claims: dict[str, Any], sign=None) -> str:
    """Build a JWS by hand (for tokens PyJWT refuses to make: alg none, HS256 with a PEM)."""
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = sign(signing_input.encode()) if sign else b""
    return signing_input + "." + b64url(signature)


def hs256(secret: bytes):
    return lambda msg: hmac.new(secret, msg, hashlib.sha256).digest()
