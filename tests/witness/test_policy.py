"""C2SP tlog-policy files: parsed strictly, quorums evaluated through groups, and checked
against a real cosigned checkpoint (sigstage's Rekor v2, cosigned by three public witnesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sceau.client.errors import LogEntryError
from sceau.client.witness_policy import PolicyError, parse_policy
from sceau.keys import generate_signer
from sceau.note import cosignature_signer, format_vkey, note_signer, parse_vkey, verify_note

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "bundle-verify"
CASE = VECTORS / "rekor2-dsse-happy-path"  # sigstore-conformance (tests/vectors/README.md)
BEACON = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
# The public keys of the log and of the three witnesses whose lines that checkpoint carries,
# as their operators publish them (the witness network's testing witnesses: Geomys, Mullvad,
# TrustFabric; the log key as given in florolf/tilepecker's README). Every line verifying
# under them is the check that they are the right keys.
SIGSTAGE_LOG = (
    "log2025-alpha3.rekor.sigstage.dev+d3d3a70c+AZQ93VXPMmj9uZj7U/7CefQ9yy8RgYFv6mKzOseipjqp"
)
GEOMYS = "witness.navigli.sunlight.geomys.org+a3e00fe2+BNy/co4C1Hn1p+INwJrfUlgz7W55dSZReusH/GhUhJ/G"
MULLVAD = "witness.stagemole.eu+67f7aea0+BEqSG3yu9YrmcM3BHvQYTxwFj3uSWakQepafafpUqklv"
TRUSTFABRIC = (
    "staging.witness.transparency.goog/ring-any-bells+2e1a8dc9+"
    "BG5JTpLc3FJtwzgh1Uv+Qelz9qeOH2bfWjS1s0s+y4rL"
)


def _witness_vkey(name: str) -> str:
    return format_vkey(cosignature_signer(name, generate_signer("ed25519")))


def _log_vkey(name: str = "example.com/log") -> str:
    return format_vkey(note_signer(name, generate_signer("ed25519")))


def _sigstage_note():
    bundle = json.loads((CASE / "bundle.sigstore.json").read_text())
    envelope = bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]
    keys = [SIGSTAGE_LOG, GEOMYS, MULLVAD, TRUSTFABRIC]
    return verify_note(envelope["envelope"], [parse_vkey(k) for k in keys])


def _sigstage_policy(extra: str = "", group: str = "group g all geomys mullvad tf") -> str:
    return (
        f"log {SIGSTAGE_LOG}\nwitness geomys {GEOMYS}\nwitness mullvad {MULLVAD} "
        f"https://witness.stagemole.eu\nwitness tf {TRUSTFABRIC}\n{extra}{group}\nquorum g\n"
    )


def test_the_specs_two_level_example_shape() -> None:
    x = [_witness_vkey(f"x{i}.example") for i in range(3)]
    y = [_witness_vkey(f"y{i}.example") for i in range(3)]
    text = f"""
# comments and blank lines are ignored
log {_log_vkey()}

witness X1 {x[0]}
witness X2 {x[1]}
\twitness   X3 {x[2]}  https://x3.example/
group X-witnesses 2 X1 X2 X3

