"""sceau.note: C2SP signed notes, checkpoints, cosignature/v1 and vkeys."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from sceau import note
from sceau.keys import generate_signer, load_public_key_pem, spki_der
from sceau.note import (
    Checkpoint,
    NoteError,
    cosignature_timestamp,
    cosignature_verifier,
    format_vkey,
    log_id,
    note_signer,
    note_verifier,
    open_checkpoint,
    parse_note,
    parse_vkey,
    sign_note,
    verify_note,
)

ORIGIN = "log.example.org"
ROOT = hashlib.sha256(b"root").digest()
ALGORITHMS = ["ed25519", "ecdsa-p256", "ecdsa-p384"]


def _raw(pub: ed25519.Ed25519PublicKey) -> bytes:
    return pub.public_bytes_raw()


@pytest.fixture(scope="module")
def signers():
    return {alg: generate_signer(alg) for alg in ALGORITHMS}


def _signed(signer, body: str | None = None, name: str = ORIGIN) -> str:
    body = body or Checkpoint(ORIGIN, 42, ROOT).body()
    return sign_note(body, [note_signer(name, signer)])


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_round_trip(signers, alg):
    signer = signers[alg]
    cp = Checkpoint(ORIGIN, 42, ROOT, ("ext line",))
    text = sign_note(cp.body(), [note_signer(ORIGIN, signer)])
    assert text.startswith(f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode()}\next line\n\n— ")
    assert open_checkpoint(text, [note_verifier(ORIGIN, signer.public_key())]) == cp
    parsed = verify_note(text, [note_verifier(ORIGIN, signer.public_key())])
    assert parsed.body == cp.body()
    assert [s.name for s in parsed.verified] == [ORIGIN]


def test_key_ids_follow_the_c2sp_and_rekor_rules(signers):
    ed = signers["ed25519"].public_key()
    want_ed = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + _raw(ed)).digest()
    assert log_id(ORIGIN, ed) == want_ed
    assert note_signer(ORIGIN, signers["ed25519"]).key_id == want_ed[:4]
    assert note_verifier(ORIGIN, ed).key_id == want_ed[:4]
    for alg in ("ecdsa-p256", "ecdsa-p384"):
        pub = signers[alg].public_key()
        want = hashlib.sha256(spki_der(pub)).digest()
        assert log_id(ORIGIN, pub) == log_id("any.other.name", pub) == want
        assert note_signer(ORIGIN, signers[alg]).key_id == want[:4]
    # The signature line carries key ID ‖ signature.
    text = _signed(signers["ed25519"])
    sig = parse_note(text).signatures[0]
    assert sig.key_id == want_ed[:4] and len(sig.signature) == 64


def test_signature_is_over_the_text_including_its_final_newline(signers):
    signer = signers["ed25519"]
    body = Checkpoint(ORIGIN, 1, ROOT).body()
    sig = parse_note(_signed(signer, body)).signatures[0].signature
    signer.public_key().verify(sig, body.encode())  # raises if not
    # ECDSA P-256 is DER over SHA-256 of the same text (what Rekor v1 logs produce).
    p256 = signers["ecdsa-p256"]
    sig = parse_note(_signed(p256, body)).signatures[0].signature
    p256.public_key().verify(sig, body.encode(), ec.ECDSA(hashes.SHA256()))
    # P-384 uses SHA-384, as the trusted root's PKIX_ECDSA_P384_SHA_384 tells clients.
    p384 = signers["ecdsa-p384"]
    sig = parse_note(_signed(p384, body)).signatures[0].signature
    p384.public_key().verify(sig, body.encode(), ec.ECDSA(hashes.SHA384()))


def test_real_rekor_v1_checkpoint_verifies(vectors):
    """A checkpoint from the public Rekor v1 log, with its real key (oracle: the real log)."""
    bundle = json.loads(
        (vectors / "bundle-verify/happy-path-v0.3/bundle.sigstore.json").read_text()
    )
    root = json.loads((vectors / "public-good/production/trusted_root.json").read_text())
    tlog = next(t for t in root["tlogs"] if t["baseUrl"] == "https://rekor.sigstore.dev")
    pub = load_public_key_pem(base64.b64decode(tlog["publicKey"]["rawBytes"]))
    proof = bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    cp = open_checkpoint(
        proof["checkpoint"]["envelope"], [note_verifier("rekor.sigstore.dev", pub)]
    )
    assert cp.origin == "rekor.sigstore.dev - 2605736670972794746"
    assert cp.size == int(proof["treeSize"])
    assert cp.root_hash == base64.b64decode(proof["rootHash"])
    assert log_id("rekor.sigstore.dev", pub) == base64.b64decode(tlog["logId"]["keyId"])


def test_several_signers_and_unknown_lines_are_ignored(signers):
    body = Checkpoint(ORIGIN, 7, ROOT).body()
    other = generate_signer("ed25519")
    text = sign_note(
        body,
        [note_signer("someone.else", other), note_signer(ORIGIN, signers["ecdsa-p256"])],
    )
    parsed = verify_note(text, [note_verifier(ORIGIN, signers["ecdsa-p256"].public_key())])
    assert len(parsed.signatures) == 2 and [s.name for s in parsed.verified] == [ORIGIN]


def test_same_name_other_key_is_unknown_not_fatal(signers):
    """signed-note: a line sharing the name but not the key ID of a known key is ignored."""
    body = Checkpoint(ORIGIN, 7, ROOT).body()
    stranger = note_signer(ORIGIN, generate_signer("ed25519"))
    text = sign_note(body, [stranger, note_signer(ORIGIN, signers["ed25519"])])
    verify_note(text, [note_verifier(ORIGIN, signers["ed25519"].public_key())])


# --- rejections --------------------------------------------------------------------------


def _sig_lines(text: str) -> str:
    return text.split("\n\n", 1)[1]


def _expect_reject(text: str, verifier, match: str | None = None) -> None:
    with pytest.raises(NoteError, match=match):
        open_checkpoint(text, [verifier])


def test_blank_line_count(signers):
    s = signers["ed25519"]
    v = note_verifier(ORIGIN, s.public_key())
    text = _signed(s)
    body, sigs = text.split("\n\n", 1)
    _expect_reject(body + "\n" + sigs, v, "blank line")  # zero blank lines
    _expect_reject(body + "\n\n\n" + sigs, v, "blank line")  # two blank lines
    _expect_reject(text + "\n", v)  # blank line after the signatures
    _expect_reject(body + "\n\n", v, "no signature")  # no signature lines at all
    _expect_reject(text[:-1], v, "newline")  # missing final newline
    # An empty line inside the text (before the separator) is two blank lines in effect.
    lines = body.split("\n")
    _expect_reject("\n".join([lines[0], "", *lines[1:]]) + "\n\n" + sigs, v)
    with pytest.raises(NoteError):
        sign_note("a\n\nb\n", [note_signer(ORIGIN, s)])


@pytest.mark.parametrize(
    "size",
    ["-1", "+1", " 1", "1 ", "01", "00", "1_0", "0x10", "١٢", "1e3", "", "18446744073709551616"],
)
def test_bad_size(signers, size):
    s = signers["ed25519"]
    body = f"{ORIGIN}\n{size}\n{base64.b64encode(ROOT).decode()}\n"
    if size == "":
        body = f"{ORIGIN}\n\n{base64.b64encode(ROOT).decode()}\n"
    with pytest.raises(NoteError):
        Checkpoint.parse(body)
    if size:  # a correctly signed note with a bad size line is still refused
        _expect_reject(_signed(s, body), note_verifier(ORIGIN, s.public_key()), "size")


def test_good_sizes():
    b64 = base64.b64encode(ROOT).decode()
    assert Checkpoint.parse(f"o\n0\n{b64}\n").size == 0
    assert Checkpoint.parse(f"o\n18446744073709551615\n{b64}\n").size == 2**64 - 1


@pytest.mark.parametrize(
    "root",
    [
        base64.b64encode(ROOT[:31]).decode(),  # 31 bytes
        base64.b64encode(ROOT + b"\0").decode(),  # 33 bytes
        base64.b64encode(ROOT).decode().rstrip("="),  # unpadded
        base64.urlsafe_b64encode(b"\xff" * 32).decode(),  # URL alphabet
        " " + base64.b64encode(ROOT).decode(),
        ROOT.hex(),
        "",
    ],
)
def test_bad_root(signers, root):
    s = signers["ed25519"]
    body = f"{ORIGIN}\n5\n{root}\n"
    with pytest.raises(NoteError):
        Checkpoint.parse(body)
    if root:
        _expect_reject(_signed(s, body), note_verifier(ORIGIN, s.public_key()))


def test_non_canonical_base64_root_is_refused():
    good = base64.b64encode(ROOT).decode()  # 44 chars, one '=' pad: last char has 2 spare bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = good[42]
    twisted = good[:42] + alphabet[alphabet.index(last) ^ 1] + "="
    assert base64.b64decode(twisted) == ROOT  # Python accepts it...
    with pytest.raises(NoteError, match="canonical"):  # ...sceau does not
        Checkpoint.parse(f"o\n1\n{twisted}\n")


def test_checkpoint_needs_three_lines_and_no_empty_extension():
    b64 = base64.b64encode(ROOT).decode()
    for body in ("o\n1\n", f"1\n{b64}\n", f"o\n{b64}\n", f"o\n1\n{b64}\n\n", f"o\n1\n{b64}"):
        with pytest.raises(NoteError):
            Checkpoint.parse(body)


def test_wrong_key(signers):
    text = _signed(signers["ed25519"])
    # Same name, another key: its key ID differs, so the only line is from an unknown key.
    _expect_reject(text, note_verifier(ORIGIN, generate_signer("ed25519").public_key()), "known")
    # ECDSA key IDs ignore the name: same key ID, wrong key → the signature is checked and fails.
    p256 = signers["ecdsa-p256"]
    text = _signed(p256)
    _expect_reject(text, note_verifier("other.name", p256.public_key()), "known")


def test_bad_signature_from_known_key(signers):
    s = signers["ed25519"]
    v = note_verifier(ORIGIN, s.public_key())
    text = _signed(s)
    parsed = parse_note(text)
    sig = parsed.signatures[0]
    bad = bytearray(sig.signature)
    bad[10] ^= 1
    line = note.NoteSignature(sig.name, sig.key_id, bytes(bad)).line()
    _expect_reject(parsed.body + "\n" + line, v, "invalid")
    # Text changed after signing.
    _expect_reject(text.replace("\n42\n", "\n43\n"), v, "invalid")


def test_truncated_signature(signers):
    s = signers["ed25519"]
    v = note_verifier(ORIGIN, s.public_key())
    parsed = parse_note(_signed(s))
    sig = parsed.signatures[0]
    for cut in (63, 32, 1):
        line = note.NoteSignature(sig.name, sig.key_id, sig.signature[:cut]).line()
        _expect_reject(parsed.body + "\n" + line, v)
    # Only a key ID, or less.
    for raw in (sig.key_id, sig.key_id[:3], b""):
        line = f"— {ORIGIN} {base64.b64encode(raw).decode()}\n"
        _expect_reject(parsed.body + "\n" + line, v)
    # Base64 cut mid-quantum.
    b64 = base64.b64encode(sig.key_id + sig.signature).decode()
    _expect_reject(parsed.body + f"\n— {ORIGIN} {b64[:-3]}\n", v, "base64")


def test_unknown_key_only_note_is_rejected(signers):
    text = _signed(generate_signer("ed25519"), name="stranger.example")
    _expect_reject(text, note_verifier(ORIGIN, signers["ed25519"].public_key()), "known")
    with pytest.raises(NoteError):
        verify_note(text, [])


@pytest.mark.parametrize(
    "line",
    [
        "- {name} {sig}",  # ASCII hyphen
        "—{name} {sig}",
        "— {name}  {sig}",
        "— {name} {sig} extra",
        "— {name}\t{sig}",
        "— bad+name {sig}",
        "— bad\u00a0name {sig}",
        "—  {sig}",
    ],
)
def test_malformed_signature_lines(signers, line):
    s = signers["ed25519"]
    parsed = parse_note(_signed(s))
    sig = parsed.signatures[0]
    b64 = base64.b64encode(sig.key_id + sig.signature).decode()
    text = parsed.body + "\n" + line.format(name=ORIGIN, sig=b64) + "\n"
    with pytest.raises(NoteError):
        parse_note(text)


@pytest.mark.parametrize("bad", ["\x00", "\r", "\t", "\x1b", "\ud800"])
def test_control_characters_and_bad_utf8(signers, bad):
    s = signers["ed25519"]
    text = _signed(s).replace(ORIGIN, ORIGIN + bad, 1)
    with pytest.raises(NoteError):
        parse_note(text)
    with pytest.raises(NoteError):
        parse_note(b"o\n1\n\xff\n\n\xe2\x80\x94 o AAAAAAA=\n")
    with pytest.raises(NoteError):
        Checkpoint(ORIGIN + bad, 1, ROOT)


def test_bytes_input_and_size_limits(signers):
    s = signers["ed25519"]
    text = _signed(s)
    v = note_verifier(ORIGIN, s.public_key())
    assert open_checkpoint(text.encode(), [v]).size == 42
    many = text + "".join(f"— n{i} AAAAAAA=\n" for i in range(100))
    with pytest.raises(NoteError, match="signatures"):
        parse_note(many)
    sixteen = text + "".join(f"— n{i} AAAAAAA=\n" for i in range(16))
    assert open_checkpoint(sixteen, [v]).size == 42  # the spec's minimum must be accepted


def test_checkpoint_constructor_validates():
    with pytest.raises(NoteError):
        Checkpoint("", 1, ROOT)
    with pytest.raises(NoteError):
        Checkpoint("o", -1, ROOT)
    with pytest.raises(NoteError):
        Checkpoint("o", True, ROOT)
    with pytest.raises(NoteError):
        Checkpoint("o", 1, ROOT[:31])
    with pytest.raises(NoteError):
        Checkpoint("o\nx", 1, ROOT)
    with pytest.raises(NoteError):
        Checkpoint("o", 1, ROOT, ("",))


def test_bad_names_are_refused(signers):
    for name in ("", "a b", "a+b", "a\u2003b"):
        with pytest.raises(NoteError):
            note_signer(name, signers["ed25519"])
        with pytest.raises(NoteError):
            note_verifier(name, signers["ed25519"].public_key())


# --- cosignatures ------------------------------------------------------------------------


def test_cosignature_sign_verify(signers):
    log = note_signer(ORIGIN, signers["ecdsa-p256"])
    wkey = generate_signer("ed25519")
    witness = note.CosignatureSigner("witness.example/w1", wkey, clock=lambda: 1679315147.9)
    body = Checkpoint(ORIGIN, 20852163, ROOT).body()
    text = sign_note(body, [log, witness])

    wv = cosignature_verifier("witness.example/w1", wkey.public_key())
    want_id = hashlib.sha256(b"witness.example/w1\n\x04" + _raw(wkey.public_key())).digest()[:4]
    assert witness.key_id == wv.key_id == want_id
    lv = note_verifier(ORIGIN, signers["ecdsa-p256"].public_key())
    parsed = verify_note(text, [lv, wv])
    assert [s.name for s in parsed.verified] == [ORIGIN, "witness.example/w1"]
    cosig = parsed.verified[1]
    assert len(cosig.signature) == 72
    assert cosignature_timestamp(cosig) == 1679315147
    # The Ed25519 signature covers "cosignature/v1\ntime <ts>\n" ‖ checkpoint text.
    wkey.public_key().verify(
        cosig.signature[8:], b"cosignature/v1\ntime 1679315147\n" + body.encode()
    )
    # A witness-only verifier set accepts the note too (a witness's view of it).
    assert open_checkpoint(text, [wv]).size == 20852163


def test_cosignature_is_not_a_plain_ed25519_signature(signers):
    wkey = generate_signer("ed25519")
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    text = sign_note(body, [note.CosignatureSigner("w", wkey)])
    # Same name and key as a plain Ed25519 verifier: different type byte → different key ID.
    _expect_reject(text, note_verifier("w", wkey.public_key()), "known")
    # A plain Ed25519 signature presented under the cosignature key ID fails.
    wv = cosignature_verifier("w", wkey.public_key())
    plain = wkey.sign(body.encode())
    line = note.NoteSignature("w", wv.key_id, b"\0" * 8 + plain).line()
    _expect_reject(body + "\n" + line, wv, "invalid")


def test_cosignature_tampering(signers):
    wkey = generate_signer("ed25519")
    wv = cosignature_verifier("w", wkey.public_key())
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    parsed = parse_note(sign_note(body, [note.CosignatureSigner("w", wkey, clock=lambda: 1000)]))
    raw = parsed.signatures[0].signature
    later = (1001).to_bytes(8, "big") + raw[8:]  # timestamp changed: signature no longer covers it
    huge = (2**63).to_bytes(8, "big") + raw[8:]
    for bad in (later, huge, raw[:71], raw + b"\0"):
        line = note.NoteSignature("w", wv.key_id, bad).line()
        _expect_reject(body + "\n" + line, wv)
    with pytest.raises(NoteError):
        cosignature_timestamp(raw[:71])
    with pytest.raises(NoteError):
        cosignature_timestamp(huge)


def test_cosignature_needs_ed25519(signers):
    with pytest.raises(NoteError):
        note.CosignatureSigner("w", signers["ecdsa-p256"])
    with pytest.raises(NoteError):
        cosignature_verifier("w", signers["ecdsa-p256"].public_key())


def test_c2sp_cosignature_example_key_id_shape():
    """The C2SP example line decodes to key ID ‖ u64 timestamp ‖ 64-byte signature."""
    line = (
        "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJs"
        "X3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
    )
    body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    sig = parse_note(body + "\n" + line + "\n").signatures[0]
    assert cosignature_timestamp(sig) == 1679315147  # the spec's "time 1679315147"


# --- vkeys -------------------------------------------------------------------------------


def test_vkey_round_trip(signers):
    ed = signers["ed25519"]
    for verifier in (
        note_verifier(ORIGIN, ed.public_key()),
        cosignature_verifier("witness.example/w1", ed.public_key()),
        note_verifier(ORIGIN, signers["ecdsa-p256"].public_key()),
        note_verifier(ORIGIN, signers["ecdsa-p384"].public_key()),
    ):
        vkey = format_vkey(verifier)
        back = parse_vkey(vkey)
        assert type(back) is type(verifier)
        assert (back.name, back.key_id) == (verifier.name, verifier.key_id)
        assert format_vkey(back) == vkey
    vkey = format_vkey(note_signer(ORIGIN, ed))
    name, hex_id, b64 = vkey.split("+", 2)
    assert (name, hex_id) == (ORIGIN, log_id(ORIGIN, ed.public_key())[:4].hex())
    assert base64.b64decode(b64) == b"\x01" + _raw(ed.public_key())
    # The parsed verifier really checks signatures.
    assert open_checkpoint(_signed(ed), [parse_vkey(vkey)]).size == 42


def test_vkey_known_vector():
    """Go's golang.org/x/mod/sumdb/note documents this vkey for the PeterNeumann example."""
    vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    v = parse_vkey(vkey)
    assert v.name == "PeterNeumann" and v.key_id.hex() == "c74f20a3"
    assert format_vkey(v) == vkey


@pytest.mark.parametrize(
    "mutate",
    [
        lambda v: v.replace("+", "-", 1),
        lambda v: v.split("+", 1)[1],
        lambda v: v + "+extra",
        lambda v: v.replace(v.split("+", 2)[1], "00000000"),
        lambda v: v.replace(v.split("+", 2)[1], v.split("+", 2)[1].upper()),
        lambda v: v.replace(v.split("+", 2)[1], v.split("+", 2)[1][:7]),
        lambda v: "other.name+" + v.split("+", 1)[1],
        lambda v: v[:-4],
        lambda v: v.rsplit("+", 1)[0] + "+" + base64.b64encode(b"\x09" + b"\0" * 32).decode(),
        lambda v: v.rsplit("+", 1)[0] + "+" + base64.b64encode(b"\x01" + b"\0" * 31).decode(),
    ],
)
def test_vkey_rejections(mutate):
    # A fixed key whose key ID has hex letters, so the upper-casing case always mutates it.
    vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    assert parse_vkey(vkey)
    with pytest.raises(NoteError):
        parse_vkey(mutate(vkey))
