"""The witness server speaks C2SP tlog-witness exactly: status codes, bodies, content types,
and a state that moves only forward, only after the proof checks."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from sceau.log.cosigning import add_checkpoint_body
from sceau.note import (
    Checkpoint,
    cosignature_timestamp,
    note_signer,
    open_checkpoint,
    parse_note,
    sign_note,
    verify_note,
)
from sceau.services.witness import build_witness_app
from tests.serving import serve_app
from tests.witness.helpers import RunningWitness, TinyLog, running_witness

pytestmark = pytest.mark.server

ORIGIN = "example.com/log"


@pytest.fixture
def log() -> TinyLog:
    return TinyLog(ORIGIN)


@pytest.fixture
def witness(tmp_path: Path, log: TinyLog) -> Iterator[RunningWitness]:
    with running_witness(tmp_path / "w", "witness.example/w1", [log.vkey]) as w:
        yield w


def post(w: RunningWitness, body: bytes) -> httpx.Response:
    return httpx.post(f"{w.url}/add-checkpoint", content=body, timeout=10)


def stored(w: RunningWitness, origin: str = ORIGIN) -> httpx.Response:
    h = hashlib.sha256(origin.encode()).hexdigest()
    return httpx.get(f"{w.url}/{h}/checkpoint", timeout=10)


def test_first_checkpoint_gets_a_timestamped_cosignature(
    witness: RunningWitness, log: TinyLog
) -> None:
    log.grow(5)
    before = int(time.time())
    r = post(witness, log.request(0))
    assert r.status_code == 200, r.text
    assert r.text.startswith("\u2014 witness.example/w1 ") and r.text.endswith("\n")
    note = verify_note(log.checkpoint() + r.text, [witness.verifier])
    (line,) = note.verified
    assert before <= cosignature_timestamp(line) <= int(time.time())
    # The monitoring path serves the log's signature and ours on that checkpoint.
    got = stored(witness)
    assert got.status_code == 200
    cp = open_checkpoint(got.text, [note_signer(ORIGIN, log.signer).verifier()])
    assert (cp.size, cp.root_hash) == (5, log.root())
    assert verify_note(got.text, [witness.verifier]).verified


def test_growth_with_a_consistency_proof(witness: RunningWitness, log: TinyLog) -> None:
    log.grow(5)
    assert post(witness, log.request(0)).status_code == 200
    for n in (1, 7, 300, 2):  # across tile and power-of-two boundaries
        old = len(log.leaves)
        log.grow(n)
        r = post(witness, log.request(old))
        assert r.status_code == 200, r.text
    assert Checkpoint.parse(parse_note(stored(witness).text).body).size == len(log.leaves)
    # The same checkpoint again (old size = its size): cosigned again.
    assert post(witness, log.request(len(log.leaves))).status_code == 200


def test_a_client_behind_gets_409_with_the_size(witness: RunningWitness, log: TinyLog) -> None:
    log.grow(12)
    assert post(witness, log.request(0)).status_code == 200
    log.grow(8)
    for old in (0, 5, 13):
        r = post(witness, log.request(old))
        assert r.status_code == 409
        assert r.headers["content-type"] == "text/x.tlog.size"
        assert r.text == "12\n"


def test_unknown_origin_is_404(witness: RunningWitness) -> None:
    other = TinyLog("other.example/log")
    other.grow(3)
    assert post(witness, other.request(0)).status_code == 404


def test_bad_signatures_are_403(witness: RunningWitness, log: TinyLog) -> None:
    log.grow(3)
    # Signed by another key under the log's name: no signature from a trusted key.
    impostor = TinyLog(ORIGIN)
    impostor.grow(3)
    assert post(witness, impostor.request(0)).status_code == 403
    # The trusted key's name and ID, a signature that fails.
    text = log.checkpoint()
    head, sig = text.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(sig))
    raw[-1] ^= 1
    forged = head + " " + base64.b64encode(bytes(raw)).decode() + "\n"
    assert post(witness, add_checkpoint_body(0, [], forged)).status_code == 403
    assert stored(witness).status_code == 404  # nothing was recorded


@pytest.mark.parametrize(
    "body",
    [
        b"old 0\n",  # no empty line, no checkpoint
        b"old 01\n\nx\n",  # not canonical
        b"old -1\n\n",
        b"new 0\n\n",
        b"old 0\nnot base64!\n\n",
        b"old 0\n" + b"AAAA\n" + b"\n",  # a proof line that is not 32 bytes
        b"\xff\xfe\n\n",
    ],
)
def test_malformed_bodies_are_400(witness: RunningWitness, body: bytes) -> None:
    assert post(witness, body).status_code == 400


def test_too_many_proof_lines_and_old_above_size_are_400(
    witness: RunningWitness, log: TinyLog
) -> None:
    log.grow(4)
    proof = [bytes(32)] * 64
    assert post(witness, add_checkpoint_body(0, proof, log.checkpoint())).status_code == 400
    assert post(witness, add_checkpoint_body(5, [], log.checkpoint())).status_code == 400


def test_oversized_body_is_413(witness: RunningWitness) -> None:
    assert post(witness, b"old 0\n" + b"A" * 200_000).status_code == 413


def test_422_cases(witness: RunningWitness, log: TinyLog) -> None:
    # Size 0 with a root other than the empty tree's.
    body = Checkpoint(ORIGIN, 0, bytes(32)).body()
    zero = sign_note(body, [note_signer(ORIGIN, log.signer)])
    assert post(witness, add_checkpoint_body(0, [], zero)).status_code == 422
    # A proof from size 0 must be empty.
    log.grow(4)
    assert post(witness, add_checkpoint_body(0, [bytes(32)], log.checkpoint())).status_code == 422
    assert post(witness, log.request(0)).status_code == 200
    log.grow(4)
    # A wrong proof.
    assert (
        post(witness, add_checkpoint_body(4, [bytes(32)] * 3, log.checkpoint())).status_code == 422
    )


def test_a_forked_log_is_never_cosigned(witness: RunningWitness, log: TinyLog) -> None:
    """Two histories under one key: the witness cosigns the first and refuses the other,
    whatever proof the log makes up, and keeps its record."""
    log.grow(10)
    assert post(witness, log.request(0)).status_code == 200
    fork = log.fork()
    fork.grow(10)  # same size, other root
    assert post(witness, fork.request(10)).status_code == 422
    fork.grow(6)
    # The fork's own consistency proof from its size 10 does not lead from the cosigned root.
    r = post(witness, fork.request(10))
    assert r.status_code == 422
    assert "consistency" in r.text
    cp = Checkpoint.parse(parse_note(stored(witness).text).body)
    assert (cp.size, cp.root_hash) == (10, log.root())
    # The honest log still grows.
    log.grow(6)
    assert post(witness, log.request(10)).status_code == 200


def test_concurrent_submissions_never_roll_back(witness: RunningWitness, log: TinyLog) -> None:
    """Many requests from the same old size race: exactly one wins, the rest get 409."""
    log.grow(8)
    assert post(witness, log.request(0)).status_code == 200
    log.grow(12)
    bodies = [log.request(8, 8 + extra) for extra in range(1, 13)]
    with ThreadPoolExecutor(12) as pool:
        codes = sorted(r.status_code for r in pool.map(lambda b: post(witness, b), bodies))
    assert codes.count(200) == 1 and codes.count(409) == 11
    size = Checkpoint.parse(parse_note(stored(witness).text).body).size
    r = post(witness, log.request(size))
    assert r.status_code == 200  # the record is the winner's, exactly


def test_state_survives_a_restart(tmp_path: Path, log: TinyLog) -> None:
    with running_witness(tmp_path / "w", "witness.example/w1", [log.vkey]) as w:
        log.grow(7)
        assert post(w, log.request(0)).status_code == 200
    with serve_app(build_witness_app(tmp_path / "w")) as url:
        log.grow(1)
        r = httpx.post(f"{url}/add-checkpoint", content=log.request(0), timeout=10)
        assert (r.status_code, r.text) == (409, "7\n")
    assert (tmp_path / "w" / "witness.sqlite").stat().st_mode & 0o077 == 0


def test_two_keys_for_one_origin(tmp_path: Path) -> None:
    """A log in key rotation: either key is trusted for the origin."""
    old, new = TinyLog(ORIGIN), TinyLog(ORIGIN)
    with running_witness(tmp_path / "w", "witness.example/w1", [old.vkey, new.vkey]) as w:
        old.grow(2)
        assert post(w, old.request(0)).status_code == 200
        new.leaves = list(old.leaves)
        new.grow(2)
        assert post(w, new.request(2)).status_code == 200


def test_unknown_monitoring_paths_are_404(witness: RunningWitness) -> None:
    assert stored(witness, "never.example/log").status_code == 404
    assert httpx.get(f"{witness.url}/NOTHEX/checkpoint").status_code == 404
