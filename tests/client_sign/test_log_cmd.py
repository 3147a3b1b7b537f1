"""``sceau log …`` (rekor-cli's questions) against a running instance, both Rekor APIs:
every answer is checked, and a log that forks or shrinks is caught."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.client_sign.conftest import EMAIL, Instance, one_error_line

pytestmark = pytest.mark.server


def _sign(instance: Instance, artifact: Path, version: int, email: str = EMAIL) -> Path:
    out = artifact.with_name(artifact.name + f".v{version}.sigstore.json")
    r = instance.run(
        "sign", str(artifact), "--bundle", str(out), "--trust-config", str(instance.trust_config),
        "--identity-token", instance.token(email), "--rekor-version", str(version), "--overwrite",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out


def _log(instance: Instance, *args: str, state: Path | None = None) -> dict:  # type: ignore[type-arg]
    extra = {"SCEAU_STATE_DIR": str(state)} if state else {}
    r = instance.run("log", *args, "--instance-dir", str(instance.dir), "--output", "json", **extra)
    assert r.returncode == 0, r.stderr
    doc: dict = json.loads(r.stdout)  # type: ignore[type-arg]
    return doc


@pytest.mark.parametrize("version", [1, 2])
def test_info_reports_the_verified_checkpoint(
    instance: Instance, artifact: Path, version: int, tmp_path: Path
) -> None:
    _sign(instance, artifact, version)
    v = str(version)
    doc = _log(instance, "info", "--rekor-version", v, state=tmp_path)
    assert doc["verified"] is True and doc["api_version"] == version
    assert doc["tree_size"] >= 2 and len(bytes.fromhex(doc["root_hash"])) == 32
    assert doc["consistent_with_previous"] is None  # first sight
    _sign(instance, artifact, version)
    again = _log(instance, "info", "--rekor-version", v, state=tmp_path)
    assert again["tree_size"] > doc["tree_size"]
    assert again["consistent_with_previous"] == doc["tree_size"]  # proven to have only grown
    text = instance.run("log", "info", "--instance-dir", str(instance.dir), "--rekor-version", v,
                        SCEAU_STATE_DIR=str(tmp_path))  # fmt: skip
    assert (
        "checkpoint: verified" in text.stdout and f"tree size:  {again['tree_size']}" in text.stdout
    )


@pytest.mark.parametrize("version", [1, 2])
def test_info_catches_a_log_that_is_not_what_it_was(
    instance: Instance, version: int, tmp_path: Path
) -> None:
    """A remembered checkpoint the log cannot prove it extends (a rewritten history, as
    if the log had served another tree before) is an error, and so is a shrunk log."""
    _log(instance, "info", "--rekor-version", str(version), state=tmp_path)
    (state_file,) = (tmp_path / "logs").iterdir()
    doc = json.loads(state_file.read_text())
    forged = {**doc, "size": doc["size"] - 1, "root": "ab" * 32}
    state_file.write_text(json.dumps(forged))
    r = instance.run("log", "info", "--instance-dir", str(instance.dir),
                     "--rekor-version", str(version), SCEAU_STATE_DIR=str(tmp_path))  # fmt: skip
    one_error_line(r, "forked or rewrote history")
    state_file.write_text(json.dumps({**doc, "size": doc["size"] + 100}))
    r = instance.run("log", "info", "--instance-dir", str(instance.dir),
                     "--rekor-version", str(version), SCEAU_STATE_DIR=str(tmp_path))  # fmt: skip
    one_error_line(r, "the log shrank")


def test_get_and_search_rekor_v1(instance: Instance, artifact: Path) -> None:
    bundle = json.loads(_sign(instance, artifact, 1, "getter@example.com").read_text())
    index = int(bundle["verificationMaterial"]["tlogEntries"][0]["logIndex"])
    found = _log(instance, "search", "--email", "getter@example.com")["uuids"]
    assert len(found) == 1
    (uuid,) = found
    by_hash = _log(instance, "search", "--artifact", str(artifact))["uuids"]
    assert by_hash == [uuid]
    by_uuid = _log(instance, "get", "--uuid", uuid)
    by_index = _log(instance, "get", "--index", str(index))
    for doc in (by_uuid, by_index):
        assert doc["uuid"] == uuid and doc["index"] == index and doc["verified"] is True
        assert doc["body"]["kind"] == "hashedrekord"
        recorded = doc["transparency_log_entry"]["canonicalizedBody"]
        assert recorded == bundle["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"]
    # The certificate's public key finds the same entry.
    cert = base64.b64decode(bundle["verificationMaterial"]["certificate"]["rawBytes"])
    pem = artifact.with_suffix(".pem")
    pem.write_text(
        "-----BEGIN CERTIFICATE-----\n"
        + base64.encodebytes(cert).decode()
        + "-----END CERTIFICATE-----\n"
    )
    assert _log(instance, "search", "--public-key", str(pem))["uuids"] == [uuid]


def test_get_and_search_rekor_v2(instance: Instance, artifact: Path) -> None:
    bundle = json.loads(_sign(instance, artifact, 2, "getter2@example.com").read_text())
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    found = _log(instance, "search", "--rekor-version", "2", "--email", "getter2@example.com")
    assert found == {"indexes": [entry["logIndex"]]}
    doc = _log(instance, "get", "--rekor-version", "2", "--index", entry["logIndex"])
    assert doc["index"] == int(entry["logIndex"]) and doc["verified"] is True
    assert doc["body"]["kind"] == "hashedrekord" and doc["body"]["apiVersion"] == "0.0.2"
    assert doc["uuid"] is None


@pytest.mark.parametrize("version", [1, 2])
def test_verify_is_online_inclusion_and_consistency(
    instance: Instance, artifact: Path, version: int
) -> None:
    bundle = _sign(instance, artifact, version)
    doc = _log(instance, "verify", "--bundle", str(bundle), "--artifact", str(artifact))
    assert doc["included"] is True and doc["consistent"] is True
    other = artifact.with_name("other.txt")
    other.write_text("not it")
    r = instance.run("log", "verify", "--bundle", str(bundle), "--artifact", str(other),
                     "--instance-dir", str(instance.dir))  # fmt: skip
    one_error_line(r, "is not the artifact the log entry records")


@pytest.mark.parametrize("version", [1, 2])
def test_verify_catches_a_checkpoint_from_a_fork(
    instance: Instance, artifact: Path, version: int
) -> None:
    """A bundle whose checkpoint is properly signed by the log's key but commits to a tree
    the log cannot extend to its current one — the split view a log could show one victim —
    passes offline verification and fails ``sceau log verify``."""
    from sceau import merkle, note
    from sceau.config import InstanceConfig
    from sceau.instance.material import Material

    path = _sign(instance, artifact, version)
    doc = json.loads(path.read_text())
    entry = doc["verificationMaterial"]["tlogEntries"][0]
    proof = entry["inclusionProof"]
    hashes = [base64.b64decode(h) for h in proof["hashes"]]
    assert hashes, "the tree has more than one leaf"
    hashes[-1] = bytes(32)  # another history under the same entry
    index, size = int(proof["logIndex"]), int(proof["treeSize"])
    leaf = merkle.leaf_hash(base64.b64decode(entry["canonicalizedBody"]))
    root = merkle.root_from_inclusion_proof(index, size, leaf, hashes)
    old = note.parse_note(proof["checkpoint"]["envelope"])
    origin = note.Checkpoint.parse(old.body).origin
    signer = Material.load(InstanceConfig.load(instance.dir)).signer(f"rekor-v{version}")
    host = instance.url.removeprefix("http://")
    body = note.Checkpoint(origin, size, root).body()
    proof["hashes"] = [base64.b64encode(h).decode() for h in hashes]
    proof["rootHash"] = base64.b64encode(root).decode()
    proof["checkpoint"]["envelope"] = note.sign_note(body, [note.note_signer(host, signer)])
    forked = path.with_name("forked.json")
    forked.write_text(json.dumps(doc))
    # Offline, the forked bundle is self-consistent …
    ok = instance.run(
        "bundle", "inspect", str(forked), "--trust-config", str(instance.trust_config)
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # … online, the log cannot prove its tree extends that checkpoint.
    r = instance.run("log", "verify", "--bundle", str(forked), "--instance-dir", str(instance.dir))
    one_error_line(r, "not consistent", "forked or rewrote history")


def test_consistency(instance: Instance, artifact: Path, tmp_path: Path) -> None:
    _sign(instance, artifact, 2)
    first = _log(instance, "info", "--rekor-version", "2", state=tmp_path)
    _sign(instance, artifact, 2)
    _sign(instance, artifact, 2)
    doc = _log(instance, "consistency", "--rekor-version", "2", "--from", str(first["tree_size"]))
    assert doc["verified"] is True and doc["from_root"] == first["root_hash"]
    # Rekor v1 cannot say an old root: the caller gives it, or the proof stays unverified.
    v1 = _log(instance, "info", state=tmp_path)
    _sign(instance, artifact, 1)
    unverified = _log(instance, "consistency", "--from", str(v1["tree_size"]))
    assert unverified["verified"] is None and unverified["hashes"]
    verified = _log(instance, "consistency", "--from", str(v1["tree_size"]),
                    "--from-root", v1["root_hash"])  # fmt: skip
    assert verified["verified"] is True
    r = instance.run("log", "consistency", "--from", str(v1["tree_size"]), "--from-root",
                     "cd" * 32, "--instance-dir", str(instance.dir))  # fmt: skip
    one_error_line(r, "not consistent")


def test_bad_queries_are_one_line_errors(instance: Instance) -> None:
    d = ("--instance-dir", str(instance.dir))
    one_error_line(instance.run("log", "get", "--uuid", "zz", *d), "hex entry UUID")
    one_error_line(instance.run("log", "get", "--index", "999999", *d), "no entry at logIndex")
    one_error_line(instance.run("log", "get", "--rekor-version", "2", "--uuid", "ab", *d),
                   "use --index")  # fmt: skip
    one_error_line(instance.run("log", "search", "--sha256", "xyz", *d), "64 hex digits")
    one_error_line(instance.run("log", "search", *d), "give --email")
    one_error_line(instance.run("log", "consistency", "--from", "0", *d), "0 < from")
    one_error_line(
        instance.run("log", "info", "--rekor-url", "http://127.0.0.1:9"), "cannot reach the log"
    )
    one_error_line(instance.run("log", "info", *d, "--trusted-root", str(instance.trusted_root)),
                   "drop the trust option")  # fmt: skip


def test_a_log_the_trust_root_does_not_name_is_unverified(instance: Instance) -> None:
    """Without a trusted root naming the log (the default is public-good's), answers are
    shown, marked unverified — never as verified."""
    r = instance.run("log", "info", "--rekor-url", instance.url, "--output", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["verified"] is None
    r = instance.run("log", "info", "--rekor-url", instance.url)
    assert "unverified (log not in trust root)" in r.stdout
