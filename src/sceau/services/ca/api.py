"""Fulcio v2 HTTP API (gRPC-gateway JSON): signingCert, trustBundle, configuration.

``fulcio: pkg/server/grpc_server.go CreateSigningCertificate`` and docs/protocols.md §1.1.
Order of checks: bounded body (413) → JSON shape (400) → token (401) → key and proof of
possession (400) → issuance. Both client styles are accepted: sigstore-python's CSR with
``Authorization: Bearer``, and sigstore-js's ``publicKeyRequest`` + ``proofOfPossession``
with the token in ``credentials.oidcIdentityToken``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sceau.errors import InputError, Unauthenticated, VerificationError
from sceau.keys import Verifier
from sceau.services._http import parse_json_object, read_body, require_json
from sceau.services.ca.identity import Principal
from sceau.services.ca.issuer import CertificateAuthority
from sceau.services.ca.profile import check_leaf_key

BODY_LIMIT = 64 * 1024  # a P-256 CSR request is ~1 KiB; RSA-4096 with a token ~5 KiB


class PrincipalVerifier(Protocol):
    """What the API needs from token verification (``sceau.services.ca.oidc.TokenVerifier``)."""

    async def verify(self, token: str) -> Principal: ...


def routes(
    ca: CertificateAuthority,
    verifier: PrincipalVerifier,
    *,
    configuration: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
    body_limit: int = BODY_LIMIT,
) -> list[Route]:
    """The CA's routes. ``configuration`` defaults to the verifier's issuer set."""

    async def signing_cert(request: Request) -> JSONResponse:
        require_json(request)
        body = parse_json_object(await read_body(request, body_limit))
        token = _token(body, request.headers.get("authorization"))
        has_csr = body.get("certificateSigningRequest") not in (None, "")
        if has_csr and body.get("publicKeyRequest") is not None:
            raise InputError("send either certificateSigningRequest or publicKeyRequest, not both")
        if has_csr:
            csr = parse_csr(body["certificateSigningRequest"])  # shape before authentication
            principal = await verifier.verify(token)
            public_key = check_csr(csr)
        else:
            key_content, proof = _public_key_request(body.get("publicKeyRequest"))
            principal = await verifier.verify(token)
            public_key = check_proof_of_possession(key_content, proof, principal.name)
        chain = await ca.issue_pem(principal, public_key)
        return JSONResponse({"signedCertificateEmbeddedSct": {"chain": {"certificates": chain}}})

    async def trust_bundle(request: Request) -> JSONResponse:
        chains = [{"certificates": chain} for chain in ca.trust_bundle()]
        return JSONResponse({"chains": chains})

    async def get_configuration(request: Request) -> JSONResponse:
        return JSONResponse(_configuration(configuration, verifier))

    return [
        Route("/api/v2/signingCert", signing_cert, methods=["POST"]),
        Route("/api/v2/trustBundle", trust_bundle, methods=["GET"]),
        Route("/api/v2/configuration", get_configuration, methods=["GET"]),
    ]


def _configuration(
    configuration: dict[str, Any] | Callable[[], dict[str, Any]] | None,
    verifier: PrincipalVerifier,
) -> dict[str, Any]:
    if callable(configuration):
        return configuration()
    if configuration is not None:
        return configuration
    issuers = getattr(verifier, "issuers", None)
    if issuers is not None and hasattr(issuers, "configuration_json"):
        body: dict[str, Any] = issuers.configuration_json()
        return body
    return {"issuers": []}


def _token(body: dict[str, Any], authorization: str | None) -> str:
    """``credentials.oidcIdentityToken``, else the Bearer token (Fulcio's HTTP gateway)."""
    credentials = body.get("credentials")
    if credentials is not None:
        if not isinstance(credentials, dict):
            raise InputError("credentials must be an object")
        token = credentials.get("oidcIdentityToken")
        if token not in (None, ""):
            if not isinstance(token, str):
                raise InputError("credentials.oidcIdentityToken must be a string")
            return token
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    raise Unauthenticated("no OIDC identity token (credentials.oidcIdentityToken or Bearer)")


def _b64(value: object, what: str) -> bytes:
    """protobuf ``bytes`` in JSON: standard or URL-safe base64, padding optional."""
    if not isinstance(value, str) or not value:
        raise InputError(f"{what} must be a non-empty base64 string")
    text = value.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InputError(f"{what} is not valid base64") from e


def parse_csr(value: object) -> x509.CertificateSigningRequest:
    """``certificateSigningRequest``: base64 of a PEM (or DER) PKCS#10 request."""
    data = _b64(value, "certificateSigningRequest")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_csr(data)
        return x509.load_der_x509_csr(data)
    except ValueError as e:
        raise InputError(f"certificateSigningRequest is not a valid PKCS#10 request: {e}") from e


def check_csr(csr: x509.CertificateSigningRequest) -> object:
    """Key strength, then the CSR's self-signature. Subject and extensions are ignored."""
    try:
        key = check_leaf_key(csr.public_key())
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:  # unknown key types raise here
        raise InputError(f"unsupported public key in the CSR: {e}") from e
    try:
        valid = csr.is_signature_valid
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise InputError(f"cannot check the CSR signature: {e}") from e
    if not valid:
        raise InputError("the CSR's signature does not verify")
    return key


def _public_key_request(value: object) -> tuple[str, bytes]:
    if value is None:
        raise InputError("request needs certificateSigningRequest or publicKeyRequest")
    if not isinstance(value, dict):
        raise InputError("publicKeyRequest must be an object")
    public_key = value.get("publicKey")
    if not isinstance(public_key, dict):
        raise InputError("publicKeyRequest.publicKey must be an object")
    content = public_key.get("content")
    if not isinstance(content, str) or not content:
        raise InputError("publicKeyRequest.publicKey.content must be a non-empty string")
    # publicKey.algorithm is ignored, as Fulcio does: the key says what it is.
    return content, _b64(value.get("proofOfPossession"), "publicKeyRequest.proofOfPossession")


def parse_public_key(content: str) -> object:
    """PEM SPKI, else DER SPKI (raw string bytes, then base64), as Fulcio's ParsePublicKey."""
    raw = content.encode("utf-8", "surrogateescape")
    candidates = [raw]
    if not raw.lstrip().startswith(b"-----"):
        try:
            candidates.append(base64.b64decode(raw, validate=True))
        except (binascii.Error, ValueError):
            pass
    for data in candidates:
        try:
            if data.lstrip().startswith(b"-----BEGIN"):
                return serialization.load_pem_public_key(data)
            return serialization.load_der_public_key(data)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
    raise InputError("publicKeyRequest.publicKey.content is not a PEM or DER public key")


def check_proof_of_possession(content: str, proof: bytes, challenge: str) -> object:
    """The key must have signed the principal's name (P-256→SHA-256, P-384→SHA-384,
    P-521→SHA-512, RSA PKCS#1 v1.5 SHA-256, Ed25519 pure)."""
    key = check_leaf_key(parse_public_key(content))
    try:
        Verifier(key).verify(proof, challenge.encode("utf-8"))
    except VerificationError as e:
        raise InputError(
            "proof of possession does not verify: it must be the key's signature over "
            f"the identity {challenge!r}"
        ) from e
    return key
