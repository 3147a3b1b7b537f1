"""Distinct, validly signed hashedrekord requests for load (the benches, the failover test).

Each request logs a new entry: a fresh digest signed by one of a few short-lived
self-signed certificates, so the server's signature check, canonicalisation and dedup do
their real work. Rekor does not validate certificate chains, so self-signed is enough.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def signed_requests(count: int, api: str = "v2", *, certificates: int = 1) -> list[bytes]:
    """``count`` distinct compact-JSON request bodies for ``/api/{api}/log/entries``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, utils
    from cryptography.x509.oid import NameOID

    if api not in ("v1", "v2"):
        raise ValueError(f"api must be v1 or v2, not {api!r}")
    now = dt.datetime.now(dt.UTC)
    signers = []
    for i in range(certificates):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"sceau load {i}")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=2))
            .add_extension(
                x509.SubjectAlternativeName([x509.RFC822Name(f"load{i}@example.test")]),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        if api == "v1":
            verifier = _b64(cert.public_bytes(serialization.Encoding.PEM))
        else:
            verifier = _b64(cert.public_bytes(serialization.Encoding.DER))
        signers.append((key, verifier))
    salt = os.urandom(8)
    out = []
    for i in range(count):
        key, verifier = signers[i % certificates]
        digest = hashlib.sha256(salt + i.to_bytes(8, "big")).digest()
        sig = _b64(key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256()))))
        if api == "v1":
            body: dict[str, object] = {
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "signature": {"content": sig, "publicKey": {"content": verifier}},
                    "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                },
            }
        else:
            body = {
                "hashedRekordRequestV002": {
                    "digest": _b64(digest),
                    "signature": {
                        "content": sig,
                        "verifier": {
                            "x509Certificate": {"rawBytes": verifier},
                            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                        },
                    },
                }
            }
        out.append(json.dumps(body, separators=(",", ":")).encode())
    return out
