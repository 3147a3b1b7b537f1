"""The trust documents, checked with sigstore-python 4.5.1 as the oracle."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from sigstore._internal.rekor.client import RekorClient
from sigstore._internal.rekor.client_v2 import RekorV2Client
from sigstore._internal.trust import KeyringPurpose
from sigstore._utils import key_id
from sigstore.errors import VerificationError as SigstoreVerificationError
from sigstore.models import ClientTrustConfig, SigningConfig, TrustedRoot
from sigstore.sign import SigningContext
from sigstore_models.trustroot import v1 as trustroot_v1

from sceau.client.trust import Authority, LogInstance
from sceau.errors import InputError
from sceau.trust import (
    build_client_trust_config,
    build_signing_config,
    build_trusted_root,
    ca_entry,
    dumps,
    key_details,
    spki_log_id,
    tlog_entry,
    tsa_endpoint,
    tsa_entry,
    write_trust_files,
)
from tests.trust._material import START, Instance

URL = "http://127.0.0.1:8080"


@pytest.fixture(scope="module")
def inst() -> Instance:
    return Instance(URL)


def _trust_config(inst: Instance, *, rekor_v2: bool = True) -> ClientTrustConfig:
    doc = build_client_trust_config(inst.trusted_root(), inst.signing_config(rekor_v2=rekor_v2))
    return ClientTrustConfig.from_json(dumps(doc).decode())


def test_media_types_and_wire_encoding(inst: Instance) -> None:
    tr = inst.trusted_root()
    assert tr["mediaType"] == "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
    v2 = tr["tlogs"][1]
    assert v2["publicKey"]["keyDetails"] == "PKIX_ED25519"
    assert base64.b64decode(v2["logId"]["keyId"]) == inst.rekor_v2_log_id
    assert base64.b64decode(v2["checkpointKeyId"]["keyId"]) == inst.rekor_v2_log_id
    v1 = tr["tlogs"][0]
    assert v1["publicKey"]["keyDetails"] == "PKIX_ECDSA_P256_SHA_256"
    assert base64.b64decode(v1["logId"]["keyId"]) == spki_log_id(inst.rekor_v1_key.public_key())
    assert v1["publicKey"]["validFor"] == {"start": "2026-01-01T00:00:00Z"}
    assert "operator" not in v1
    ca = tr["certificateAuthorities"][0]
    assert ca["subject"] == {"organization": "test.example", "commonName": "test.example root"}
    assert len(ca["certChain"]["certificates"]) == 2
    sc = inst.signing_config()
    assert sc["mediaType"] == "application/vnd.dev.sigstore.signingconfig.v0.2+json"
    assert [(s["url"], s["majorApiVersion"]) for s in sc["rekorTlogUrls"]] == [(URL, 2), (URL, 1)]
    assert sc["tsaUrls"][0]["url"] == URL + "/api/v1/timestamp"
    assert sc["rekorTlogConfig"] == sc["tsaConfig"] == {"selector": "ANY"}
    ctc = build_client_trust_config(tr, sc)
    assert ctc["mediaType"] == "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
    json.dumps(ctc)  # JSON-ready: no bytes, no datetimes


def test_sigstore_python_loads_files(inst: Instance, tmp_path: Path) -> None:
    files = write_trust_files(tmp_path, inst.trusted_root(), inst.signing_config())
    assert sorted(files) == ["signing_config.v0.2.json", "trust_config.json", "trusted_root.json"]
    for name, data in files.items():
        assert (tmp_path / name).read_bytes() == data
    root = TrustedRoot.from_file(str(tmp_path / "trusted_root.json"))
    assert len(root.get_fulcio_certs()) == 2
    (tsa,) = root.get_timestamp_authorities()
    assert len(tsa.certificates(allow_expired=False)) == 2
    SigningConfig.from_file(str(tmp_path / "signing_config.v0.2.json"))
    ClientTrustConfig.from_json((tmp_path / "trust_config.json").read_text())


@pytest.mark.parametrize(
    ("force", "rekor_v2", "client", "path"),
    [
        (None, True, RekorV2Client, "/api/v2"),
        (2, True, RekorV2Client, "/api/v2"),
        (1, True, RekorClient, "/api/v1"),
        (None, False, RekorClient, "/api/v1"),
    ],
)
def test_signing_context_selects_services(
    inst: Instance, force: int | None, rekor_v2: bool, client: type, path: str
) -> None:
    config = _trust_config(inst, rekor_v2=rekor_v2)
    config.force_tlog_version = force  # what `sigstore sign --rekor-version N` sets
    ctx = SigningContext.from_trust_config(config)
    assert isinstance(ctx._rekor, client)
    assert ctx._rekor.url == URL + path
    assert ctx._fulcio.url == URL
    assert [t.url for t in ctx._tsa_clients] == [URL + "/api/v1/timestamp"]
    assert config.signing_config.get_oidc_url() == URL + "/oidc"


def test_forcing_absent_rekor_version_fails(inst: Instance) -> None:
    config = _trust_config(inst, rekor_v2=False)
    config.force_tlog_version = 2
    with pytest.raises(Exception, match="No valid Rekor"):
        config.signing_config  # noqa: B018


def test_keyrings_hold_our_keys(inst: Instance) -> None:
    root = _trust_config(inst).trusted_root
    rekor = root.rekor_keyring(KeyringPurpose.VERIFY)
    ct = root.ct_keyring(KeyringPurpose.SIGN)
    msg = b"checkpoint body\n"
    v1_pub, v2_pub = inst.rekor_v1_key.public_key(), inst.rekor_v2_key.public_key()
    rekor.verify(
        key_id=key_id(v1_pub),
        signature=inst.rekor_v1_key.sign(msg, ec.ECDSA(ec.hashes.SHA256())),
        data=msg,
    )
    rekor.verify(key_id=key_id(v2_pub), signature=inst.rekor_v2_key.sign(msg), data=msg)
    ct.verify(
        key_id=key_id(inst.ct_key.public_key()),
        signature=inst.ct_key.sign(msg, ec.ECDSA(ec.hashes.SHA256())),
        data=msg,
    )
    stranger = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(SigstoreVerificationError):
        rekor.verify(key_id=key_id(stranger.public_key()), signature=stranger.sign(msg), data=msg)
    with pytest.raises(SigstoreVerificationError):  # the Rekor key is not a CT key
        ct.verify(key_id=key_id(v2_pub), signature=inst.rekor_v2_key.sign(msg), data=msg)


def test_rebuilds_the_production_trusted_root(vectors: Path) -> None:
    """Feeding the public root's parts through the builder gives back the same document."""
    original = json.loads((vectors / "public-good/production/trusted_root.json").read_text())

    def when(tr: dict, key: str) -> dt.datetime | None:
        return dt.datetime.fromisoformat(tr[key]) if key in tr else None

    def tlog(t: dict) -> LogInstance:
        pk = t["publicKey"]
        return tlog_entry(
            base_url=t["baseUrl"],
            public_key=base64.b64decode(pk["rawBytes"]),
            log_id=base64.b64decode(t["logId"]["keyId"]),
            valid_from=when(pk["validFor"], "start"),
            valid_until=when(pk["validFor"], "end"),
            key_details=pk["keyDetails"],
        )

    def authority(make: Callable[..., Authority], a: dict) -> Authority:
        return make(
            uri=a["uri"],
            chain=[base64.b64decode(c["rawBytes"]) for c in a["certChain"]["certificates"]],
            valid_from=when(a["validFor"], "start"),
            valid_until=when(a["validFor"], "end"),
            organization=a["subject"]["organization"],
            common_name=a["subject"]["commonName"],
        )

    built = build_trusted_root(
        ca=[authority(ca_entry, a) for a in original["certificateAuthorities"]],
        tlogs=[tlog(t) for t in original["tlogs"]],
        ctlogs=[tlog(t) for t in original["ctlogs"]],
        tsas=[authority(tsa_entry, a) for a in original["timestampAuthorities"]],
    )
    assert trustroot_v1.TrustedRoot.from_json(
        json.dumps(built)
    ) == trustroot_v1.TrustedRoot.from_json(json.dumps(original))
    # Key details derived from the keys agree with what the public root declares.
    for t in original["tlogs"] + original["ctlogs"]:
        assert (
            key_details(base64.b64decode(t["publicKey"]["rawBytes"]))
            == t["publicKey"]["keyDetails"]
        )


