"""The Fulcio leaf profile: precertificate, then the final certificate with its SCT.

``fulcio: pkg/ca/common.go MakeX509`` + ``pkg/ca/baseca/baseca.go`` + ``pkg/certificate/
extensions.go``, and docs/protocols.md §2.1–2.3. Pure: no I/O, no clock unless none is given.

The precertificate and the final certificate share one TBS except for the last extension
(the critical CT poison in the precert, the SCT list in the final cert), so the CT log's
signature over the precert TBS is a signature over the final cert's
``tbs_precertificate_bytes``. :func:`final_certificate` checks this before returning.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from sceau.errors import InputError, InternalError
from sceau.services.ca.authority import CAChain, sign_certificate
from sceau.services.ca.identity import Principal, der_utf8_string
from sceau.services.ct.der import precert_tbs
from sceau.services.ct.rfc6962 import SCT, sct_list

FULCIO_ARC = "1.3.6.1.4.1.57264.1"
OID_ISSUER_V1 = ObjectIdentifier(f"{FULCIO_ARC}.1")  # raw bytes (deprecated, read by python)
OID_ISSUER_V2 = ObjectIdentifier(f"{FULCIO_ARC}.8")  # DER UTF8String
OID_SCT_LIST = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
OID_CT_POISON = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.3")

RAW_ARCS = frozenset({2, 3, 4, 5, 6})  # GitHub legacy extensions, raw bytes
FIRST_UTF8_ARC = 9  # 1.9 Build Signer URI … 1.24 Token Subject, DER UTF8String
LEAF_VALIDITY = dt.timedelta(minutes=10)

LeafKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)


def check_leaf_key(key: object) -> LeafKey:
    """Fulcio's key-strength rules (sigstore ``cryptoutils.ValidatePubKey``)."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, _CURVES):
            raise InputError(f"unsupported elliptic curve {key.curve.name}")
        return key
    if isinstance(key, rsa.RSAPublicKey):
        if not 2048 <= key.key_size <= 4096:
            raise InputError(f"RSA key size {key.key_size} is outside 2048–4096 bits")
        if key.public_numbers().e != 65537:
            raise InputError("RSA public exponent must be 65537")
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise InputError(f"unsupported public key type {type(key).__name__}")


def fulcio_extensions(principal: Principal) -> list[x509.UnrecognizedExtension]:
    """1.1 (raw issuer), 1.2–1.6 (raw), 1.8 (UTF8String issuer), 1.9+ (UTF8String), in order."""
    if not principal.issuer:
        raise InternalError("principal has no issuer")  # Fulcio: Render() fails
    values = {1: principal.issuer.encode(), 8: der_utf8_string(principal.issuer)}
    for arc, value in principal.extensions.items():
        if not value:
            continue  # Fulcio emits only non-empty values
        if arc in RAW_ARCS:
            values[arc] = value.encode()
        elif arc >= FIRST_UTF8_ARC:
            values[arc] = der_utf8_string(value)
        else:
            raise InternalError(f"principal carries extension arc {arc}, which is not ours to set")
    return [
        x509.UnrecognizedExtension(ObjectIdentifier(f"{FULCIO_ARC}.{arc}"), values[arc])
        for arc in sorted(values)
    ]


@dataclass(frozen=True)
class LeafTemplate:
    """Everything the precert and the final cert share: one issuance."""

    principal: Principal
    public_key: LeafKey
    serial: int
    not_before: dt.datetime
    not_after: dt.datetime

    @classmethod
    def new(
        cls, principal: Principal, public_key: object, now: dt.datetime | None = None
    ) -> LeafTemplate:
        start = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
        return cls(
            principal=principal,
            public_key=check_leaf_key(public_key),
            serial=x509.random_serial_number(),  # positive, < 2^159: at most 20 octets
            not_before=start,
            not_after=start + LEAF_VALIDITY,
        )

    def builder(self, ca: CAChain) -> x509.CertificateBuilder:
        issuer = ca.intermediate
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
            issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(issuer.subject)
            .public_key(self.public_key)
            .serial_number(self.serial)
            .not_valid_before(self.not_before)
            .not_valid_after(self.not_after)
            .add_extension(_leaf_key_usage(), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.public_key), False)
            .add_extension(aki, critical=False)
            # Empty subject: the SAN is the identity, so it is critical (RFC 5280 §4.2.1.6).
            .add_extension(x509.SubjectAlternativeName([self.principal.san]), critical=True)
        )
        for ext in fulcio_extensions(self.principal):
            builder = builder.add_extension(ext, critical=False)
        return builder


def _leaf_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _sign(builder: x509.CertificateBuilder, ca: CAChain) -> x509.Certificate:
    return sign_certificate(builder, ca.signer)


def precertificate(template: LeafTemplate, ca: CAChain) -> x509.Certificate:
    """The RFC 6962 precertificate: the TBS plus the critical poison extension, signed."""
    return _sign(template.builder(ca).add_extension(x509.PrecertPoison(), critical=True), ca)


def sct_list_extension(scts: Sequence[SCT]) -> x509.UnrecognizedExtension:
    """The SCT list extension: extnValue = DER OCTET STRING wrapping the TLS list (§2.3)."""
    body = sct_list([s.encode() for s in scts])
    if len(body) < 0x80:
        der = bytes([0x04, len(body)]) + body
    else:
        raw = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
        der = bytes([0x04, 0x80 | len(raw)]) + raw + body
    return x509.UnrecognizedExtension(OID_SCT_LIST, der)


def final_certificate(
    template: LeafTemplate, ca: CAChain, scts: Sequence[SCT], precert: x509.Certificate
) -> x509.Certificate:
    """Same TBS as ``precert`` with the poison replaced by the SCT list, signed again."""
    builder = template.builder(ca).add_extension(sct_list_extension(scts), critical=False)
    cert = _sign(builder, ca)
    if cert.tbs_precertificate_bytes != _precert_tbs(precert):
        raise InternalError("final certificate TBS differs from the logged precertificate")
    return cert


def _precert_tbs(precert: x509.Certificate) -> bytes:
    """The precert's TBS without its poison: what the CT log signed."""
    return precert_tbs(precert.public_bytes(serialization.Encoding.DER))


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()
