"""Verification the way sigstore-python does it, and requests rfc3161-client cannot build."""

from __future__ import annotations

import hashlib
import secrets

from asn1crypto import tsp
from cryptography import x509
from rfc3161_client import TimeStampRequest, TimeStampResponse, VerifierBuilder
from rfc3161_client import decode_timestamp_response as decode


def verify_reply(
    reply: bytes,
    message: bytes,
    chain: list[x509.Certificate],
    request: TimeStampRequest | None = None,
) -> TimeStampResponse:
    """Decode ``reply`` and verify it as ``sigstore/verify/verifier.py`` does.

    Leaf = ``tsa_certificate``, last = root, the middle = intermediates; with ``request``,
    the nonce (and policy, if any) must match too. Raises rfc3161_client errors.
    """
    response = decode(reply)
    builder = VerifierBuilder.from_request(request) if request else VerifierBuilder()
    builder = builder.tsa_certificate(chain[0]).add_root_certificate(chain[-1])
    for cert in chain[1:-1]:
        builder = builder.add_intermediate_certificate(cert)
    assert builder.build().verify_message(response, message) is True
    return response


def der_request(
    message: bytes,
    algorithm: str = "sha384",
    *,
    nonce: int | None = None,
    cert_req: bool = True,
    policy: str | None = None,
    digest: bytes | None = None,
    **extra: object,
) -> bytes:
    """A TimeStampReq built with asn1crypto (rfc3161-client only builds SHA-256/512)."""
    if digest is None:
        digest = hashlib.new(algorithm, message).digest()
    fields: dict[str, object] = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest},
        "nonce": secrets.randbits(63) if nonce is None else nonce,
        "cert_req": cert_req,
        **extra,
    }
    if policy:
        fields["req_policy"] = policy
    return tsp.TimeStampReq(fields).dump()