def test_key_details_by_key_type() -> None:
    assert key_details(ec.generate_private_key(ec.SECP384R1()).public_key()) == (
        "PKIX_ECDSA_P384_SHA_384"
    )
    assert key_details(ed25519.Ed25519PrivateKey.generate().public_key()) == "PKIX_ED25519"
    rsa_key = rsa.generate_private_key(65537, 2048).public_key()
    assert key_details(rsa_key) == "PKIX_RSA_PKCS1V15_2048_SHA256"
    with pytest.raises(InputError, match="curve"):
        key_details(ec.generate_private_key(ec.SECP256K1()).public_key())
    with pytest.raises(InputError, match="PEM or DER"):
        key_details(b"not a key")


def test_tsa_endpoint() -> None:
    assert tsa_endpoint("https://tsa.example") == "https://tsa.example/api/v1/timestamp"
    assert tsa_endpoint("https://x.example/") == "https://x.example/api/v1/timestamp"
    full = "https://x.example/api/v1/timestamp"
    assert tsa_endpoint(full) == full


def _tlog(**overrides: object) -> LogInstance:
    fields: dict = {
        "base_url": URL,
        "public_key": ec.generate_private_key(ec.SECP256R1()).public_key(),
        "valid_from": START,
    }
    fields.update(overrides)
    return tlog_entry(**fields)


