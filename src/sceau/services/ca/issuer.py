"""The issuing pipeline: precertificate → CT log → final certificate with the embedded SCT.

``fulcio: pkg/server/grpc_server.go`` (the EmbeddedSCTCA branch) and docs/protocols.md §2.2.
The caller has already authenticated the principal and checked possession of the key.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sceau.errors import InputError, RemoteError, VerificationError
from sceau.services.ca.authority import CAChain
from sceau.services.ca.ctclient import CTClient
from sceau.services.ca.identity import Principal
from sceau.services.ca.profile import LeafTemplate, final_certificate, pem, precertificate
from sceau.services.ca.sct import verify_embedded_sct
from sceau.telemetry.metrics import count_certificate

_DER = serialization.Encoding.DER


class CertificateAuthority:
    """Issues Fulcio-profile leaves from ``chain``'s intermediate, logged in ``ct``.

    ``ct_keys`` are the public keys of the CT logs whose SCTs the clients trust; when
    given, every certificate's SCT is verified before it leaves (self-check: a bad SCT
    would otherwise surface as a client-side failure after the fact).
    """

    def __init__(self, chain: CAChain, ct: CTClient, *, ct_keys: Sequence[object] = ()) -> None:
        chain.check()
        self.chain = chain
        self.ct = ct
        self.ct_keys = list(ct_keys)
        self._chain_der = [c.public_bytes(_DER) for c in chain.chain]
        self.chain_pem = [pem(c) for c in chain.chain]

    async def issue(self, principal: Principal, public_key: object) -> list[x509.Certificate]:
        """Return ``[leaf, intermediate, root]``; the leaf embeds exactly one SCT."""
        try:
            template = LeafTemplate.new(principal, public_key)
            precert = precertificate(template, self.chain)
        except ValueError as e:  # a value the identity checks let through; never a 500
            raise InputError(f"the identity cannot go into a certificate: {e}") from e
        sct = await self.ct.add_pre_chain([precert.public_bytes(_DER), *self._chain_der])
        cert = final_certificate(template, self.chain, [sct], precert)
        if self.ct_keys:
            try:
                verify_embedded_sct(cert, self.chain.intermediate, self.ct_keys)
            except VerificationError as e:
                raise RemoteError(
                    f"CT log returned an SCT that does not verify: {e.message}"
                ) from e
        count_certificate(principal.issuer)
        return [cert, *self.chain.chain]

    async def issue_pem(self, principal: Principal, public_key: object) -> list[str]:
        certs = await self.issue(principal, public_key)
        return [pem(certs[0]), *self.chain_pem]

    def trust_bundle(self) -> list[list[str]]:
        """Fulcio's ``trustBundle``: each chain intermediate(s) → root, PEM."""
        return [list(self.chain_pem)]
