"""Wiring the CA: what ``sceau serve`` calls.

``build_ca(chain, ct, ct_keys=...)`` returns the :class:`~.issuer.CertificateAuthority`;
``sceau.services.ca.api.routes(ca, verifier)`` serves it. ``ct`` is the CT log's base URL
(the CA then speaks RFC 6962 over HTTP, the split-host deployment), or an in-process CT log
object (``sceau.services.ct.ctlog.CTLog``, same process), or any :class:`CTClient`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sceau.services.ca.authority import CAChain
from sceau.services.ca.ctclient import CTClient, HTTPCTClient, InProcessCTClient
from sceau.services.ca.issuer import CertificateAuthority


def build_ca(
    chain: CAChain, ct: CTClient | str, *, ct_keys: Sequence[object] = ()
) -> CertificateAuthority:
    if isinstance(ct, str):
        client: CTClient = HTTPCTClient(ct)
    elif isinstance(ct, HTTPCTClient | InProcessCTClient):
        client = ct
    else:
        client = InProcessCTClient(ct)
    return CertificateAuthority(chain, client, ct_keys=ct_keys)
