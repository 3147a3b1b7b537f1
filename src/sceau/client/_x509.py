"""Extension look-up by OID for certificates already parsed by pyca.

``Extensions.get_extension_for_class`` tests every extension with an ABC ``isinstance``;
pyca maps each known OID to exactly one class (and refuses duplicate extensions), so
comparing OIDs finds the same extension at a fraction of the cost. The verifier looks up
half a dozen extensions per bundle.
"""

from __future__ import annotations

from typing import Any

from cryptography.x509 import ObjectIdentifier


def extension_value(cert: Any, oid: ObjectIdentifier) -> Any | None:
    """The parsed value of ``cert``'s extension ``oid``, or None if absent."""
    for ext in cert.extensions:
        if ext.oid == oid:
            return ext.value
    return None
