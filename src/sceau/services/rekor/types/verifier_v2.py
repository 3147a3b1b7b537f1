"""Rekor v2 ``Verifier`` messages and the algorithm registry (``keyDetails``).

rekor-tiles accepts a verifier (a DER certificate or DER public key plus the
``PublicKeyDetails`` enum name) only if the key type matches ``keyDetails`` and the
algorithm is allowed; the hash that the client must have used follows from
``keyDetails``. Pure Ed25519 cannot sign a prehashed digest and is refused, as upstream;
Ed25519ph is refused because ``cryptography`` cannot verify it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sceau.errors import InputError
from sceau.services.rekor import material as mat
from sceau.services.rekor.canonical import b64, b64decode_proto, obj, string


@dataclass(frozen=True)
class Algorithm:
    hash_name: str  # sha256 | sha384 | sha512
    proto_hash: str  # SHA2_256 | SHA2_384 | SHA2_512
    curve: type[ec.EllipticCurve] | None = None
    rsa_bits: int | None = None
    pss: bool = False


REGISTRY: dict[str, Algorithm] = {
    "PKIX_ECDSA_P256_SHA_256": Algorithm("sha256", "SHA2_256", curve=ec.SECP256R1),
    "PKIX_ECDSA_P384_SHA_384": Algorithm("sha384", "SHA2_384", curve=ec.SECP384R1),
    "PKIX_ECDSA_P521_SHA_512": Algorithm("sha512", "SHA2_512", curve=ec.SECP521R1),
    "PKIX_RSA_PKCS1V15_2048_SHA256": Algorithm("sha256", "SHA2_256", rsa_bits=2048),
    "PKIX_RSA_PKCS1V15_3072_SHA256": Algorithm("sha256", "SHA2_256", rsa_bits=3072),
    "PKIX_RSA_PKCS1V15_4096_SHA256": Algorithm("sha256", "SHA2_256", rsa_bits=4096),
    "PKIX_RSA_PSS_2048_SHA256": Algorithm("sha256", "SHA2_256", rsa_bits=2048, pss=True),
    "PKIX_RSA_PSS_3072_SHA256": Algorithm("sha256", "SHA2_256", rsa_bits=3072, pss=True),
    "PKIX_RSA_PSS_4096_SHA256": Algorithm("sha256", "SHA2_256", rsa_bits=4096, pss=True),
}


@dataclass(frozen=True)
class ParsedVerifier:
    material: mat.Material
    key_details: str
    algorithm: Algorithm
    canonical: dict[str, Any]  # the verifier as it is stored in the leaf


def parse_verifier(value: dict[str, Any], path: str) -> ParsedVerifier:
    key_details = string(value, "keyDetails", f"{path}.keyDetails")
    algorithm = REGISTRY.get(key_details)
    if algorithm is None:
        raise InputError(
            f"{path}.keyDetails: unsupported algorithm {key_details!r} "
            f"(supported: {', '.join(REGISTRY)})"
        )
    has_cert = value.get("x509Certificate") is not None
    has_key = value.get("publicKey") is not None
    if has_cert == has_key:
        raise InputError(f"{path}: exactly one of x509Certificate or publicKey is required")
    if has_cert:
        member = obj(value, "x509Certificate", f"{path}.x509Certificate")
        where = f"{path}.x509Certificate.rawBytes"
        raw = b64decode_proto(string(member, "rawBytes", where), where)
        material = mat.from_der_certificate(raw, where)
        canonical = {"keyDetails": key_details, "x509Certificate": {"rawBytes": b64(raw)}}
    else:
        member = obj(value, "publicKey", f"{path}.publicKey")
        where = f"{path}.publicKey.rawBytes"
        raw = b64decode_proto(string(member, "rawBytes", where), where)
        material = mat.from_der_public_key(raw, where)
        canonical = {"keyDetails": key_details, "publicKey": {"rawBytes": b64(raw)}}
    _check_matches(material.public_key, key_details, algorithm, path)
    return ParsedVerifier(material, key_details, algorithm, canonical)


def _check_matches(key: mat.PublicKey, key_details: str, algorithm: Algorithm, path: str) -> None:
    if algorithm.curve is not None:
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, algorithm.curve):
            return
    elif algorithm.rsa_bits is not None:
        if isinstance(key, rsa.RSAPublicKey) and key.key_size == algorithm.rsa_bits:
            return
    raise InputError(
        f"{path}.keyDetails: {key_details} does not match the verifier's key ({_describe(key)})"
    )


def _describe(key: mat.PublicKey) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    return "Ed25519"
