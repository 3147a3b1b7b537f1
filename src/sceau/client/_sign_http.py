"""The HTTP half of signing: CA (Fulcio v2), TSA (RFC 3161) and Rekor v1/v2 writes.

Each call sends what sigstore-python sends (docs/protocols.md §1.1, §1.3–1.5), checks the
answer's shape strictly and turns every failure — unreachable, timed out, refused, nonsense
— into one :class:`SigningServiceError` line naming the service. Responses become the
protobuf-JSON pieces of a bundle (int64 as strings, bytes as base64).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from sceau.client import rekor_json
from sceau.errors import RemoteError

CA_PATH = "/api/v2/signingCert"
USER_AGENT = "sceau"
# Connect quickly; wait long for logs, which answer only once the entry is sequenced
# (rekor-tiles' CLIENTS.md asks for ≥ 20 s).
CA_TIMEOUT = 30.0
TSA_TIMEOUT = 10.0
REKOR_TIMEOUT = 60.0
CONNECT_TIMEOUT = 5.0
MAX_RESPONSE = 4 << 20


class SigningServiceError(RemoteError):
    """A signing service (CA, TSA, log) failed or answered something unusable."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Http:
    """One ``httpx.Client`` for a signing session (keep-alive across CA, TSA and log)."""

    def __init__(self, client: Any | None = None, *, urls: Sequence[str] = ()) -> None:
        """``urls``: the services this session will call. When none is https (a local
        instance), the TLS context — whose CA bundle costs ~0.1 s to load — is not built;
        redirects are off, so no request can reach an https URL."""
        import httpx

        self._own = client is None
        tls = not urls or any(u.lower().startswith("https:") for u in urls)
        self.client = client or httpx.Client(
            headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(CA_TIMEOUT, connect=CONNECT_TIMEOUT),
            follow_redirects=False,
            verify=tls,
        )

    def close(self) -> None:
        if self._own:
            self.client.close()

    def post(
        self,
        what: str,
        url: str,
        *,
        timeout: float,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        import httpx

        try:
            resp = self.client.post(
                url,
                json=json,
                content=content,
                headers=headers,
                timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT),
            )
        except httpx.TimeoutException:
            raise SigningServiceError(f"{what} at {url} timed out") from None
        except httpx.HTTPError as e:
            raise SigningServiceError(f"cannot reach the {what} at {url}: {_reason(e)}") from None
        if len(resp.content) > MAX_RESPONSE:
            raise SigningServiceError(f"{what} at {url} answered {len(resp.content)} bytes")
        return resp


def _reason(e: Exception) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]


def _refusal(what: str, resp: Any) -> SigningServiceError:
    """A one-line error from a non-success answer, with the server's message if any."""
    detail = ""
    try:
        body = resp.json()
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            detail = ": " + body["message"].splitlines()[0][:300]
    except ValueError:
        text = resp.text.strip()
        if text:
            detail = ": " + text.splitlines()[0][:300]
    if resp.status_code < 400:
        return SigningServiceError(f"{what} answered HTTP {resp.status_code} unexpectedly{detail}")
    return SigningServiceError(f"{what} refused the request (HTTP {resp.status_code}){detail}")


def _json(what: str, resp: Any) -> Any:
    try:
        return resp.json()
    except ValueError:
        raise SigningServiceError(f"{what} answered something that is not JSON") from None


# -- CA -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedCertificate:
    leaf: Any  # cryptography x509.Certificate
    chain: tuple[Any, ...]  # intermediates and root, as the CA sent them


def request_certificate(
    http: Http, ca_url: str, token: str, body: dict[str, Any]
) -> IssuedCertificate:
    """``POST /api/v2/signingCert`` (at the host root, as sigstore-python joins it)."""
    from cryptography.x509 import load_pem_x509_certificate

    url = urljoin(ca_url, CA_PATH)
    resp = http.post(
        "CA",
        url,
        timeout=CA_TIMEOUT,
        json=body,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    if resp.status_code != 200:
        raise _refusal("CA", resp)
    doc = _json("CA", resp)
    try:
        pems = doc["signedCertificateEmbeddedSct"]["chain"]["certificates"]
    except (KeyError, TypeError):
        raise SigningServiceError(
            "CA response has no signedCertificateEmbeddedSct chain (detached SCTs are unsupported)"
        ) from None
    if not isinstance(pems, list) or len(pems) < 2 or not all(isinstance(p, str) for p in pems):
        raise SigningServiceError("CA response chain must hold the leaf and at least one CA")
    try:
        certs = [load_pem_x509_certificate(p.encode()) for p in pems]
    except ValueError:
        raise SigningServiceError("CA response holds a certificate that is not PEM X.509") from None
    return IssuedCertificate(certs[0], tuple(certs[1:]))


# -- TSA ----------------------------------------------------------------------------------


def request_timestamp(http: Http, url: str, signature: bytes) -> bytes:
    """An RFC 3161 token over SHA-256(signature): DER request with nonce and certReq."""
    from rfc3161_client import TimestampRequestBuilder, decode_timestamp_response
    from rfc3161_client.base import HashAlgorithm

    request = (
        TimestampRequestBuilder()
        .hash_algorithm(HashAlgorithm.SHA256)
        .data(signature)
        .nonce(nonce=True)
        .build()
    )
    resp = http.post(
        "TSA",
        url,
        timeout=TSA_TIMEOUT,
        content=request.as_bytes(),
        headers={"Content-Type": "application/timestamp-query"},
    )
    if resp.status_code not in (200, 201):
        raise _refusal("TSA", resp)
    der: bytes = resp.content
    try:
        parsed = decode_timestamp_response(der)
    except ValueError:
        raise SigningServiceError("TSA answered something that is not a TimeStampResp") from None
    if parsed.status not in (0, 1):  # granted, grantedWithMods
        raise SigningServiceError(f"TSA did not grant the timestamp (status {parsed.status})")
    if parsed.tst_info.nonce != request.nonce:
        raise SigningServiceError("TSA answered with a different nonce")
    return der


# -- Rekor --------------------------------------------------------------------------------


def rekor_v1_create(http: Http, base_url: str, proposed: dict[str, Any]) -> dict[str, Any]:
    """``POST /api/v1/log/entries``; the answer as a bundle ``TransparencyLogEntry``."""
    url = base_url.rstrip("/") + "/api/v1/log/entries"
    resp = http.post("Rekor v1 log", url, timeout=REKOR_TIMEOUT, json=proposed)
    if resp.status_code != 201:
        raise _refusal("Rekor v1 log", resp)
    doc = _json("Rekor v1 log", resp)
    if not isinstance(doc, dict) or len(doc) != 1:
        raise SigningServiceError("Rekor v1 log answered other than one entry")
    (entry,) = doc.values()
    try:
        return rekor_json.v1_entry(entry)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise SigningServiceError(f"Rekor v1 log answered a malformed entry ({e!r})") from None


def rekor_v2_create(http: Http, base_url: str, request: dict[str, Any]) -> dict[str, Any]:
    """``POST /api/v2/log/entries``; the answer is already a ``TransparencyLogEntry``."""
    url = base_url.rstrip("/") + "/api/v2/log/entries"
    resp = http.post("Rekor v2 log", url, timeout=REKOR_TIMEOUT, json=request)
    if resp.status_code != 201:
        raise _refusal("Rekor v2 log", resp)
    entry = _json("Rekor v2 log", resp)
    try:
        return rekor_json.v2_entry(entry)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise SigningServiceError(f"Rekor v2 log answered a malformed entry ({e!r})") from None
