"""Strict parsing: sceau's hand-written bundle/trusted-root reader agrees with sigstore-python
(``sigstore.models``, built on the strict ``sigstore-models`` pydantic types) on every vector
and on targeted mutations of a valid bundle."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from sceau.client.bundle import Bundle
from sceau.client.errors import BundleError, TrustRootError
from sceau.client.trust import TrustedRoot
from tests.client.cases import BV, SP, VECTORS

# Where sceau deliberately differs from sigstore-python's *parser* (not from verification):
KNOWN_DIFFERENCES = {
    # sigstore-python has no managed-key bundles ("expected certificate in bundle"); sceau
    # verifies them (conformance managed-key-* cases).
    "managed-key-and-trusted-root",
    "managed-key-happy-path",
    "managed-key-no-key_fail",
    "managed-key-wrong-key_fail",
    # sigstore-python decodes RFC 3161 tokens while parsing; sceau does in step 1 of
    # verification (the bundle is still refused, as "not enough sources of verified time").
    "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
}


def _bundle_files() -> list[Path]:
    return (
        sorted(BV.glob("*/bundle.sigstore.json"))
        + sorted(SP.glob("*.sigstore*"))
        + sorted((SP / "tsa").glob("*.sigstore"))
    )


def _python_accepts(data: bytes) -> bool:
    from sigstore.models import Bundle as PyBundle

    logging.disable(logging.CRITICAL)
    try:
        PyBundle.from_json(data)
        return True
    except Exception:
        return False
    finally:
        logging.disable(logging.NOTSET)


def _sceau_accepts(data: bytes) -> bool:
    try:
        Bundle.from_json(data)
        return True
    except BundleError:
        return False


@pytest.mark.parametrize("path", _bundle_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_vector_bundles_parse_like_sigstore_python(path: Path) -> None:
    data = path.read_bytes()
    if path.parent.name in KNOWN_DIFFERENCES:
        assert _sceau_accepts(data)
        return
    assert _sceau_accepts(data) == _python_accepts(data)


def _entry(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["verificationMaterial"]["tlogEntries"][0]


def _set(path: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: Any):
    def mutate(doc: dict[str, Any]) -> None:
        path(doc)[key] = value

    return mutate


def _delete(path: Callable[[dict[str, Any]], dict[str, Any]], key: str):
    def mutate(doc: dict[str, Any]) -> None:
        del path(doc)[key]

    return mutate


def _top(d: dict[str, Any]) -> dict[str, Any]:
    return d


def _vm(d: dict[str, Any]) -> dict[str, Any]:
    return d["verificationMaterial"]


def _proof(d: dict[str, Any]) -> dict[str, Any]:
    return _entry(d)["inclusionProof"]


def _ms(d: dict[str, Any]) -> dict[str, Any]:
    return d["messageSignature"]


# (name, mutation, accepted?) — both parsers must give the same answer.
MUTATIONS = [
    ("unknown top-level key", _set(_top, "extra", 1), False),
    ("unknown entry key", _set(_entry, "surprise", "x"), False),
    ("logIndex as a JSON number", _set(_entry, "logIndex", 42), False),
    ("integratedTime as a JSON number", _set(_entry, "integratedTime", 1710869186), False),
    ("treeSize as a number", _set(_proof, "treeSize", 10**9), False),
    ("treeSize not above logIndex", _set(_proof, "treeSize", "1"), False),
    ("missing kindVersion", _delete(_entry, "kindVersion"), False),
    ("missing canonicalizedBody", _delete(_entry, "canonicalizedBody"), False),
    ("missing logId", _delete(_entry, "logId"), False),
    ("no inclusion proof", _delete(_entry, "inclusionProof"), False),
    ("no checkpoint", _delete(_proof, "checkpoint"), False),
    ("hashes not a list", _set(_proof, "hashes", "AAAA"), False),
    ("empty tlogEntries", _set(_vm, "tlogEntries", []), False),
    ("unknown media type", _set(_top, "mediaType", "application/json"), False),
    ("mediaType not a string", _set(_top, "mediaType", 3), False),
    ("signature not a string", _set(_ms, "signature", 12), False),
    ("no messageSignature", _delete(_top, "messageSignature"), False),
    ("unknown digest algorithm", lambda d: _ms(d)["messageDigest"].update(algorithm="MD5"), False),
    ("entry version 0.0.3", lambda d: _entry(d)["kindVersion"].update(version="0.0.3"), False),
    (
        "snake_case field names",
        lambda d: _entry(d).update(log_index=_entry(d).pop("logIndex")),
        True,
    ),
    ("a valid bundle", lambda d: None, True),
]


@pytest.mark.parametrize("name,mutate,accepted", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_mutations_parse_like_sigstore_python(name: str, mutate, accepted: bool) -> None:
    doc = json.loads((BV / "happy-path-v0.3" / "bundle.sigstore.json").read_bytes())
    doc = copy.deepcopy(doc)
    mutate(doc)
    data = json.dumps(doc).encode()
    assert _sceau_accepts(data) is accepted
    assert _python_accepts(data) is accepted


def test_bundle_errors_are_one_line() -> None:
    with pytest.raises(BundleError) as e:
        Bundle.from_json(b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"')
    assert "\n" not in e.value.message and e.value.message.startswith("bundle is not valid JSON")
    with pytest.raises(BundleError, match="unknown field 'bogus'"):
        Bundle.from_json(json.dumps({"bogus": 1}))


def _trusted_roots() -> list[Path]:
    return sorted(VECTORS.glob("**/trusted_root.json"))


@pytest.mark.parametrize("path", _trusted_roots(), ids=lambda p: p.parent.name)
def test_trusted_roots_parse_like_sigstore_python(path: Path) -> None:
    from sigstore.models import TrustedRoot as PyRoot

    try:
        PyRoot.from_file(str(path))
        python_ok = True
    except Exception:
        python_ok = False
    try:
        TrustedRoot.from_json(path.read_bytes())
        ours_ok = True
    except TrustRootError:
        ours_ok = False
    assert ours_ok == python_ok


def test_trusted_root_model() -> None:
    root = TrustedRoot.production()
    assert len(root.tlogs) == 2 and len(root.ctlogs) == 2
    assert {t.name for t in root.tlogs} == {"rekor.sigstore.dev", "log2025-1.rekor.sigstore.dev"}
    for t in root.tlogs:
        assert root.tlog(t.log_id) is t
    assert root.timestamp_authorities and root.certificate_authorities
    # Parsed once: the same bytes give the same object.
    assert TrustedRoot.production() is root


def test_trust_config_and_bad_roots(tmp_path: Path) -> None:
    from sceau.client.trust import load_trusted_root

    cfg = load_trusted_root(SP / "tsa" / "trust_config.json")
    assert cfg.timestamp_authorities
    with pytest.raises(TrustRootError, match="unsupported trusted root media type"):
        TrustedRoot.from_json(
            json.dumps({"mediaType": "x", "tlogs": [], "certificateAuthorities": [], "ctlogs": []})
        )
    with pytest.raises(TrustRootError, match="cannot read trusted root"):
        load_trusted_root(tmp_path / "missing.json")


@pytest.mark.parametrize(
    "name",
    [
        "production/root.json",
        "production/trusted_root.json",
        "staging/root.json",
        "staging/trusted_root.json",
    ],
)
def test_shipped_public_good_trust_equals_the_vector(name: str) -> None:
    """The package ships the public instances' trust anchors; they are the vectors' bytes."""
    shipped = files("sceau.data").joinpath(f"public-good/{name}").read_bytes()
    assert shipped == (VECTORS / "public-good" / name).read_bytes()
