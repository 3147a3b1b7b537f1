"""Real ``git commit -S`` / ``git tag -s`` through ``sceau-git`` against a served instance,
with Rekor v1 and v2; git's own verification, ``sceau git verify`` and its policy; and
every way a signature can be wrong, each a clear message and a BADSIG/ERRSIG for git."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import cms

from sceau.client.git import cms as gcms
from sceau.client.git import tlogpb
from sceau.client.git.objects import parse_object_file
from tests.git.conftest import EMAIL, Repo, configure, make_repo
from tests.git.helpers import (
    commit_with_signature,
    edit_signer_info,
    read,
    set_unsigned,
    write_object,
)
from tests.instance import ServedInstance

pytestmark = [pytest.mark.server, pytest.mark.slow]


@dataclass
class Signed:
    repo: Repo
    instance: ServedInstance
    rekor_version: int
    first: str
    head: str

    @property
    def issuer(self) -> str:
        return self.instance.email_issuer

    def verify(self, *args: str) -> tuple[int, str, str]:
        proc = self.repo.sceau_git("verify", *args)
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode()

    def policy(self, identity: str = EMAIL, issuer: str | None = None) -> list[str]:
        return [
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer or self.issuer,
        ]


@pytest.fixture(scope="module", params=[1, 2], ids=["rekor-v1", "rekor-v2"])
def signed(
    request: pytest.FixtureRequest,
    instance: ServedInstance,
    tmp_path_factory: pytest.TempPathFactory,
) -> Signed:
    """A repository with two signed commits and a signed tag, signed into one log."""
    version = int(request.param)
    repo = make_repo(tmp_path_factory.mktemp(f"git-v{version}"))
    configure(repo, instance, version)
    first = repo.commit("a.txt")
    head = repo.commit("b.txt")
    repo.git("tag", "-s", "v1.0", "-m", "release 1.0")
    return Signed(repo, instance, version, first, head)


def _entry(obj_sig: bytes) -> dict[str, object]:
    parsed = gcms.parse(obj_sig)
    assert parsed.tlog_entry is not None
    return tlogpb.decode_entry(parsed.tlog_entry)


# -- good signatures ---------------------------------------------------------------------


def test_git_commit_and_tag_are_signed_into_the_chosen_log(signed: Signed) -> None:
    for rev in (signed.first, signed.head, "v1.0"):
        obj = read(signed.repo, signed.repo.out("rev-parse", rev))
        assert obj.signature is not None
        assert obj.signature.startswith(b"-----BEGIN SIGNED MESSAGE-----\n")
        entry = _entry(obj.signature)
        version = "0.0.1" if signed.rekor_version == 1 else "0.0.2"
        assert entry["kindVersion"] == {"kind": "hashedrekord", "version": version}
        parsed = gcms.parse(obj.signature)
        # v1: gitsign's form (no body, integrated time); v2: body kept and a TSA token.
        assert ("canonicalizedBody" in entry) == (signed.rekor_version == 2)
        assert len(parsed.timestamp_tokens) == (0 if signed.rekor_version == 1 else 1)


def test_git_verify_commit_tag_and_log_report_good(signed: Signed) -> None:
    repo = signed.repo
    raw = repo.git("verify-commit", "--raw", "HEAD", check=False)
    status = raw.stderr.decode()
    assert raw.returncode == 0, status
    for line in (
        "[GNUPG:] NEWSIG",
        "[GNUPG:] GOODSIG ",
        "[GNUPG:] VALIDSIG ",
        "[GNUPG:] TRUST_FULLY",
    ):
        assert line in status
    tag = repo.git("verify-tag", "v1.0", check=False)
    assert tag.returncode == 0, tag.stderr.decode()
    assert f"sceau-git: Good signature from {EMAIL} ({signed.issuer})" in tag.stderr.decode()
    log = repo.git("log", "--show-signature", "-1").stdout.decode()
    assert f"sceau-git: Good signature from {EMAIL} ({signed.issuer})" in log
    assert repo.out("log", "--format=%G?") == "G\nG"


def test_sceau_git_verify_enforces_identity_and_issuer(signed: Signed) -> None:
    rc, out, err = signed.verify("HEAD", *signed.policy())
    assert rc == 0, err
    assert out.startswith(
        f"OK: commit {signed.head} signed by {EMAIL} ({signed.issuer}), log index "
    )
    rc, out, err = signed.verify(
        "v1.0", *signed.policy(), "--trust-config", str(signed.instance.trust_config)
    )
    assert rc == 0 and out.startswith("OK: tag "), err
    rc, _, err = signed.verify(
        "HEAD", "--certificate-identity-regexp", r".*@example\.com",
        "--certificate-oidc-issuer-regexp", r"http://127\.0\.0\.1:\d+/oidc",
        "--trusted-root", str(signed.instance.trusted_root),
    )  # fmt: skip
    assert rc == 0, err
    rc, _, err = signed.verify("HEAD", *signed.policy(identity="mallory@example.com"))
    assert (rc, err.strip()) == (
        1,
        "error: certificate identity does not match: expected 'mallory@example.com', "
        f"got '{EMAIL}'",
    )
    rc, _, err = signed.verify("HEAD", *signed.policy(issuer="https://accounts.google.com"))
    assert (rc, err.strip()) == (
        1,
        "error: certificate OIDC issuer does not match: expected "
        f"'https://accounts.google.com', got '{signed.issuer}'",
    )
    rc, _, err = signed.verify("HEAD", "--certificate-identity", EMAIL)
    assert rc == 1 and "--certificate-oidc-issuer" in err


def test_git_verify_commit_uses_configured_identity(signed: Signed) -> None:
    repo = signed.repo
    issuer = f"sceau.certificateOidcIssuer={signed.issuer}"
    ok = repo.git("-c", f"sceau.certificateIdentity={EMAIL}", "-c", issuer, "verify-commit", "HEAD")
    assert "identity not checked" not in ok.stderr.decode()
    bad = repo.git("-c", "sceau.certificateIdentity=mallory@example.com", "-c",
                   f"sceau.certificateOidcIssuer={signed.issuer}", "verify-commit", "--raw", "HEAD",
                   check=False)  # fmt: skip
    assert bad.returncode != 0
    assert "[GNUPG:] BADSIG " in bad.stderr.decode()


def test_range_prints_a_table_and_fails_on_unsigned_commits(signed: Signed) -> None:
    repo = signed.repo
    rc, out, err = signed.verify("--range", f"{signed.first}~0..{signed.head}", *signed.policy())
    assert rc == 0, err
    # A rebase without -S: same content on a new parent, no signature; an amend likewise.
    tree = repo.out("rev-parse", f"{signed.head}^{{tree}}")
    rebased = repo.git("commit-tree", tree, "-p", signed.head, "-m", "rebased", "--no-gpg-sign")
    unsigned = rebased.stdout.decode().strip()
    rc, out, err = signed.verify("--range", f"{signed.first}..{unsigned}", *signed.policy())
    lines = out.splitlines()
    assert rc == 1
    assert lines[0].split() == ["COMMIT", "RESULT", "SIGNER", "/", "REASON"]
    assert lines[1].startswith(f"{signed.head}  OK      {EMAIL} ({signed.issuer})")
    assert lines[2] == f"{unsigned}  FAIL    commit {unsigned[:12]} is not signed"
    assert lines[3] == "1 of 2 commit(s) verified"
    rc, _, err = signed.verify(unsigned, *signed.policy())
    assert (rc, err.strip()) == (1, f"error: commit {unsigned[:12]} is not signed")


# -- bad signatures ----------------------------------------------------------------------


def _git_status(repo: Repo, oid: str, kind: str = "commit") -> tuple[int, str, str]:
    raw = repo.git(f"verify-{kind}", "--raw", oid, check=False)
    human = repo.git(f"verify-{kind}", oid, check=False)
    for text in (raw.stderr, human.stderr):
        assert b"Traceback" not in text
    return raw.returncode, raw.stderr.decode(), human.stderr.decode()


def test_tampered_commit_is_badsig(signed: Signed) -> None:
    repo = signed.repo
    obj = read(repo, signed.head)
    assert obj.signature is not None
    forged = commit_with_signature(
        obj.payload.replace(b"add b.txt", b"add evil.txt"), obj.signature
    )
    oid = write_object(repo, "commit", forged)
    rc, status, human = _git_status(repo, oid)
    assert rc != 0 and "[GNUPG:] BADSIG " in status and "GOODSIG" not in status
    assert "sceau-git: BAD signature: the signature is valid but covers other content" in human
    rc, _, err = signed.verify(oid, *signed.policy())
    assert rc == 1 and "covers other content: this commit or tag was changed after signing" in err


def test_amended_commit_keeps_no_signature(signed: Signed, tmp_path: Path) -> None:
    repo = signed.repo
    repo.git("checkout", "-q", "-b", f"amend-{tmp_path.name}", signed.head)
    try:
        repo.git("commit", "-q", "--amend", "--no-gpg-sign", "-m", "amended")
        amended = repo.out("rev-parse", "HEAD")
    finally:
        repo.git("checkout", "-q", "main")
    assert read(repo, amended).signature is None
    rc, _, err = signed.verify(amended, *signed.policy())
    assert (rc, err.strip()) == (1, f"error: commit {amended[:12]} is not signed")
    assert repo.git("verify-commit", amended, check=False).returncode != 0


def test_certificate_from_another_ca_is_errsig(signed: Signed, vectors: Path) -> None:
    public = vectors / "public-good" / "production" / "trusted_root.json"
    # Rekor v2 signatures get their time from our TSA, which that root does not trust
    # either: the verifier stops there (step 1), before the chain (step 2).
    why = (
        "certificate chain does not verify"
        if signed.rekor_version == 1
        else "not enough sources of verified time (RFC 3161 timestamp does not verify"
    )
    rc, _, err = signed.verify("HEAD", *signed.policy(), "--trusted-root", str(public))
    assert rc == 1 and f"error: {why}" in err
    repo = signed.repo
    raw = repo.git(
        "-c", f"sceau.trustedRoot={public}", "verify-commit", "--raw", "HEAD", check=False
    )
    assert raw.returncode != 0 and "[GNUPG:] ERRSIG " in raw.stderr.decode()
    human = repo.git("-c", f"sceau.trustedRoot={public}", "verify-commit", "HEAD", check=False)
    assert f"sceau-git: cannot verify the signature: {why}" in human.stderr.decode()


def _resign(signed: Signed, edit: object) -> str:
    obj = read(signed.repo, signed.head)
    assert obj.signature is not None
    sig = edit_signer_info(obj.signature, edit)  # type: ignore[arg-type]
    return write_object(signed.repo, "commit", commit_with_signature(obj.payload, sig))


def _without_tlog(signer: cms.SignerInfo) -> None:
    keep = [a for a in signer["unsigned_attrs"] if a["type"].dotted != gcms.OID_TLOG_ENTRY]
    set_unsigned(signer, keep)


def _flip_root_hash(signer: cms.SignerInfo) -> None:
    attrs = []
    for a in signer["unsigned_attrs"]:
        if a["type"].dotted == gcms.OID_TLOG_ENTRY:
            entry = tlogpb.decode_entry(a["values"][0].parsed.native)
            root = bytearray(base64.b64decode(entry["inclusionProof"]["rootHash"]))
            root[0] ^= 1
            entry["inclusionProof"]["rootHash"] = base64.b64encode(bytes(root)).decode()
            a = gcms.tlog_attribute(tlogpb.encode_entry(entry, keep_body=True))
        attrs.append(a)
    set_unsigned(signer, attrs)


def _garbage_tlog(signer: cms.SignerInfo) -> None:
    attrs = [a for a in signer["unsigned_attrs"] if a["type"].dotted != gcms.OID_TLOG_ENTRY]
    attrs.append(gcms.tlog_attribute(b"\x0a\xff\xff\xff"))
    set_unsigned(signer, attrs)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_without_tlog, "signature carries no transparency log entry"),
        (_flip_root_hash, "inclusion proof"),
        (_garbage_tlog, "log entry attribute: truncated"),
    ],
    ids=["missing", "wrong-proof", "not-protobuf"],
)
def test_missing_or_corrupted_tlog_attribute_is_errsig(
    signed: Signed, edit: object, message: str
) -> None:
    oid = _resign(signed, edit)
    rc, status, human = _git_status(signed.repo, oid)
    assert rc != 0 and "[GNUPG:] ERRSIG " in status
    assert message in human
    rc, _, err = signed.verify(oid, *signed.policy())
    assert rc == 1 and message in err and len(err.strip().splitlines()) == 1


def test_signature_over_other_content_is_badsig(signed: Signed) -> None:
    """The first commit's signature grafted onto the second commit."""
    repo = signed.repo
    first, head = read(repo, signed.first), read(repo, signed.head)
    assert first.signature is not None
    oid = write_object(repo, "commit", commit_with_signature(head.payload, first.signature))
    rc, status, human = _git_status(repo, oid)
    assert rc != 0 and "[GNUPG:] BADSIG " in status
    assert "covers other content" in human


