"""cosign's short names for in-toto predicate types (``cosign attest --type``).

The URIs are the ones cosign writes for each name; anything else must be an absolute URI.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sceau.errors import InputError

PREDICATE_TYPES: dict[str, str] = {
    "custom": "https://cosign.sigstore.dev/attestation/v1",
    "slsaprovenance": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance02": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance1": "https://slsa.dev/provenance/v1",
    "spdx": "https://spdx.dev/Document",
    "spdxjson": "https://spdx.dev/Document",
    "cyclonedx": "https://cyclonedx.org/bom",
    "link": "https://in-toto.io/Link/v1",
    "vuln": "https://cosign.sigstore.dev/attestation/vuln/v1",
    "openvex": "https://openvex.dev/ns",
}


def predicate_type(name: str) -> str:
    """The predicate-type URI for a cosign short name, or ``name`` if it is a URI."""
    text = name.strip()
    if text in PREDICATE_TYPES:
        return PREDICATE_TYPES[text]
    parts = urlsplit(text)
    if not parts.scheme or not (parts.netloc or parts.path) or " " in text:
        raise InputError(
            f"invalid predicate type {name!r}: give a URI or one of " + ", ".join(PREDICATE_TYPES)
        )
    return text
