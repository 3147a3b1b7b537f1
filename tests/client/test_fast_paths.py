"""The bundle reader and the verifier's shortcuts, held to their references.

- ``bundle.parse_bundle`` (the one bundle reader): every vector it reads round-trips through
  ``Bundle.to_json`` to an equal value, and every mutation of every field (dropped, null,
  wrong type, renamed to the proto name, unknown sibling, odd base64) is either read or
  refused with a :class:`BundleError` — never another exception.
- ``_x509.extension_value`` (look-up by OID) against pyca's ``get_extension_for_class``.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.x509 import (
    BasicConstraints,
    ExtendedKeyUsage,
    ExtensionNotFound,
    KeyUsage,
    PrecertificateSignedCertificateTimestamps,
    SubjectAlternativeName,
    load_der_x509_certificate,
)

from sceau.client import bundle as bundle_mod
from sceau.client._x509 import extension_value
from sceau.client.errors import BundleError
from tests.client.cases import BV, SP


def _docs() -> list[tuple[str, Any]]:
    files = (
        sorted(BV.glob("*/bundle.sigstore.json"))
        + sorted(SP.glob("*.sigstore*"))
        + sorted((SP / "tsa").glob("*.sigstore"))
    )
    out = []
    for f in files:
        try:
            out.append((f"{f.parent.name}/{f.name}", json.loads(f.read_bytes())))
        except ValueError:
            continue  # not JSON: never reaches either parser
    return out


def _read(doc: Any) -> Any:
    """The Bundle, or BundleError; any other exception fails the test."""
    try:
        return bundle_mod.parse_bundle(doc)
    except BundleError:
        return BundleError


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*path, k)
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*path, i)
            yield from _paths(v, (*path, i))


def _mutations(doc: Any) -> Iterator[Any]:
    replacements = [None, 1, True, "", "x", "=", "AA", "AA==", "-_8", [], {}, ["AA=="], "1" * 21]
    for path in _paths(doc):
        *parent_path, key = path
        for value in [*replacements, "drop", "snake", "extra", "0", "18446744073709551616"]:
            d = copy.deepcopy(doc)
            parent = d
            for p in parent_path:
                parent = parent[p]
            if value == "drop":
                del parent[key]
            elif value == "snake":
                if not isinstance(key, str) or _snake(key) == key:
                    continue
                parent[_snake(key)] = parent.pop(key)
            elif value == "extra":
                if not isinstance(parent, dict):
                    continue
                parent["bogus"] = "x"
            else:
                parent[key] = value
            yield d


DOCS = _docs()


@pytest.mark.parametrize("name,doc", DOCS, ids=[n for n, _ in DOCS])
def test_vectors_round_trip_through_the_model(name: str, doc: Any) -> None:
    bundle = _read(doc)
    if bundle is not BundleError:
        assert bundle_mod.Bundle.from_json(bundle.to_json()) == bundle


@pytest.mark.parametrize(
    "case",
    ["happy-path-v0.1", "happy-path-intoto-in-dsse-v3", "rekor2-timestamp-with-embedded-cert"],
)
def test_every_mutation_is_read_or_refused_with_a_bundle_error(case: str) -> None:
    doc = json.loads((BV / case / "bundle.sigstore.json").read_bytes())
    count = read = 0
    for mutated in _mutations(doc):
        result = _read(mutated)
        if result is not BundleError:
            read += 1
            assert bundle_mod.Bundle.from_json(result.to_json()) == result
        count += 1
    assert count > 500 and 0 < read < count


def _certs() -> list[bytes]:
    out = []
    for _, doc in DOCS:
        vm = doc.get("verificationMaterial") if isinstance(doc, dict) else None
        if not isinstance(vm, dict):
            continue
        chain = (vm.get("x509CertificateChain") or {}).get("certificates") or []
        for c in [vm.get("certificate") or {}, *chain]:
            if isinstance(c, dict) and c.get("rawBytes"):
                out.append(base64.b64decode(c["rawBytes"]))
    return out


def test_extension_value_matches_pyca() -> None:
    certs = []
    for der in _certs():
        try:
            cert = load_der_x509_certificate(der)
            cert.extensions  # noqa: B018 - malformed certificates are out of scope here
        except ValueError:
            continue
        certs.append(cert)
    assert len(certs) > 10
    classes = (BasicConstraints, KeyUsage, ExtendedKeyUsage, SubjectAlternativeName,
               PrecertificateSignedCertificateTimestamps)  # fmt: skip
    for cert in certs:
        for cls in classes:
            try:
                want = cert.extensions.get_extension_for_class(cls).value
            except ExtensionNotFound:
                want = None
            assert extension_value(cert, cls.oid) == want