witness Y1 {y[0]}
witness Y2 {y[1]}
witness Y3 {y[2]}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
"""
    policy = parse_policy(text.encode())
    assert policy.describe() == "2 of [2 of [X1, X2, X3], 1 of [Y1, Y2, Y3]]"
    assert policy.witnessed("X-and-Y", {"X1", "X3", "Y2"})
    assert not policy.witnessed("X-and-Y", {"X1", "Y1", "Y2", "Y3"})
    assert not policy.witnessed("X-and-Y", {"X1", "X2"})
    assert len(policy.logs) == 1 and len(policy.verifiers()) == 6


def test_quorum_none_needs_no_cosignature() -> None:
    policy = parse_policy(b"quorum none\n")
    assert policy.witnessed(policy.quorum, set())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no quorum line"),
        ("quorum none\nquorum none\n", "a second quorum line"),
        ("quorum w1\n", "not defined on an earlier line"),
        ("group g any w1\nwitness w1 {w}\nquorum g\n", "not defined on an earlier line"),
        ("witness w1 {w}\nwitness w1 {w2}\nquorum w1\n", "already defined"),
        ("witness none {w}\nquorum none\n", "already defined"),
        ("witness w1 {w}\nwitness w2 {w}\nquorum w1\n", "duplicate key"),
        ("witness w1 {w}\ngroup g 2 w1\nquorum g\n", "threshold must be"),
        ("witness w1 {w}\ngroup g 0 w1\nquorum g\n", "threshold must be"),
        ("witness w1 {w}\ngroup g 01 w1\nquorum g\n", "threshold must be"),
        ("witness w1 {w}\ngroup g any w1 w1\nquorum g\n", "member twice"),
        ("witness w1 {w}\ngroup g any none\nquorum g\n", "not defined"),
        ("witness w1 {log}\nquorum w1\n", "not a cosignature/v1 witness key"),
        ("log {w}\nquorum none\n", "witness cosignature key, not a log key"),
        ("log {log}\nlog {log}\nquorum none\n", "duplicate key"),
        ("witness w1\nquorum none\n", "expected 'witness <name> <vkey>"),
        ("logs {log}\nquorum none\n", "unknown keyword"),
        ("quorum none\x0b\n", "control character"),
    ],
)
def test_malformed_policies(text: str, message: str) -> None:
    filled = text.format(w=_witness_vkey("w.example"), w2=_witness_vkey("w2.example"),
                         log=_log_vkey())  # fmt: skip
    with pytest.raises(PolicyError, match=message):
        parse_policy(filled.encode(), "p")


def test_names_are_opaque_octets() -> None:
    """'K' and the Kelvin sign are different names (the spec's example)."""
    text = f"witness K {_witness_vkey('a.example')}\nwitness \u212a {_witness_vkey('b.example')}\n"
    policy = parse_policy((text + "group g all K \u212a\nquorum g\n").encode())
    assert len(policy.witnesses) == 2


def test_real_cosigned_checkpoint_meets_quorums() -> None:
    note = _sigstage_note()
    assert len(note.verified) == 4  # the log and the three witnesses
    policy = parse_policy(_sigstage_policy().encode())
    assert set(policy.check(note)) == {"geomys", "mullvad", "tf"}
    policy.check_log(parse_vkey(SIGSTAGE_LOG))
    two = parse_policy(_sigstage_policy(group="group g 2 geomys tf").encode())
    assert len(two.check(note)) == 3  # every valid cosigner is reported, 2 were needed


def test_real_checkpoint_misses_a_quorum_that_wants_a_fourth_witness() -> None:
    note = _sigstage_note()
    absent = f"witness other {_witness_vkey('witness.example/other')}\n"
    policy = parse_policy(_sigstage_policy(absent, "group g all geomys mullvad tf other").encode())
    with pytest.raises(LogEntryError, match=r"3 valid witness cosignature\(s\)"):
        policy.check(note)


def test_sceau_verify_a_real_bundle_with_a_witness_policy(tmp_path: Path) -> None:
    """The whole bundle (sigstage Rekor v2, staging trust root) verifies with the policy
    requiring all three public witnesses, and fails when a fourth is required."""
    argv = [
        sys.executable, "-m", "sceau", "verify-attestation", str(VECTORS / "a.txt"),
        "--bundle", str(CASE / "bundle.sigstore.json"),
        "--trusted-root", str(CASE / "trusted_root.json"),
        "--certificate-identity", BEACON,
        "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com",
        "--witness-policy",
    ]  # fmt: skip
    good = tmp_path / "good.policy"
    good.write_text(_sigstage_policy())
    r = subprocess.run([*argv, str(good)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    bad = tmp_path / "bad.policy"
    absent = f"witness other {_witness_vkey('witness.example/other')}\n"
    bad.write_text(_sigstage_policy(absent, "group g all geomys mullvad tf other"))
    r = subprocess.run([*argv, str(bad)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "do not meet the witness policy's quorum" in r.stderr