@pytest.mark.parametrize(
    ("tlog", "message"),
    [
        (
            {"public_key": ed25519.Ed25519PrivateKey.generate().public_key()},
            "explicit log_id",
        ),
        ({"log_id": b"short"}, "32 bytes"),
        ({"valid_from": dt.datetime(2026, 1, 1)}, "timezone-aware"),
        ({"valid_until": START - dt.timedelta(days=1)}, "after valid_from"),
        ({"key_details": "PKIX_NO_SUCH_KEY"}, "Sigstore schema"),
    ],
)
def test_trusted_root_refuses_bad_logs(inst: Instance, tlog: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        build_trusted_root(
            ca=[ca_entry(uri=URL, chain=inst.ca_chain, valid_from=START)],
            tlogs=[_tlog(**tlog)],
            ctlogs=[_tlog()],
        )


def test_trusted_root_refuses_missing_parts(inst: Instance) -> None:
    ca = [ca_entry(uri=URL, chain=inst.ca_chain, valid_from=START)]
    with pytest.raises(InputError, match="CT log"):
        build_trusted_root(ca=ca, tlogs=[_tlog()], ctlogs=[])
    with pytest.raises(InputError, match="certificate authority"):
        build_trusted_root(ca=[], tlogs=[_tlog()], ctlogs=[_tlog()])
    with pytest.raises(InputError, match="at least 2"):
        build_trusted_root(
            ca=ca,
            tlogs=[_tlog()],
            ctlogs=[_tlog()],
            tsas=[tsa_entry(uri=URL, chain=inst.tsa_chain[:1], valid_from=START)],
        )
    with pytest.raises(InputError, match=r"X\.509"):
        build_trusted_root(
            ca=[ca_entry(uri=URL, chain=[b"junk"], valid_from=START)],
            tlogs=[_tlog()],
            ctlogs=[_tlog()],
        )


def test_signing_config_refusals() -> None:
    base: dict = {
        "ca_url": URL,
        "oidc_url": None,
        "rekor_v1_url": URL,
        "rekor_v2_url": None,
        "tsa_url": None,
        "valid_from": START,
        "operator": "op",
    }
    doc = build_signing_config(**base)
    assert doc["oidcUrls"] == [] and doc["tsaUrls"] == []
    with pytest.raises(InputError, match="TSA"):
        build_signing_config(**{**base, "rekor_v2_url": URL})
    with pytest.raises(InputError, match="Rekor"):
        build_signing_config(**{**base, "rekor_v1_url": None})
    with pytest.raises(InputError, match="http"):
        build_signing_config(**{**base, "ca_url": "ftp://x"})
    with pytest.raises(InputError, match="operator"):
        build_signing_config(**{**base, "operator": ""})
