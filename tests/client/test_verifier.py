"""The library API: ``Verifier.verify_artifact`` / ``verify_dsse`` and what they return,
witness cosignature requirements, and tampering caught by the right step."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sceau import note as notes
from sceau.client import Digest, Identity, TrustedRoot, Verifier
from sceau.client.bundle import Bundle
from sceau.client.errors import BundleError, LogEntryError, SignatureError, TimestampError
from sceau.client.tlog import _open_checkpoint
from sceau.client.trust import LogInstance
from sceau.client.witness import Witness
from sceau.keys import generate_signer
from tests.client.cases import BV, DEFAULT_IDENTITY, DEFAULT_ISSUER

POLICY = Identity(DEFAULT_IDENTITY, DEFAULT_ISSUER)
A_TXT = BV / "a.txt"


def _case(name: str) -> tuple[bytes, Verifier]:
    d = BV / name
    tr = d / "trusted_root.json"
    root = TrustedRoot.from_json(tr.read_bytes()) if tr.exists() else TrustedRoot.production()
    return (d / "bundle.sigstore.json").read_bytes(), Verifier(root)


@pytest.mark.parametrize("form", ["bytes", "path", "digest", "bundle-object"])
def test_verify_artifact_inputs(form: str) -> None:
    data, verifier = _case("happy-path-v0.3")
    artifact = {
        "bytes": A_TXT.read_bytes(),
        "path": A_TXT,
        "digest": Digest.parse("sha256:" + Digest.of_bytes(A_TXT.read_bytes()).hex),
        "bundle-object": A_TXT,
    }[form]
    bundle = Bundle.from_json(data) if form == "bundle-object" else data
    result = verifier.verify_artifact(bundle, artifact, POLICY)
    assert result.identity == DEFAULT_IDENTITY and result.issuer == DEFAULT_ISSUER
    assert [t.source for t in result.verified_times] == ["rekor-integrated-time"]
    assert result.log.log.base_url == "https://rekor.sigstore.dev"
    assert result.log.promise_verified
    assert "artifact signature (SHA-256 prehash)" in result.checks


def test_rekor_v2_result() -> None:
    data, verifier = _case("rekor2-happy-path")
    result = verifier.verify_artifact(data, A_TXT, POLICY)
    assert [t.source for t in result.verified_times] == ["rfc3161"]
    assert not result.log.promise_verified
    assert result.bundle.tlog_entry.integrated_time == 0


def test_verify_dsse() -> None:
    data, verifier = _case("rekor2-dsse-happy-path")
    payload_type, payload = verifier.verify_dsse(data, POLICY)
    assert payload_type == "application/vnd.in-toto+json"
    statement = json.loads(payload)
    assert statement["subject"][0]["name"] == "a.txt"
    # The artifact must be a subject of the statement.
    result = verifier.verify_artifact(data, A_TXT, POLICY)
    assert result.statement == statement
    with pytest.raises(SignatureError, match="not a subject"):
        verifier.verify_artifact(data, b"something else", POLICY)


def test_verify_dsse_needs_envelope() -> None:
    data, verifier = _case("happy-path-v0.3")
    with pytest.raises(BundleError, match="no DSSE envelope"):
        verifier.verify_dsse(data, POLICY)


def test_tampered_artifact_bytes() -> None:
    data, verifier = _case("happy-path-v0.1")
    with pytest.raises(SignatureError, match="digest does not match"):
        verifier.verify_artifact(data, A_TXT.read_bytes() + b"x", POLICY)
    # Without the bundle's own digest, the signature check itself catches it.
    doc = json.loads(data)
    doc["messageSignature"].pop("messageDigest")
    with pytest.raises(SignatureError, match="artifact signature does not verify"):
        verifier.verify_artifact(json.dumps(doc), A_TXT.read_bytes() + b"x", POLICY)


def test_timestamp_limits() -> None:
    data, verifier = _case("rekor2-happy-path")
    doc = json.loads(data)
    tvd = doc["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
    doc["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"] = tvd * 2
    with pytest.raises(TimestampError, match="duplicate"):
        verifier.verify_artifact(json.dumps(doc), A_TXT, POLICY)


def test_unknown_witness_required() -> None:
    """A cosigned checkpoint whose witness key we do not have fails once witnesses are required."""
    data, _ = _case("rekor2-checkpoint-cosigned")
    root = TrustedRoot.from_json(
        (BV / "rekor2-checkpoint-cosigned" / "trusted_root.json").read_bytes()
    )
    Verifier(root).verify_artifact(data, A_TXT, POLICY)  # ignored without witnesses
    witness_key = generate_signer("ed25519").public_key()
    strict = Verifier(root, witnesses=[("witness.example", witness_key)])
    with pytest.raises(LogEntryError, match="0 valid witness cosignature"):
        strict.verify_artifact(data, A_TXT, POLICY)


def _synthetic_log(name: str = "log.example.test"):
    signer = generate_signer("ed25519")
    log = LogInstance(
        base_url=f"https://{name}",
        log_id=notes.log_id(name, signer.public_key()),
        checkpoint_key_id=None,
        key_details="PKIX_ED25519",
        public_key=signer.public_key(),
        valid_for=None,
    )
    return name, signer, log


def test_witness_cosignatures() -> None:
    name, signer, log = _synthetic_log()
    w1, w2 = generate_signer("ed25519"), generate_signer("ed25519")
    body = notes.Checkpoint(name, 5, b"\x01" * 32).body()
    text = notes.sign_note(
        body, [notes.note_signer(name, signer), notes.cosignature_signer("w1.example", w1)]
    )
    cp, cosigned = _open_checkpoint(text, log, (), 0)
    assert cp.size == 5 and cosigned == ()
    witnesses = (Witness("w1.example", w1.public_key()), Witness("w2.example", w2.public_key()))
    _, cosigned = _open_checkpoint(text, log, witnesses, 1)
    assert cosigned == ("w1.example",)
    with pytest.raises(LogEntryError, match="1 valid witness cosignature"):
        _open_checkpoint(text, log, witnesses, 0)  # 0 = all configured witnesses


def test_checkpoint_must_be_signed_by_the_log() -> None:
    name, signer, log = _synthetic_log()
    other = generate_signer("ed25519")
    body = notes.Checkpoint(name, 5, b"\x01" * 32).body()
    # Signed under the right name by the wrong key: the key ID differs, the line is unknown.
    text = notes.sign_note(body, [notes.note_signer(name, other)])
    with pytest.raises(LogEntryError, match="checkpoint does not verify"):
        _open_checkpoint(text, log, (), 0)
    # Signed by the right key under another name (the signer name is not signed for v1
    # ECDSA keys, but must still be the log's host for sigstore-js): refused.
    text = notes.sign_note(body, [notes.note_signer("other.example", signer)])
    with pytest.raises(LogEntryError):
        _open_checkpoint(text, log, (), 0)


def test_result_times_are_aware() -> None:
    data, verifier = _case("happy-path-v0.3")
    result = verifier.verify_artifact(data, A_TXT, POLICY)
    t = result.verified_times[0].time
    assert t.tzinfo is not None and t < datetime.now(UTC)


def test_managed_key(tmp_path: Path) -> None:
    from sceau.client import PublicKey

    data, verifier = _case("managed-key-happy-path")
    key = PublicKey((BV / "managed-key-happy-path" / "key.pub").read_bytes())
    result = verifier.verify_artifact(data, A_TXT, key)
    assert result.certificate is None and result.identity is None
    other = PublicKey(generate_signer("ecdsa-p256").public_key())
    with pytest.raises(SignatureError):
        verifier.verify_artifact(data, A_TXT, other)
    doc = json.loads(data)
    assert base64.b64decode(doc["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"])


def test_chain_with_root_is_refused() -> None:
    """protobuf-specs: a bundle's x509CertificateChain MUST NOT carry a root CA."""
    data, verifier = _case("happy-path-v0.1")
    doc = json.loads(data)
    certs = doc["verificationMaterial"]["x509CertificateChain"]["certificates"]
    root = TrustedRoot.production().certificate_authorities[-1].chain
    from cryptography.hazmat.primitives.serialization import Encoding

    # The intermediate is tolerated (ignored for path building, as sigstore-python does)…
    with_intermediate = json.loads(data)
    with_intermediate["verificationMaterial"]["x509CertificateChain"]["certificates"] = [
        certs[0],
        {"rawBytes": base64.b64encode(root[0].public_bytes(Encoding.DER)).decode()},
    ]
    verifier.verify_artifact(json.dumps(with_intermediate), A_TXT, POLICY)
    # …the self-signed root is not.
    certs.append({"rawBytes": base64.b64encode(root[-1].public_bytes(Encoding.DER)).decode()})
    with pytest.raises(BundleError, match="root CA"):
        verifier.verify_artifact(json.dumps(doc), A_TXT, POLICY)


