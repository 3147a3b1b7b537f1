"""Container images in OCI registries: references, a small distribution-API client, and the
two layouts Sigstore signatures are stored in (docs/images.md).

No well-kept Python OCI library covers what signing needs (the referrers API with its tag
fallback, cosign's legacy tags, bearer-token auth) without pulling in a CLI's worth of
dependencies, so the protocol is written here over httpx: it is a dozen HTTP calls.
"""

from sceau.client.oci.errors import RegistryError, RegistryNotFound
from sceau.client.oci.reference import Reference, parse_reference
from sceau.client.oci.registry import Descriptor, Registry

__all__ = [
    "Descriptor",
    "Reference",
    "Registry",
    "RegistryError",
    "RegistryNotFound",
    "parse_reference",
]
