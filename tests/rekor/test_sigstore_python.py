"""sigstore-python is the judge: its own Rekor clients write to this server over HTTP, its
parsers read the responses, and its tlog-entry verification (inclusion proof, signed
checkpoint, SET, entry-body consistency) accepts them — for v1 and v2 entries."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import time
from pathlib import Path

import pytest
import rekor_types
from cryptography.hazmat.primitives.asymmetric import ec
from rfc3161_client import decode_timestamp_response
from sigstore import dsse
from sigstore._internal.rekor.client import RekorClient
from sigstore._internal.rekor.client_v2 import RekorV2Client
from sigstore._internal.trust import KeyringPurpose
from sigstore.errors import VerificationError
from sigstore.hashes import Hashed
from sigstore.models import Bundle, TransparencyLogEntry, TrustedRoot
from sigstore.verify.verifier import (
    TimestampSource,
    Verifier,
    _validate_dsse_v001_entry_body,
    _validate_hashedrekord_v001_entry_body,
    _validate_hashedrekord_v002_dsse_entry_body,
    _validate_hashedrekord_v002_entry_body,
)
from sigstore_models.common.v1 import HashAlgorithm, MessageSignature
from sigstore_models.rekor.v1 import TransparencyLogEntry as TransparencyLogEntryModel
from sigstore_models.trustroot import v1 as trustroot_v1

from sceau.note import log_id
from sceau.trust.trusted_root import build_trusted_root, ca_entry, tlog_entry
from tests.rekor import helpers as h
from tests.rekor.conftest import Server

pytestmark = [pytest.mark.server, pytest.mark.interop]

PAST = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def trusted_root(rekor: Server) -> TrustedRoot:
    v2_id = log_id(rekor.host, rekor.v2_key.public_key())
    doc = build_trusted_root(
        ca=[ca_entry(uri="http://ca.invalid", chain=[h.CA_CERT], valid_from=PAST)],
        tlogs=[
            tlog_entry(base_url=rekor.url, public_key=rekor.v1_key.public_key(), valid_from=PAST),
            tlog_entry(
                base_url=rekor.url,
                public_key=rekor.v2_key.public_key(),
                valid_from=PAST,
                log_id=v2_id,
                checkpoint_key_id=v2_id,
            ),
        ],
        ctlogs=[
            tlog_entry(
                base_url="http://ct.invalid",
                public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
                valid_from=PAST,
            )
        ],
    )
    return TrustedRoot(trustroot_v1.TrustedRoot.from_json(json.dumps(doc)))


def _hashed(artifact: bytes) -> Hashed:
    return Hashed(algorithm=HashAlgorithm.SHA2_256, digest=hashlib.sha256(artifact).digest())


def _reparse(bundle: Bundle) -> Bundle:
    """Through JSON and back: the strict bundle parser must accept what we produced."""
    return Bundle.from_json(bundle.to_json())


def _tsa_token(vectors: Path):
    """A real RFC 3161 response, only so that a Rekor v2 bundle is well-formed (a v2 entry
    has no integrated time); the time itself is not what these tests check."""
    raw = json.loads(
        (vectors / "bundle-verify" / "rekor2-happy-path" / "bundle.sigstore.json").read_text()
    )
    ts = raw["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
    return decode_timestamp_response(base64.b64decode(ts["signedTimestamp"]))


def test_v1_hashedrekord(rekor: Server, trusted_root: TrustedRoot) -> None:
    client = RekorClient(rekor.url)
    artifact = os.urandom(64)
    cert, key = h.leaf()
    hashed = _hashed(artifact)
    sig = h.sign_digest(key, hashed.digest)
    entry = client.create_entry(client._build_hashed_rekord_request(hashed, sig, cert))
    assert entry._inner.log_index >= 1
    assert entry._inner.integrated_time > 0

    bundle = _reparse(
        Bundle._from_parts(cert, MessageSignature(signature=base64.b64encode(sig)), entry)
    )
    keyring = trusted_root.rekor_keyring(KeyringPurpose.VERIFY)
    times = Verifier(trusted_root=trusted_root)._establish_time(bundle)
    assert [t.source for t in times] == [TimestampSource.TRANSPARENCY_SERVICE]
    assert abs(times[0].time.timestamp() - time.time()) < 60
    bundle.log_entry._verify(keyring)  # inclusion proof, checkpoint, SET
    _validate_hashedrekord_v001_entry_body(bundle, hashed)
    with pytest.raises(VerificationError):
        _validate_hashedrekord_v001_entry_body(bundle, _hashed(b"other artifact"))

    # The same entry read back through the client's other v1 paths.
    uuid = merkle_uuid(bundle.log_entry)
    keyring = trusted_root.rekor_keyring(KeyringPurpose.VERIFY)
    for again in (
        client.log.entries.get(uuid=uuid),
        client.log.entries.get(log_index=entry._inner.log_index),
    ):
        assert again._inner.canonicalized_body == entry._inner.canonicalized_body
        assert again._inner.log_index == entry._inner.log_index
        again._verify(keyring)  # proof to the newer checkpoint, fresh SET
    expected = rekor_types.Hashedrekord.model_validate_json(entry._inner.canonicalized_body)
    found = client.log.entries.retrieve.post(expected)
    assert found is not None and found._inner.log_index == entry._inner.log_index
    info = client.log.get()
    assert info.tree_size > entry._inner.log_index
    assert info.tree_id == str(rekor.service.v1.tree_id)


def merkle_uuid(entry: TransparencyLogEntry) -> str:
    return hashlib.sha256(b"\0" + entry._inner.canonicalized_body).hexdigest()


def test_v1_tampered_set_is_refused(rekor: Server, trusted_root: TrustedRoot) -> None:
    request, _, _, _ = h.hashedrekord_v1()
    value = rekor.client.post("/api/v1/log/entries", json=request).json()
    ((entry_id, anon),) = value.items()
    anon["integratedTime"] += 1  # the SET no longer covers this time
    entry = TransparencyLogEntry._from_v1_response({entry_id: anon})
    with pytest.raises(VerificationError, match="SET"):
        entry._verify(trusted_root.rekor_keyring(KeyringPurpose.VERIFY))


def test_v1_dsse(rekor: Server, trusted_root: TrustedRoot) -> None:
    client = RekorClient(rekor.url)
    cert, key = h.leaf()
    stmt = dsse.Statement(h.statement(os.urandom(32).hex()))
    envelope = dsse._sign(key, stmt)
    entry = client.create_entry(client._build_dsse_request(envelope, cert))
    assert entry._inner.kind_version.kind == "dsse"
    bundle = _reparse(Bundle._from_parts(cert, envelope, entry))
    bundle.log_entry._verify(trusted_root.rekor_keyring(KeyringPurpose.VERIFY))
    _validate_dsse_v001_entry_body(bundle)


def test_v2_hashedrekord(rekor: Server, trusted_root: TrustedRoot, vectors: Path) -> None:
    client = RekorV2Client(rekor.url)
    artifact = os.urandom(64)
    cert, key = h.leaf()
    hashed = _hashed(artifact)
    sig = h.sign_digest(key, hashed.digest)
    entry = client.create_entry(client._build_hashed_rekord_request(hashed, sig, cert))
    assert entry._inner.log_index >= 1
    assert entry._inner.kind_version.version == "0.0.2"

    bundle = _reparse(
        Bundle._from_parts(
            cert,
            MessageSignature(signature=base64.b64encode(sig)),
            entry,
            signed_timestamp=[_tsa_token(vectors)],
        )
    )
    bundle.log_entry._verify(trusted_root.rekor_keyring(KeyringPurpose.VERIFY))
    _validate_hashedrekord_v002_entry_body(bundle, hashed)
    with pytest.raises(VerificationError):
        _validate_hashedrekord_v002_entry_body(bundle, _hashed(b"other artifact"))


def test_v2_dsse_as_hashedrekord_over_pae(
    rekor: Server, trusted_root: TrustedRoot, vectors: Path
) -> None:
    client = RekorV2Client(rekor.url)
    cert, key = h.leaf()
    envelope = dsse._sign(key, dsse.Statement(h.statement(os.urandom(32).hex())))
    entry = client.create_entry(client._build_dsse_request(envelope, cert))
    bundle = _reparse(
        Bundle._from_parts(cert, envelope, entry, signed_timestamp=[_tsa_token(vectors)])
    )
    bundle.log_entry._verify(trusted_root.rekor_keyring(KeyringPurpose.VERIFY))
    _validate_hashedrekord_v002_dsse_entry_body(bundle)


def test_v2_checkpoint_from_another_key_is_refused(
    rekor: Server, trusted_root: TrustedRoot, vectors: Path
) -> None:
    """A v2 entry verified against a trusted root that lacks the v2 key must fail: the
    positive tests above are not vacuous."""
    value = rekor.client.post("/api/v2/log/entries", json=h.hashedrekord_v2()[0]).json()
    entry = TransparencyLogEntry(TransparencyLogEntryModel.from_dict(value))
    doc = json.loads(trusted_root._inner.to_json())
    doc["tlogs"] = doc["tlogs"][:1]  # v1 key only
    v1_only = TrustedRoot(trustroot_v1.TrustedRoot.from_json(json.dumps(doc)))
    with pytest.raises(VerificationError):
        entry._verify(v1_only.rekor_keyring(KeyringPurpose.VERIFY))
    entry._verify(trusted_root.rekor_keyring(KeyringPurpose.VERIFY))
