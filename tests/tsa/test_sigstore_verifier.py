"""sigstore-python's own timestamp verification accepts our tokens (and only in validFor).

The TSA is put into the public-good trusted root's ``timestampAuthorities`` the way
``sceau init`` will publish it (chain leaf first, ``validFor.start``), and the token goes
through ``Verifier._verify_signed_timestamp``, the function sigstore-python runs for every
RFC 3161 timestamp in a bundle.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from rfc3161_client import TimestampRequestBuilder, decode_timestamp_response
from sigstore.models import TrustedRoot
from sigstore.verify.verifier import Verifier
from sigstore_models.trustroot import v1 as trustroot_v1

from sceau.services.tsa import TimestampAuthority, TSAChain, make_tsa_chain

pytestmark = pytest.mark.interop

SIG = b"0E signature bytes"


def _rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _verifier(vectors: Path, chain: TSAChain, start: dt.datetime) -> Verifier:
    root = json.loads((vectors / "public-good/production/trusted_root.json").read_text())
    der = [c.public_bytes(serialization.Encoding.DER) for c in chain.chain]
    root["timestampAuthorities"] = [
        {
            "subject": {"organization": "sceau", "commonName": "sceau timestamping"},
            "uri": "http://127.0.0.1:8080/api/v1/timestamp",
            "certChain": {
                "certificates": [{"rawBytes": base64.b64encode(d).decode()} for d in der]
            },
            "validFor": {"start": _rfc3339(start)},
        }
    ]
    inner = trustroot_v1.TrustedRoot.from_json(json.dumps(root))
    return Verifier(trusted_root=TrustedRoot(inner))


def _token(tsa: TimestampAuthority, signature: bytes = SIG):
    request = TimestampRequestBuilder().data(signature).build()
    return decode_timestamp_response(tsa.respond(request.as_bytes()))


def test_sigstore_python_accepts_token(
    vectors: Path, tsa: TimestampAuthority, tsa_chain: TSAChain
) -> None:
    verifier = _verifier(vectors, tsa_chain, tsa_chain.leaf.not_valid_before_utc)
    response = _token(tsa)
    result = verifier._verify_signed_timestamp(response, SIG)
    assert result is not None
    assert result.time == response.tst_info.gen_time
    # The wrong message, or a TSA the trusted root does not know: no verified time.
    assert verifier._verify_signed_timestamp(response, SIG + b"x") is None
    stranger = make_tsa_chain()
    other = TimestampAuthority(stranger.leaf_signer, stranger.chain)
    assert verifier._verify_signed_timestamp(_token(other), SIG) is None


def test_gen_time_outside_valid_for(vectors: Path, tsa_chain: TSAChain) -> None:
    """A genTime before the TSA's validFor.start yields no verified time."""
    start = dt.datetime.now(dt.UTC).replace(microsecond=0)
    verifier = _verifier(vectors, tsa_chain, start)
    early = TimestampAuthority(
        tsa_chain.leaf_signer, tsa_chain.chain, clock=lambda: start - dt.timedelta(seconds=2)
    )
    assert verifier._verify_signed_timestamp(_token(early), SIG) is None
    on_time = TimestampAuthority(tsa_chain.leaf_signer, tsa_chain.chain, clock=lambda: start)
    assert verifier._verify_signed_timestamp(_token(on_time), SIG) is not None
