"""``sceau monitor`` against a running sceau: sigstore-python signs as a watched and an
unwatched identity on Rekor v1 and Rekor v2; exactly the watched one is reported, on both
Rekor logs and on the CT log (its certificates); a second run reports nothing new."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.monitor.conftest import (
    UNWATCHED,
    WATCHED,
    Instance,
    Run,
    monitor,
    sha256_file,
    write_watch,
)

pytestmark = [pytest.mark.interop, pytest.mark.server, pytest.mark.slow]


@pytest.fixture(scope="module")
def scenario(instance: Instance, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """First monitor run (from now), then four signatures, then two more monitor runs."""
    work = tmp_path_factory.mktemp("scenario")
    watch = write_watch(work / "watch.toml", f'identities = ["{WATCHED}"]\n')
    state = work / "state"
    first = monitor(instance.trusted_root, watch, state)
    signed = {}
    for email in (WATCHED, UNWATCHED):
        for rekor in (1, 2):
            artifact = work / f"{email}-{rekor}.txt"
            artifact.write_text(f"signed by {email} on Rekor v{rekor}\n")
            signed[(email, rekor)] = (artifact, instance.sign(email, rekor, artifact))
    second = monitor(instance.trusted_root, watch, state)
    third = monitor(instance.trusted_root, watch, state)
    return {"first": first, "second": second, "third": third, "signed": signed, "work": work}


def _ok(run: Run, code: int) -> None:
    assert run.code == code, f"exit {run.code}\n--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}"


def test_first_run_starts_from_now(scenario: dict) -> None:
    _ok(scenario["first"], 0)
    assert scenario["first"].stdout == ""


def test_watched_identity_is_reported_on_rekor_v1_v2_and_ct(
    scenario: dict, instance: Instance
) -> None:
    run = scenario["second"]
    _ok(run, 1)
    by_type: dict[str, list[dict]] = {}
    for m in run.matches:
        by_type.setdefault(m["log_type"], []).append(m)
    assert sorted(by_type) == ["ct", "rekor-v1", "rekor-v2"]
    for rekor, log_type in ((1, "rekor-v1"), (2, "rekor-v2")):
        artifact, bundle = scenario["signed"][(WATCHED, rekor)]
        (match,) = by_type[log_type]
        (entry,) = bundle["verificationMaterial"]["tlogEntries"]
        assert match["index"] == int(entry["logIndex"])
        assert match["identity"] == WATCHED
        assert match["issuer"] == f"{instance.url}/oidc"
        assert match["artifact_digest"] == sha256_file(artifact)
        assert match["log"] == instance.url
        assert match["rules"] == ["identities"]
        # The entry URL serves the very entry that was matched.
        answer = httpx.get(match["entry_url"], timeout=10)
        assert answer.status_code == 200
        served = answer.json()
        if rekor == 1:
            (served,) = served.values()
            assert served["body"] == entry["canonicalizedBody"]
        else:
            assert served["canonicalizedBody"] == entry["canonicalizedBody"]
    # Each signature had its own certificate, logged (as a precertificate) in CT.
    assert len(by_type["ct"]) == 2
    for match in by_type["ct"]:
        assert match["identity"] == WATCHED
        assert match["issuer"] == f"{instance.url}/oidc"
        assert match["kind"] == "precert"


def test_unwatched_identity_is_not_reported(scenario: dict) -> None:
    assert all(m["identity"] != UNWATCHED for m in scenario["second"].matches)
    assert all(UNWATCHED not in m["identities"] for m in scenario["second"].matches)


def test_second_run_reports_nothing_new(scenario: dict) -> None:
    _ok(scenario["third"], 0)
    assert scenario["third"].stdout == ""


def test_state_is_written_per_log(scenario: dict) -> None:
    files = sorted(p.name.split("-")[0] for p in (scenario["work"] / "state").glob("*.json"))
    assert files == ["ct", "rekor", "rekor"]


def test_catch_up_from_index_zero_with_regexps(
    scenario: dict, instance: Instance, tmp_path: Path
) -> None:
    """A new monitor that starts at entry 0 finds the same entries through regexps."""
    watch = write_watch(tmp_path / "w.toml", 'identity_regexps = ["^alice@example\\\\.com$"]\n')
    run = monitor(instance.trusted_root, watch, tmp_path / "state", "--from-index", "0")
    _ok(run, 1)
    expected = {(m["log_type"], m["index"]) for m in scenario["second"].matches}
    assert {(m["log_type"], m["index"]) for m in run.matches} == expected
    assert all(m["rules"] == ["identity_regexps"] for m in run.matches)


def test_any_entry_audits_everything_and_logs_subset(instance: Instance, tmp_path: Path) -> None:
    watch = write_watch(tmp_path / "w.toml", "any_entry = true\n")
    run = monitor(
        instance.trusted_root, watch, tmp_path / "s", "--from-index", "0", "--log", "rekor-v2",
        "--progress",
    )  # fmt: skip
    _ok(run, 1)
    size = int(httpx.get(f"{instance.url}/api/v2/checkpoint").text.split("\n")[1])
    # Every entry of the Rekor v2 log, the genesis leaf (an unknown kind) included.
    assert [m["index"] for m in run.matches] == list(range(size))
    assert {m["log_type"] for m in run.matches} == {"rekor-v2"}
    # The progress bar went to stderr, ending on the whole count.
    assert run.stderr.endswith(f"rekor-v2 {instance.url} [{'#' * 30}] {size}/{size}\n")


def test_issuer_and_key_fingerprint_rules(
    scenario: dict, instance: Instance, tmp_path: Path
) -> None:
    _, bundle = scenario["signed"][(UNWATCHED, 2)]
    cert = x509.load_der_x509_certificate(
        base64.b64decode(bundle["verificationMaterial"]["certificate"]["rawBytes"])
    )
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    fingerprint = "sha256:" + hashlib.sha256(spki).hexdigest()
    watch = write_watch(tmp_path / "w.toml", f'key_fingerprints = ["{fingerprint}"]\n')
    run = monitor(instance.trusted_root, watch, tmp_path / "s", "--from-index", "0")
    _ok(run, 1)
    assert {m["identity"] for m in run.matches} == {UNWATCHED}
    # sigstore-python reuses one ephemeral key per process: its certificate in CT and its
    # Rekor v2 entry share the fingerprint.
    assert {m["log_type"] for m in run.matches} >= {"rekor-v2", "ct"}
    watch = write_watch(tmp_path / "i.toml", f'issuers = ["{instance.url}/oidc"]\n')
    run = monitor(instance.trusted_root, watch, tmp_path / "s2", "--from-index", "0")
    _ok(run, 1)
    assert {m["identity"] for m in run.matches} == {WATCHED, UNWATCHED}


def test_ct_through_its_rfc6962_api(scenario: dict, instance: Instance, tmp_path: Path) -> None:
    """The CT log read through get-sth / get-entries / get-proof-by-hash (the path for CT
    logs without tiles) gives the same matches as its tiles, and proves the same tree."""
    from dataclasses import replace

    from cryptography.hazmat.primitives.asymmetric import ec

    from sceau.client.trust import load_trusted_root
    from sceau.monitor.errors import LogAlarm
    from sceau.monitor.logs import targets
    from sceau.monitor.rfc6962 import RFC6962Source
    from sceau.monitor.run import run_pass
    from sceau.monitor.sources import Http
    from sceau.monitor.watch import parse_watch

    (target,) = targets(load_trusted_root(instance.trusted_root), ("ct",))
    watch = parse_watch({"identities": [WATCHED]})
    http = Http()
    try:
        source = RFC6962Source(http, target.base_url)
        result = run_pass(target, source, tmp_path / "all", watch, from_index=0)
        tiles = {m["index"] for m in scenario["second"].matches if m["log_type"] == "ct"}
        assert {m["index"] for m in result.matches} == tiles
        # A first run from now: the compact range from the last leaf's audit path.
        now = run_pass(target, source, tmp_path / "now", watch)
        assert (now.scanned, now.matches) == (0, [])
        assert now.state is not None and result.state is not None
        assert now.state.root_hash == result.state.root_hash
        # A tree head signed by another key is the alarm.
        other = replace(target, public_key=ec.generate_private_key(ec.SECP256R1()).public_key())
        with pytest.raises(LogAlarm, match="signed tree head does not verify"):
            run_pass(other, source, tmp_path / "bad", watch)
    finally:
        http.close()
