"""The leaf profile, field by field, for every principal shape and leaf key type."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, ObjectIdentifier

from sceau.errors import InputError, InternalError, VerificationError
from sceau.services.ca.authority import make_ca_chain
from sceau.services.ca.identity import Principal
from sceau.services.ca.issuer import CertificateAuthority
from sceau.services.ca.profile import (
    OID_CT_POISON,
    OID_SCT_LIST,
    LeafTemplate,
    check_leaf_key,
    fulcio_extensions,
    precertificate,
)
from sceau.services.ca.sct import embedded_scts, verify_embedded_sct
from sceau.services.ct import der
from tests.ca.helpers import SigningCT, principals, sigstore_sct_check, webpki_verify

PRINCIPALS = principals()
F = "1.3.6.1.4.1.57264.1."


@pytest.fixture(scope="module")
def ca_p256():
    chain, _ = make_ca_chain()
    return chain


def issue(chain, principal: Principal, key: object):
    ct = SigningCT()
    ca = CertificateAuthority(chain, ct, ct_keys=[ct.public_key])
    certs = asyncio.run(ca.issue(principal, key))
    return certs, ct


def utf8(value: str) -> bytes:
    body = value.encode()
    assert len(body) < 128
    return b"\x0c" + bytes([len(body)]) + body


@pytest.mark.parametrize("shape", sorted(PRINCIPALS))
def test_leaf_profile_field_by_field(ca_p256, shape: str) -> None:
    principal = PRINCIPALS[shape]
    key = ec.generate_private_key(ec.SECP256R1())
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    (cert, intermediate, root), ct = issue(ca_p256, principal, key.public_key())
    after = dt.datetime.now(dt.UTC)

    assert cert.version is x509.Version.v3
    assert 0 < cert.serial_number < 1 << 159  # positive, at most 20 octets
    assert len(cert.subject) == 0
    assert cert.issuer == intermediate.subject
    assert before <= cert.not_valid_before_utc <= after
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(minutes=10)
    assert cert.public_key() == key.public_key()
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)  # P-256 intermediate

    exts = cert.extensions
    oids = [e.oid.dotted_string for e in exts]
    fulcio = [o for o in oids if o.startswith(F)]
    arcs = [int(o.rsplit(".", 1)[1]) for o in fulcio]
    expected_arcs = sorted({1, 8} | {a for a, v in principal.extensions.items() if v})
    assert arcs == expected_arcs  # Fulcio's order: 1.1, 1.2–1.6, 1.8, 1.9…1.24
    assert oids == [
        ExtensionOID.KEY_USAGE.dotted_string,
        ExtensionOID.EXTENDED_KEY_USAGE.dotted_string,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER.dotted_string,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER.dotted_string,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME.dotted_string,
        *fulcio,
        OID_SCT_LIST.dotted_string,
    ]

    ku = exts.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature
    assert not (ku.value.key_cert_sign or ku.value.crl_sign or ku.value.key_encipherment)
    eku = exts.get_extension_for_class(x509.ExtendedKeyUsage)
    assert not eku.critical and list(eku.value) == [ExtendedKeyUsageOID.CODE_SIGNING]
    ski = exts.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert not ski.critical
    assert ski.value == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    aki = exts.get_extension_for_class(x509.AuthorityKeyIdentifier)
    int_ski = intermediate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert not aki.critical and aki.value.key_identifier == int_ski.digest
    san = exts.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical and list(san.value) == [principal.san]

    def raw(arc: int) -> bytes:
        ext = exts.get_extension_for_oid(ObjectIdentifier(F + str(arc)))
        assert not ext.critical
        return ext.value.value

    assert raw(1) == principal.issuer.encode()  # raw bytes, read by sigstore-python
    assert raw(8) == utf8(principal.issuer)  # DER UTF8String
    for arc, value in principal.extensions.items():
        assert raw(arc) == (value.encode() if arc in (2, 3, 4, 5, 6) else utf8(value))

    # the chain passes pyca's WebPKI client policy exactly as sigstore-python configures it
    assert webpki_verify(cert, root, intermediate) == [cert, intermediate, root]
    # the embedded SCT verifies with sigstore-python's verifier and with ours
    sigstore_sct_check(cert, [intermediate, root], ct.public_key)
    sct = verify_embedded_sct(cert, intermediate, [ct.public_key])
    assert sct.log_id == ct.log_id and sct.signature.hash_alg == 4

    # the logged precert: same serial/validity, poison instead of SCTs, same TBS once cut
    precert = x509.load_der_x509_certificate(ct.submitted[0][0])
    assert ct.submitted[0][1:] == [
        c.public_bytes(serialization.Encoding.DER) for c in (intermediate, root)
    ]
    assert precert.serial_number == cert.serial_number
    assert precert.not_valid_before_utc == cert.not_valid_before_utc
    poison = precert.extensions.get_extension_for_oid(OID_CT_POISON)
    assert poison.critical and isinstance(poison.value, x509.PrecertPoison)
    assert [e.oid for e in precert.extensions][:-1] == [e.oid for e in exts][:-1]
    assert der.precert_tbs(ct.submitted[0][0]) == cert.tbs_precertificate_bytes
    precert.verify_directly_issued_by(intermediate)
    cert.verify_directly_issued_by(intermediate)


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: ec.generate_private_key(ec.SECP384R1()),
        lambda: ec.generate_private_key(ec.SECP521R1()),
        lambda: rsa.generate_private_key(65537, 2048),
        lambda: rsa.generate_private_key(65537, 4096),
    ],
    ids=["p384", "p521", "rsa2048", "rsa4096"],
)
def test_other_leaf_keys_issue_and_verify(ca_p256, make_key) -> None:
    key = make_key()
    (cert, intermediate, root), ct = issue(ca_p256, PRINCIPALS["email"], key.public_key())
    assert cert.public_key() == key.public_key()
    webpki_verify(cert, root, intermediate)
    sigstore_sct_check(cert, [intermediate, root], ct.public_key)


def test_ed25519_leaf_is_issued_and_chains(ca_p256) -> None:
    """Fulcio issues Ed25519 leaves (signed by the ECDSA intermediate). pyca's WebPKI path
    check accepts the leaf key (it restricts CA keys and signature algorithms only);
    sigstore-python refuses non-EC/RSA leaves later, when verifying the artifact."""
    key = ed25519.Ed25519PrivateKey.generate()
    (cert, intermediate, root), ct = issue(ca_p256, PRINCIPALS["github"], key.public_key())
    assert cert.public_key() == key.public_key()
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)  # signed by the P-256 CA
    verify_embedded_sct(cert, intermediate, [ct.public_key])
    sigstore_sct_check(cert, [intermediate, root], ct.public_key)
    assert webpki_verify(cert, root, intermediate) == [cert, intermediate, root]


def test_p384_intermediate_signs_with_sha384() -> None:
    chain, _ = make_ca_chain(intermediate_algorithm="ecdsa-p384")
    key = ec.generate_private_key(ec.SECP256R1())
    (cert, intermediate, root), ct = issue(chain, PRINCIPALS["uri"], key.public_key())
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA384)
    webpki_verify(cert, root, intermediate)
    sigstore_sct_check(cert, [intermediate, root], ct.public_key)


@pytest.mark.parametrize(
    "key",
    [
        ec.generate_private_key(ec.SECP224R1()).public_key(),
        ec.generate_private_key(ec.SECP256K1()).public_key(),
        rsa.generate_private_key(65537, 1024).public_key(),  # noqa: S505 - the point
        rsa.generate_private_key(3, 2048).public_key(),
    ],
    ids=["p224", "secp256k1", "rsa1024", "rsa-e3"],
)
def test_weak_or_odd_keys_are_refused(key) -> None:
    with pytest.raises(InputError):
        check_leaf_key(key)


def test_serials_are_fresh_and_positive(ca_p256) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    serials = {LeafTemplate.new(PRINCIPALS["email"], key).serial for _ in range(200)}
    assert len(serials) == 200 and min(serials) > 0


def test_issuer_extension_is_mandatory_and_arcs_are_checked() -> None:
    with pytest.raises(InternalError):
        fulcio_extensions(Principal("a", x509.RFC822Name("a@b.c"), ""))
    with pytest.raises(InternalError):
        fulcio_extensions(Principal("a", x509.RFC822Name("a@b.c"), "https://i", {7: "x"}))
    exts = fulcio_extensions(Principal("a", x509.RFC822Name("a@b.c"), "https://i", {9: ""}))
    assert [e.oid.dotted_string for e in exts] == [F + "1", F + "8"]  # empty values omitted


def test_ca_refuses_an_sct_that_does_not_verify(ca_p256) -> None:
    class WrongKeyCT(SigningCT):
        pass

    ct = WrongKeyCT()
    other = SigningCT()
    ca = CertificateAuthority(ca_p256, ct, ct_keys=[other.public_key])
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    from sceau.errors import RemoteError

    with pytest.raises(RemoteError):
        asyncio.run(ca.issue(PRINCIPALS["email"], key))


def test_embedded_sct_reader_refuses_certificates_without_scts(ca_p256) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    precert = precertificate(LeafTemplate.new(PRINCIPALS["email"], key), ca_p256)
    with pytest.raises(VerificationError):
        embedded_scts(precert)
