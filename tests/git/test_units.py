"""The pure parts: the protobuf codec, splitting objects, the CMS parser's refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from sceau.client.errors import BundleError
from sceau.client.git import cms as gcms
from sceau.client.git import tlogpb
from sceau.client.git.objects import parse_object_file, split_commit, split_tag


def _vector_entry(vectors: Path) -> bytes:
    obj = parse_object_file((vectors / "git" / "gitsign-v0.17.1.tag").read_bytes())
    assert obj.signature is not None
    parsed = gcms.parse(obj.signature)
    assert parsed.tlog_entry is not None
    return parsed.tlog_entry


def test_protobuf_round_trip_is_byte_exact_on_gitsign_bytes(vectors: Path) -> None:
    raw = _vector_entry(vectors)
    entry = tlogpb.decode_entry(raw)
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.1"}
    assert entry["logIndex"] == "2283146946"
    assert tlogpb.encode_entry(entry, keep_body=False) == raw


@pytest.mark.parametrize("cut", [1, 5, 40, 200])
def test_truncated_protobuf_is_refused(vectors: Path, cut: int) -> None:
    raw = _vector_entry(vectors)
    with pytest.raises(BundleError, match="log entry attribute"):
        tlogpb.decode_entry(raw[:-cut] if cut < len(raw) else raw[:1])


def test_oversized_protobuf_is_refused() -> None:
    with pytest.raises(BundleError, match="limit"):
        tlogpb.decode_entry(b"\x00" * (tlogpb.MAX_SIZE + 1))


def test_split_commit_removes_exactly_the_gpgsig_header() -> None:
    raw = (
        b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
        b"author A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n"
        b"gpgsig -----BEGIN SIGNED MESSAGE-----\n AAAA\n -----END SIGNED MESSAGE-----\n"
        b"\nmessage\n\nbody\n"
    )
    obj = split_commit(raw)
    assert obj.payload == (
        b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
        b"author A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\nmessage\n\nbody\n"
    )
    assert obj.signature == (
        b"-----BEGIN SIGNED MESSAGE-----\nAAAA\n-----END SIGNED MESSAGE-----\n"
    )


def test_split_tag_and_unsigned_objects() -> None:
    tag = b"object aa\ntype commit\ntag v1\ntagger A <a@x> 1 +0000\n\nv1\n"
    sig = b"-----BEGIN SIGNED MESSAGE-----\nAAAA\n-----END SIGNED MESSAGE-----\n"
    assert split_tag(tag + sig).payload == tag
    assert split_tag(tag + sig).signature == sig
    assert split_tag(tag).signature is None
    assert split_commit(b"tree x\n\nmsg\n").signature is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"-----BEGIN PGP SIGNATURE-----\nx\n-----END PGP SIGNATURE-----\n", "OpenPGP"),
        (b"-----BEGIN SIGNED MESSAGE-----\n!!\n-----END SIGNED MESSAGE-----\n", "base64"),
        (b"\x30\x03\x02\x01\x01", "not a valid CMS SignedData"),
        (b"x" * (gcms.MAX_SIGNATURE + 1), "limit"),
    ],
)
def test_malformed_signatures_are_one_line_errors(data: bytes, message: str) -> None:
    with pytest.raises(BundleError, match=message) as e:
        gcms.parse(data)
    assert "\n" not in e.value.message
