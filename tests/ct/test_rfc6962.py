"""RFC 6962 codec and the DER cut: round trips, strictness, and real Fulcio certificates."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, load_der_public_key

from sceau.services.ca.sct import embedded_scts, verify_embedded_sct
from sceau.services.ct import der, rfc6962
from sceau.services.ct.rfc6962 import SCT, CodecError, DigitallySigned, EntryType


def _sct(ext: bytes = b"") -> SCT:
    return SCT(
        log_id=bytes(range(32)),
        timestamp_ms=1_700_000_000_123,
        signature=DigitallySigned(b"\x30\x06sig"),
        extensions=ext,
    )


def test_sct_encoding_round_trips() -> None:
    for sct in (_sct(), _sct(b"\x00\x00\x05\x00\x00\x00\x00\x07")):
        assert SCT.decode(sct.encode()) == sct
        assert SCT.from_json(json.loads(json.dumps(sct.to_json()))) == sct
    raw = _sct().encode()
    assert raw[0] == 0 and raw[1:33] == bytes(range(32))
    assert raw[33:41] == (1_700_000_000_123).to_bytes(8, "big")
    assert raw[41:43] == b"\x00\x00" and raw[43:45] == b"\x04\x03"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda j: j.update(sct_version=1),
        lambda j: j.update(sct_version=False),
        lambda j: j.update(timestamp=True),
        lambda j: j.update(timestamp=-1),
        lambda j: j.update(timestamp="1"),
        lambda j: j.update(id=base64.b64encode(b"short").decode()),
        lambda j: j.update(id="!!"),
        lambda j: j.update(signature=base64.b64encode(b"\x04\x03\x00\x09abc").decode()),
        lambda j: j.update(
            signature=base64.b64encode(DigitallySigned(b"s").encode() + b"x").decode()
        ),
        lambda j: j.pop("signature"),
    ],
)
def test_sct_json_is_parsed_strictly(mutate) -> None:
    body = _sct().to_json()
    mutate(body)
    with pytest.raises(CodecError):
        SCT.from_json(body)
    with pytest.raises(CodecError):
        SCT.from_json([body])


def test_truncated_and_trailing_bytes_are_refused() -> None:
    raw = _sct().encode()
    with pytest.raises(CodecError):
        SCT.decode(raw[:-1])
    with pytest.raises(CodecError):
        SCT.decode(raw + b"\x00")
    with pytest.raises(CodecError):
        SCT.decode(b"\x01" + raw[1:])


def test_leaf_list_and_extra_data_round_trip() -> None:
    entry = rfc6962.signed_entry(
        EntryType.PRECERT, issuer_key_hash=b"k" * 32, tbs_certificate=b"tbs"
    )
    leaf = rfc6962.merkle_tree_leaf(42, EntryType.PRECERT, entry, b"ext")
    parsed = rfc6962.parse_merkle_tree_leaf(leaf)
    assert (parsed.timestamp_ms, parsed.entry_type, parsed.signed_entry, parsed.extensions) == (
        42,
        EntryType.PRECERT,
        entry,
        b"ext",
    )
    assert leaf == rfc6962.sct_signature_input(42, EntryType.PRECERT, entry, b"ext")
    x = rfc6962.merkle_tree_leaf(
        7, EntryType.X509, rfc6962.signed_entry(EntryType.X509, cert_der=b"c")
    )
    assert rfc6962.parse_merkle_tree_leaf(x).signed_entry == b"\x00\x00\x01c"
    with pytest.raises(CodecError):
        rfc6962.parse_merkle_tree_leaf(x + b"\x00")
    with pytest.raises(CodecError):
        rfc6962.parse_merkle_tree_leaf(x[:2] + x[2:10] + b"\x00\x05" + x[12:])  # entry type 5
    assert rfc6962.parse_sct_list(rfc6962.sct_list([b"a", b"bc"])) == [b"a", b"bc"]
    extra = rfc6962.precert_extra_data(b"pre", [b"i", b"root"])
    assert rfc6962.parse_extra_data(EntryType.PRECERT, extra) == (b"pre", [b"i", b"root"])
    assert rfc6962.parse_extra_data(EntryType.X509, rfc6962.x509_extra_data([b"i"])) == (
        None,
        [b"i"],
    )
    assert rfc6962.sth_signature_input(5, 6, b"r" * 32)[:2] == b"\x00\x01"
    with pytest.raises(CodecError):
        rfc6962.sth_signature_input(5, 6, b"short")


def _ctfe_keys(trusted_root: dict) -> list:
    return [
        load_der_public_key(base64.b64decode(c["publicKey"]["rawBytes"]))
        for c in trusted_root["ctlogs"]
    ]


def _issuer_for(cert: x509.Certificate, trusted_root: dict) -> x509.Certificate:
    for ca in trusted_root["certificateAuthorities"]:
        for raw in ca["certChain"]["certificates"]:
            candidate = x509.load_der_x509_certificate(base64.b64decode(raw["rawBytes"]))
            if candidate.subject == cert.issuer:
                try:
                    cert.verify_directly_issued_by(candidate)
                except Exception:  # noqa: S112 - try the next CA certificate
                    continue
                return candidate
    raise AssertionError("issuer not in trusted root")


@pytest.mark.parametrize(
    "case,root",
    [
        ("happy-path-v0.3", "public-good/production/trusted_root.json"),
        (
            "bundle-with-sct-with-extensions",
            "bundle-verify/bundle-with-sct-with-extensions/trusted_root.json",
        ),
    ],
)
def test_real_fulcio_certificates_verify_with_our_sct_code(
    vectors: Path, case: str, root: str
) -> None:
    """Known answer: production Fulcio leaves, their SCTs and the real CT log keys."""
    bundle = json.loads((vectors / "bundle-verify" / case / "bundle.sigstore.json").read_text())
    trusted = json.loads((vectors / root).read_text())
    material = bundle["verificationMaterial"]
    raw = (material.get("certificate") or material["x509CertificateChain"]["certificates"][0])[
        "rawBytes"
    ]
    cert = x509.load_der_x509_certificate(base64.b64decode(raw))
    sct = verify_embedded_sct(cert, _issuer_for(cert, trusted), _ctfe_keys(trusted))
    assert embedded_scts(cert) == [sct]
    if case == "bundle-with-sct-with-extensions":
        assert sct.extensions  # static-ct-api leaf_index extension, part of the signed data
    # the DER cut of a real final certificate's SCT list equals pyca's precert TBS
    assert der.remove_extension(
        der.tbs_certificate(cert.public_bytes(Encoding.DER)), der.SCT_LIST_OID_DER
    ) == (cert.tbs_precertificate_bytes)


def test_remove_extension_refuses_what_is_not_there(vectors: Path) -> None:
    bundle = vectors / "bundle-verify" / "happy-path-v0.3" / "bundle.sigstore.json"
    raw = json.loads(bundle.read_text())["verificationMaterial"]["certificate"]["rawBytes"]
    cert_der = base64.b64decode(raw)
    with pytest.raises(CodecError):
        der.precert_tbs(cert_der)  # a final certificate has no poison
    with pytest.raises(CodecError):
        der.tbs_certificate(cert_der + b"\x00")
    with pytest.raises(CodecError):
        der.tbs_certificate(b"\x30\x84\xff\xff\xff\xff")