def test_certificate_cache_and_threads() -> None:
    """Cached chains give the same answers, and one Verifier serves many threads."""
    from concurrent.futures import ThreadPoolExecutor

    data, verifier = _case("happy-path-v0.3")
    first = verifier.verify_artifact(data, A_TXT, POLICY)
    again = verifier.verify_artifact(data, A_TXT, POLICY)  # chain + SCT from the cache
    assert first.checks == again.checks
    # The policy is still applied to a cached certificate.
    with pytest.raises(Exception, match="identity does not match"):
        verifier.verify_artifact(data, A_TXT, Identity("x@example.com", DEFAULT_ISSUER))
    small = Verifier(TrustedRoot.production(), certificate_cache=1)
    cases = [_case(n)[0] for n in ("happy-path-v0.1", "happy-path-v0.3", "happy-path-v0.1")]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda d: small.verify_artifact(d, A_TXT, POLICY), cases * 4))
    assert len(results) == 12 and len(small._chains) <= 1


def test_set_payload_is_jcs() -> None:
    import rfc8785

    from sceau.client.tlog import set_payload

    entry = Bundle.from_json(_case("happy-path-v0.3")[0]).tlog_entry
    expected = rfc8785.dumps({
        "body": base64.b64encode(entry.canonicalized_body).decode(),
        "integratedTime": entry.integrated_time,
        "logID": entry.log_id.hex(),
        "logIndex": entry.log_index,
    })  # fmt: skip
    assert set_payload(entry) == expected
