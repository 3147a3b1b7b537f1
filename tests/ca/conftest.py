"""A real CA on a localhost port: dev OIDC issuer, TokenVerifier, CA routes, CT stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from sceau.keys import generate_signer
from sceau.services._http import install_error_handlers
from sceau.services.ca.api import routes as ca_routes
from sceau.services.ca.authority import CAChain, make_ca_chain
from sceau.services.ca.issuer import CertificateAuthority
from sceau.services.ca.issuers import IssuerSet
from sceau.services.ca.oidc import TokenVerifier
from sceau.services.oidc.http import routes as oidc_routes
from sceau.services.oidc.issuer import DevIssuer
from tests.ca.helpers import SigningCT
from tests.serving import free_port, serve_app


@dataclass
class CAServer:
    url: str
    chain: CAChain
    ct: SigningCT
    dev: DevIssuer


@pytest.fixture(scope="module")
def ca_server() -> Iterator[CAServer]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    dev = DevIssuer(generate_signer("ecdsa-p256"), url + "/oidc")
    verifier = TokenVerifier(IssuerSet.from_config({}, dev_oidc_url=url + "/oidc"))
    chain, _ = make_ca_chain()
    ct = SigningCT()
    ca = CertificateAuthority(chain, ct, ct_keys=[ct.public_key])
    app = Starlette(routes=[*ca_routes(ca, verifier), Mount("/oidc", routes=oidc_routes(dev))])
    install_error_handlers(app)
    with serve_app(app, port=port):
        yield CAServer(url, chain, ct, dev)
