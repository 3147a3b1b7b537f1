"""Building git objects and CMS signatures by hand, to tamper with them."""

from __future__ import annotations

from collections.abc import Callable

from asn1crypto import cms

from sceau.client.git import cms as gcms
from sceau.client.git.objects import SignedObject, parse_object_file
from tests.git.conftest import Repo


def commit_with_signature(payload: bytes, signature: bytes) -> bytes:
    """A commit object: ``payload`` with ``signature`` as its gpgsig header."""
    head, sep, message = payload.partition(b"\n\n")
    lines = signature.rstrip(b"\n").split(b"\n")
    header = b"gpgsig " + b"\n ".join(lines)
    return head + b"\n" + header + sep + message


def write_object(repo: Repo, kind: str, raw: bytes) -> str:
    proc = repo.git("hash-object", "-t", kind, "-w", "--literally", "--stdin", input=raw)
    return proc.stdout.decode().strip()


def read(repo: Repo, oid: str) -> SignedObject:
    kind = repo.out("cat-file", "-t", oid)
    return parse_object_file(repo.git("cat-file", kind, oid).stdout)


def edit_signer_info(signature: bytes, edit: Callable[[cms.SignerInfo], None]) -> bytes:
    """Re-armor ``signature`` after ``edit`` changed its one SignerInfo in place."""
    info = cms.ContentInfo.load(gcms.dearmor(signature))
    signed_data = info["content"]
    signer = signed_data["signer_infos"][0]
    edit(signer)
    # Rebuilt from the edited parts (dump(force=True) re-encodes every nested token: slow).
    signed_data["signer_infos"] = cms.SignerInfos([signer])
    rebuilt = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return gcms.armor(rebuilt.dump())


def set_unsigned(signer: cms.SignerInfo, attrs: list[cms.CMSAttribute]) -> None:
    signer["unsigned_attrs"] = cms.CMSAttributes(attrs) if attrs else None
