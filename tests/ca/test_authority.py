"""Root and intermediate certificates: what every Sigstore client demands of a CA."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from sigstore._utils import cert_is_ca

from sceau.errors import InputError, InternalError
from sceau.keys import generate_signer
from sceau.services.ca.authority import UTCTIME_LIMIT, load_ca_chain, make_ca_chain


def _ku(cert: x509.Certificate) -> x509.KeyUsage:
    ext = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ext.critical
    return ext.value


def test_root_profile() -> None:
    chain, root_signer = make_ca_chain()
    root = chain.root
    assert isinstance(root.public_key(), ec.EllipticCurvePublicKey)
    assert isinstance(root.public_key().curve, ec.SECP384R1)
    assert root.subject == root.issuer
    root.verify_directly_issued_by(root)
    assert isinstance(root.signature_hash_algorithm, hashes.SHA384)
    bc = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length is None
    ku = _ku(root)
    assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
    ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = root.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    with pytest.raises(x509.ExtensionNotFound):
        root.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert root_signer.public_key() == root.public_key()
    assert cert_is_ca(root)  # sigstore-python's own CA test


@pytest.mark.parametrize("alg,curve", [("ecdsa-p256", ec.SECP256R1), ("ecdsa-p384", ec.SECP384R1)])
def test_intermediate_profile(alg: str, curve: type) -> None:
    chain, _ = make_ca_chain(intermediate_algorithm=alg)
    inter, root = chain.intermediate, chain.root
    assert isinstance(inter.public_key().curve, curve)
    inter.verify_directly_issued_by(root)
    assert isinstance(inter.signature_hash_algorithm, hashes.SHA384)  # signed by the P-384 root
    bc = inter.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = _ku(inter)
    assert ku.key_cert_sign and ku.crl_sign
    eku = inter.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert not eku.critical and list(eku.value) == [ExtendedKeyUsageOID.CODE_SIGNING]
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = inter.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == root_ski.digest
    ski = inter.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(inter.public_key())
    assert root.not_valid_before_utc <= inter.not_valid_before_utc
    assert inter.not_valid_after_utc <= root.not_valid_after_utc
    assert cert_is_ca(inter)
    assert chain.signer.public_key() == inter.public_key()


def test_dates_stay_in_utctime_range() -> None:
    chain, _ = make_ca_chain(root_validity=dt.timedelta(days=365 * 60))
    assert chain.root.not_valid_after_utc <= UTCTIME_LIMIT
    # DER UTCTime tag (0x17) for both dates of both certificates
    for cert in (chain.root, chain.intermediate):
        tbs = cert.tbs_certificate_bytes
        assert tbs.count(b"\x17\x0d") >= 2


def test_intermediate_validity_is_clipped_to_the_root() -> None:
    chain, _ = make_ca_chain(
        root_validity=dt.timedelta(days=30), intermediate_validity=dt.timedelta(days=300)
    )
    assert chain.intermediate.not_valid_after_utc == chain.root.not_valid_after_utc


def test_ed25519_ca_keys_are_refused() -> None:
    with pytest.raises(InputError):
        make_ca_chain(root_algorithm="ed25519")
    with pytest.raises(InputError):
        make_ca_chain(intermediate_signer=generate_signer("ed25519"))


def test_load_ca_chain_round_trip_and_key_mismatch() -> None:
    chain, _ = make_ca_chain()
    pem = serialization.Encoding.PEM
    loaded = load_ca_chain(
        chain.intermediate.public_bytes(pem), chain.root.public_bytes(pem), chain.signer
    )
    assert loaded.chain == chain.chain
    with pytest.raises(InternalError):
        load_ca_chain(
            chain.intermediate.public_bytes(pem),
            chain.root.public_bytes(pem),
            generate_signer("ecdsa-p256"),
        )
    other, _ = make_ca_chain()
    with pytest.raises(InternalError):
        load_ca_chain(
            chain.intermediate.public_bytes(pem), other.root.public_bytes(pem), chain.signer
        )