def test_signature_bytes_tampered_is_badsig(signed: Signed) -> None:
    def flip(signer: cms.SignerInfo) -> None:
        sig = bytearray(signer["signature"].native)
        sig[-1] ^= 1
        signer["signature"] = bytes(sig)

    oid = _resign(signed, flip)
    rc, status, human = _git_status(signed.repo, oid)
    assert rc != 0 and "GOODSIG" not in status
    assert "[GNUPG:] BADSIG " in status or "[GNUPG:] ERRSIG " in status
    assert "sceau-git:" in human


# -- the CMS structure is gitsign's --------------------------------------------------------


def _shape(signature: bytes) -> dict[str, object]:
    info = cms.ContentInfo.load(gcms.dearmor(signature))
    sd = info["content"]
    si = sd["signer_infos"][0]
    tlog = [a for a in si["unsigned_attrs"] if a["type"].dotted == gcms.OID_TLOG_ENTRY]
    entry = tlogpb.decode_entry(tlog[0]["values"][0].parsed.native)
    return {
        "content_type": info["content_type"].dotted,
        "version": sd["version"].native,
        "digest_algorithms": [a.dump() for a in sd["digest_algorithms"]],
        "encap": (
            sd["encap_content_info"]["content_type"].dotted,
            sd["encap_content_info"]["content"].native,
        ),
        "certificates": len(sd["certificates"]),
        "crls": sd["crls"].native,
        "signers": len(sd["signer_infos"]),
        "signer_version": si["version"].native,
        "sid": si["sid"].name,
        "digest_algorithm": si["digest_algorithm"].dump(),
        "signed_attrs": [
            (a["type"].dotted, [v.__class__.__name__ for v in a["values"]])
            for a in si["signed_attrs"]
        ],
        "signing_time": si["signed_attrs"][1]["values"][0].name,
        "signature_algorithm": si["signature_algorithm"].dump(),
        "unsigned_attrs": [a["type"].dotted for a in si["unsigned_attrs"]],
        "tlog_value": tlog[0]["values"][0].parsed.__class__.__name__,
        "tlog_fields": sorted(entry),
        "proof_fields": sorted(entry["inclusionProof"]),  # type: ignore[arg-type]
    }


