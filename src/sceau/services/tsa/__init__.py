"""RFC 3161 Timestamp Authority: certificates, the token responder and its HTTP API.

- :func:`make_tsa_chain` creates the TSA root and timestamping leaf (``sceau init``);
- :class:`TimestampAuthority` turns a DER or JSON request into a signed TimeStampResp;
- :func:`routes` serves ``/api/v1/timestamp`` and ``/api/v1/timestamp/certchain``.
"""

from __future__ import annotations

from sceau.services.tsa.api import routes
from sceau.services.tsa.certs import TSAChain, chain_pem, check_tsa_leaf, make_tsa_chain
from sceau.services.tsa.responder import (
    SIGSTORE_POLICY_OID,
    TimestampAuthority,
    TimestampRequest,
    parse_der_request,
    parse_json_request,
)

__all__ = [
    "SIGSTORE_POLICY_OID",
    "TSAChain",
    "TimestampAuthority",
    "TimestampRequest",
    "chain_pem",
    "check_tsa_leaf",
    "make_tsa_chain",
    "parse_der_request",
    "parse_json_request",
    "routes",
]
