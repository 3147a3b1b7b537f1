"""The TSA chain has the profile OpenSSL (rfc3161-client), sigstore-js and Go expect."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sceau.errors import InputError
from sceau.keys import generate_signer
from sceau.services.tsa import TimestampAuthority, TSAChain, check_tsa_leaf, make_tsa_chain


def _serial_ok(cert: x509.Certificate) -> bool:
    n = cert.serial_number
    return n > 0 and (n.bit_length() + 8) // 8 <= 20


def test_root_profile(tsa_chain: TSAChain) -> None:
    root = tsa_chain.root
    assert root.subject == root.issuer
    root.verify_directly_issued_by(root)
    key = root.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP384R1)
    bc = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = root.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature
    ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key)
    assert _serial_ok(root)


def test_leaf_profile(tsa_chain: TSAChain) -> None:
    leaf, root = tsa_chain.leaf, tsa_chain.root
    leaf.verify_directly_issued_by(root)
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature
    assert not (ku.value.key_cert_sign or ku.value.crl_sign or ku.value.content_commitment)
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert not aki.critical and aki.value.key_identifier == root_ski.digest
    leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert leaf.public_key() == tsa_chain.leaf_signer.public_key()
    assert _serial_ok(leaf) and leaf.serial_number != root.serial_number
    # The leaf lives within its issuer's validity, and covers a long-lived instance.
    assert root.not_valid_before_utc <= leaf.not_valid_before_utc
    assert leaf.not_valid_after_utc < root.not_valid_after_utc
    now = dt.datetime.now(dt.UTC)
    assert leaf.not_valid_before_utc <= now
    assert leaf.not_valid_after_utc - now > dt.timedelta(days=5 * 365)
    assert tsa_chain.chain == [leaf, root]
    pem = tsa_chain.chain_pem()
    assert x509.load_pem_x509_certificates(pem) == [leaf, root]


def test_options() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    signer = generate_signer("ecdsa-p384")
    chain = make_tsa_chain(
        organization="Example",
        common_name="Example TSA",
        leaf_signer=signer,
        not_before=start,
        validity=dt.timedelta(days=30),
    )
    assert chain.leaf_signer is signer
    assert chain.leaf.not_valid_before_utc == start
    assert chain.leaf.not_valid_after_utc == start + dt.timedelta(days=30)
    cn = chain.leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "Example TSA"
    assert isinstance(chain.leaf.public_key().curve, ec.SECP384R1)  # type: ignore[union-attr]


@pytest.mark.parametrize("algorithm", ["ed25519"])
def test_non_ecdsa_leaf_refused(algorithm: str) -> None:
    with pytest.raises(InputError, match="ECDSA"):
        make_tsa_chain(leaf_signer=generate_signer(algorithm))
    with pytest.raises(InputError, match="P-384"):
        make_tsa_chain(root_signer=generate_signer("ecdsa-p256"))


def _leaf(chain: TSAChain, eku: list[x509.ObjectIdentifier], critical: bool) -> x509.Certificate:
    issuer = chain.root_signer.private_key
    assert isinstance(issuer, ec.EllipticCurvePrivateKey)
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(chain.leaf.subject)
        .issuer_name(chain.root.subject)
        .public_key(chain.leaf.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage(eku), critical=critical)
        .sign(issuer, hashes.SHA384())
    )


def test_bad_leaves_refused(tsa_chain: TSAChain) -> None:
    signer = tsa_chain.leaf_signer
    ts = ExtendedKeyUsageOID.TIME_STAMPING
    bad = [
        _leaf(tsa_chain, [ts], critical=False),
        _leaf(tsa_chain, [ts, ExtendedKeyUsageOID.CODE_SIGNING], critical=True),
        _leaf(tsa_chain, [ExtendedKeyUsageOID.CODE_SIGNING], critical=True),
    ]
    for leaf in bad:
        with pytest.raises(InputError, match="critical and timeStamping only"):
            check_tsa_leaf(leaf, signer)
        with pytest.raises(InputError):
            TimestampAuthority(signer, [leaf, tsa_chain.root])
    check_tsa_leaf(_leaf(tsa_chain, [ts], critical=True), signer)
    # The root is not a TSA certificate; another key does not match the leaf.
    with pytest.raises(InputError, match="ExtendedKeyUsage"):
        check_tsa_leaf(tsa_chain.root, signer)
    with pytest.raises(InputError, match="does not match"):
        TimestampAuthority(generate_signer("ecdsa-p256"), tsa_chain.chain)
    with pytest.raises(InputError, match="empty"):
        TimestampAuthority(signer, [])