def test_cms_matches_gitsign_attribute_for_attribute(signed: Signed, vectors: Path) -> None:
    gitsign = parse_object_file((vectors / "git" / "gitsign-v0.17.1.tag").read_bytes())
    ours = read(signed.repo, signed.head)
    assert gitsign.signature is not None and ours.signature is not None
    mine, theirs = _shape(ours.signature), _shape(gitsign.signature)
    if signed.rekor_version == 2:
        # gitsign's offline mode logs to Rekor v1. With v2 the entry keeps its body (a
        # hashedrekord 0.0.2 is not rebuilt) and an RFC 3161 token is the verified time.
        assert mine.pop("unsigned_attrs") == ["1.2.840.113549.1.9.16.2.14", gcms.OID_TLOG_ENTRY]
        assert set(mine.pop("tlog_fields")) - set(theirs.pop("tlog_fields")) == {  # type: ignore[arg-type]
            "canonicalizedBody"
        }
        theirs.pop("unsigned_attrs")
    assert mine == theirs
    # And the message digest is over the same bytes git hands the program.
    parsed = gcms.parse(ours.signature)
    assert parsed.message_digest == hashlib.sha256(ours.payload).digest()


# -- failures reach git as one line, never a traceback ----------------------------------


def test_signing_without_identity_fails_cleanly(instance: ServedInstance, tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    configure(repo, instance)
    repo.git("config", "--unset", "sceau.identityToken")
    (repo.path / "x").write_text("x")
    repo.git("add", "x")
    proc = repo.git("commit", "-S", "-m", "x", check=False)
    err = proc.stderr.decode()
    assert proc.returncode != 0 and "Traceback" not in err
    assert "gpg failed to sign the data" in err
    # git < 2.40 drops the program's stderr on failure; the line it would show (and
    # newer git shows) is this one, from the same invocation git makes:
    direct = repo.sceau_git("--status-fd=2", "-bsau", EMAIL)
    lines = direct.stderr.decode().splitlines()
    assert direct.returncode == 1 and direct.stdout == b""
    assert lines[0] == "[GNUPG:] BEGIN_SIGNING"
    assert lines[1].startswith("sceau-git: error: no identity token") and len(lines) == 2


def test_gpg_mode_bad_input_is_errsig(tmp_path: Path, instance: ServedInstance) -> None:
    repo = make_repo(tmp_path)
    garbage = tmp_path / "sig"
    garbage.write_bytes(
        b"-----BEGIN SIGNED MESSAGE-----\nnot base64!\n-----END SIGNED MESSAGE-----\n"
    )
    for args in (
        ["--status-fd=1", "--verify", str(garbage), "-"],
        ["--status-fd=1", "--verify", str(tmp_path / "missing"), "-"],
        ["--status-fd=1", "--verify", str(garbage)],
    ):
        proc = repo.run(str(Path(__import__("sys").executable).parent / "sceau-git"), *args,
                        input=b"tree x\n", check=False)  # fmt: skip
        assert proc.returncode != 0
        assert b"[GNUPG:] ERRSIG " in proc.stdout
        assert b"Traceback" not in proc.stderr and proc.stderr.startswith(b"sceau-git: ")
