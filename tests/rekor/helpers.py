"""Test material: Fulcio-like leaf certificates and signed Rekor requests."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

EMAIL = "Alice@Example.com"
URI = "https://github.com/octo/repo/.github/workflows/release.yml@refs/heads/main"

_CA_KEY = ec.generate_private_key(ec.SECP384R1())
_CA_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sceau tests"),
        x509.NameAttribute(NameOID.COMMON_NAME, "sceau test CA"),
    ]
)
# The CA is made on the day the tests run, like the leaves it signs (certificate_with), so
# nothing here depends on the calendar.
_CA_START = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
CA_CERT = (
    x509.CertificateBuilder()
    .subject_name(_CA_NAME)
    .issuer_name(_CA_NAME)
    .public_key(_CA_KEY.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(_CA_START)
    .not_valid_after(_CA_START + dt.timedelta(days=30))
    .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    .sign(_CA_KEY, hashes.SHA384())
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def leaf(key=None, *, email: str | None = EMAIL, uri: str | None = None):
    """A short-lived code-signing leaf (SAN e-mail and/or URI) and its private key."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    if email:
        sans.append(x509.RFC822Name(email))
    if uri:
        sans.append(x509.UniformResourceIdentifier(uri))
    return certificate_with(key, x509.SubjectAlternativeName(sans)), key


def certificate_with(key, san: x509.SubjectAlternativeName | None) -> x509.Certificate:
    """A short-lived code-signing leaf for ``key`` with exactly this SAN (or none)."""
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(_CA_NAME)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(minutes=10))
    )
    if san is not None:
        builder = builder.add_extension(san, critical=True)
    return (
        builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .sign(_CA_KEY, hashes.SHA384())
    )


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def sign_digest(key, digest: bytes, algorithm=None) -> bytes:
    algorithm = algorithm or hashes.SHA256()
    if isinstance(key, rsa.RSAPrivateKey):
        from cryptography.hazmat.primitives.asymmetric import padding

        return key.sign(digest, padding.PKCS1v15(), utils.Prehashed(algorithm))
    return key.sign(digest, ec.ECDSA(utils.Prehashed(algorithm)))


def hashedrekord_v1(artifact: bytes | None = None, *, cert=None, key=None, uri=None):
    """A valid hashedrekord 0.0.1 request (as sigstore-python builds it) and its digest."""
    artifact = artifact if artifact is not None else os.urandom(32)
    if cert is None:
        cert, key = leaf(uri=uri)
    digest = hashlib.sha256(artifact).digest()
    request = {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "signature": {
                "content": b64(sign_digest(key, digest)),
                "publicKey": {"content": b64(pem(cert))},
            },
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
        },
    }
    return request, digest, cert, key


def hashedrekord_v2(artifact: bytes | None = None, *, cert=None, key=None):
    artifact = artifact if artifact is not None else os.urandom(32)
    if cert is None:
        cert, key = leaf()
    digest = hashlib.sha256(artifact).digest()
    request = {
        "hashedRekordRequestV002": {
            "digest": b64(digest),
            "signature": {
                "content": b64(sign_digest(key, digest)),
                "verifier": {
                    "x509Certificate": {"rawBytes": b64(der(cert))},
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                },
            },
        }
    }
    return request, digest, cert, key


def statement(digest_hex: str) -> bytes:
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "a.txt", "digest": {"sha256": digest_hex}}],
            "predicateType": "https://example.com/predicate/v1",
            "predicate": {},
        }
    ).encode()


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def envelope(payload: bytes, key, payload_type: str = "application/vnd.in-toto+json") -> dict:
    sig = key.sign(pae(payload_type, payload), ec.ECDSA(hashes.SHA256()))
    return {"payload": b64(payload), "payloadType": payload_type, "signatures": [{"sig": b64(sig)}]}


def dsse_v1(payload: bytes | None = None, *, cert=None, key=None):
    if cert is None:
        cert, key = leaf()
    payload = payload if payload is not None else statement(os.urandom(32).hex())
    env = envelope(payload, key)
    request = {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "proposedContent": {
                "envelope": json.dumps(env, separators=(",", ":")),
                "verifiers": [b64(pem(cert))],
            }
        },
    }
    return request, env, cert, key


def dsse_v2(payload: bytes | None = None, *, cert=None, key=None):
    if cert is None:
        cert, key = leaf()
    payload = payload if payload is not None else statement(os.urandom(32).hex())
    env = envelope(payload, key)
    env["signatures"][0]["keyid"] = ""
    request = {
        "dsseRequestV002": {
            "envelope": env,
            "verifiers": [
                {
                    "x509Certificate": {"rawBytes": b64(der(cert))},
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                }
            ],
        }
    }
    return request, env, cert, key


def intoto_v2(payload: bytes | None = None, *, cert=None, key=None):
    """As sigstore-js ``toProposedIntotoEntry`` builds it (double base64)."""
    if cert is None:
        cert, key = leaf()
    payload = payload if payload is not None else statement(os.urandom(32).hex())
    env = envelope(payload, key)
    sig_b64 = env["signatures"][0]["sig"]
    request = {
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": {
            "content": {
                "envelope": {
                    "payloadType": env["payloadType"],
                    "payload": b64(env["payload"].encode()),
                    "signatures": [{"sig": b64(sig_b64.encode()), "publicKey": b64(pem(cert))}],
                },
                "hash": {"algorithm": "sha256", "value": hashlib.sha256(b"x").hexdigest()},
                "payloadHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(payload).hexdigest(),
                },
            }
        },
    }
    return request, env, cert, key
