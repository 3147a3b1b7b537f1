"""``sceau log`` on what the public-good Rekor answers, replayed by a local HTTP server:
the recorded ``/api/v1/log`` answer (tests/vectors/rekor-public-good) and, for entries, a
public-good bundle's entry in Rekor v1's answer shape. The trusted root is public-good's
own: logs are recognised by their keys, so the replay at another URL verifies as the log
itself would — the keys and signatures are real."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sceau.cli.main import main

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
PRODUCTION_ROOT = VECTORS / "public-good" / "production" / "trusted_root.json"
LOG_INFO = json.loads((VECTORS / "rekor-public-good" / "log-info.json").read_text())
BUNDLE = json.loads(
    (VECTORS / "bundle-verify" / "happy-path-v0.3" / "bundle.sigstore.json").read_text()
)


def v1_answer(entry: dict[str, Any]) -> dict[str, Any]:
    """A bundle's tlog entry in Rekor v1's ``GET /api/v1/log/entries`` shape (hex hashes)."""
    proof = entry["inclusionProof"]
    return {
        "body": entry["canonicalizedBody"],
        "integratedTime": int(entry["integratedTime"]),
        "logID": base64.b64decode(entry["logId"]["keyId"]).hex(),
        "logIndex": int(entry["logIndex"]),
        "verification": {
            "inclusionProof": {
                "checkpoint": proof["checkpoint"]["envelope"],
                "hashes": [base64.b64decode(h).hex() for h in proof["hashes"]],
                "logIndex": int(proof["logIndex"]),
                "rootHash": base64.b64decode(proof["rootHash"]).hex(),
                "treeSize": int(proof["treeSize"]),
            },
            "signedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
        },
    }


def uuid(entry: dict[str, Any]) -> str:
    """Rekor v1's entry UUID: a tree ID (8 bytes, hex) and the leaf hash."""
    from sceau.merkle import leaf_hash

    return "108e9186e8c5677a" + leaf_hash(base64.b64decode(entry["canonicalizedBody"])).hex()


class Replay:
    """A real HTTP server answering from a path → JSON table."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}
        table = self.answers

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = table.get(self.path)
                data = json.dumps(body if body is not None else {"message": "not found"})
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(data.encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def replay() -> Iterator[Replay]:
    r = Replay()
    entry = BUNDLE["verificationMaterial"]["tlogEntries"][0]
    r.answers["/api/v1/log"] = LOG_INFO
    r.answers[f"/api/v1/log/entries?logIndex={entry['logIndex']}"] = {uuid(entry): v1_answer(entry)}
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()


@pytest.fixture
def trusted_root() -> Path:
    return PRODUCTION_ROOT


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(list(args))
    out = capsys.readouterr().out
    return code, (json.loads(out) if code == 0 else {})


def test_info_verifies_the_public_good_signed_tree_head(
    replay: Replay, trusted_root: Path, capsys: pytest.CaptureFixture[str], monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("SCEAU_STATE_DIR", str(tmp_path))
    code, doc = _run(capsys, "log", "info", "--rekor-url", replay.url,
                     "--trusted-root", str(trusted_root), "--output", "json")  # fmt: skip
    assert code == 0
    assert doc["verified"] is True
    assert doc["tree_size"] == LOG_INFO["treeSize"] == 266676745
    assert doc["root_hash"] == LOG_INFO["rootHash"]
    assert doc["origin"] == "rekor.sigstore.dev - 1193050959916656506"


def test_a_tampered_tree_head_is_refused(
    replay: Replay, trusted_root: Path, capsys: pytest.CaptureFixture[str], monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("SCEAU_STATE_DIR", str(tmp_path))
    forged = LOG_INFO["signedTreeHead"].replace("266676745", "266676746")
    replay.answers["/api/v1/log"] = {**LOG_INFO, "signedTreeHead": forged}
    assert (
        main(["log", "info", "--rekor-url", replay.url, "--trusted-root", str(trusted_root)]) == 1
    )
    assert "checkpoint does not verify" in capsys.readouterr().err


def test_get_verifies_a_public_good_entry(
    replay: Replay, trusted_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Global index (sharded log) vs tree index, the inclusion proof and the SET, all
    checked with public-good's keys."""
    entry = BUNDLE["verificationMaterial"]["tlogEntries"][0]
    code, doc = _run(capsys, "log", "get", "--rekor-url", replay.url, "--index",
                     entry["logIndex"], "--trusted-root", str(trusted_root),
                     "--output", "json")  # fmt: skip
    assert code == 0
    assert doc["index"] == int(entry["logIndex"]) == 79571823
    assert doc["verified"] is True and doc["body"]["kind"] == "hashedrekord"
    assert doc["uuid"] == uuid(entry)
    # A changed body no longer matches its inclusion proof.
    answer = v1_answer(entry)
    body = json.loads(base64.b64decode(answer["body"]))
    body["spec"]["data"]["hash"]["value"] = "00" * 32
    answer["body"] = base64.b64encode(json.dumps(body).encode()).decode()
    replay.answers[f"/api/v1/log/entries?logIndex={entry['logIndex']}"] = {uuid(entry): answer}
    assert main(["log", "get", "--rekor-url", replay.url, "--index", entry["logIndex"],
                 "--trusted-root", str(trusted_root)]) == 1  # fmt: skip
    assert "inclusion proof does not verify" in capsys.readouterr().err
