"""The whole certificate path in one server, as ``sceau serve`` composes it: dev OIDC
issuer, CA and CT log; the CA reaches the log in-process or over HTTP."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore._internal.fulcio.client import FulcioClient
from sigstore.oidc import IdentityToken
from starlette.routing import Mount

from sceau.keys import FileSigner, generate_signer
from sceau.services.ca.api import routes as ca_routes
from sceau.services.ca.authority import CAChain, make_ca_chain
from sceau.services.ca.issuers import IssuerSet
from sceau.services.ca.oidc import TokenVerifier
from sceau.services.ca.sct import verify_embedded_sct
from sceau.services.ca.service import build_ca
from sceau.services.ct import der, rfc6962
from sceau.services.oidc.http import routes as oidc_routes
from sceau.services.oidc.issuer import DevIssuer
from tests.ca.helpers import sigstore_sct_check, webpki_verify
from tests.ct.conftest import ct_app
from tests.serving import free_port, serve_app

pytestmark = pytest.mark.server


@dataclass
class Instance:
    url: str
    chain: CAChain
    ct_key: FileSigner
    dev: DevIssuer


@pytest.fixture(scope="module", params=["in-process", "http"])
def instance(request, tmp_path_factory) -> Iterator[Instance]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    dev = DevIssuer(generate_signer("ecdsa-p256"), url + "/oidc")
    verifier = TokenVerifier(IssuerSet.from_config({}, dev_oidc_url=url + "/oidc"))
    chain, _ = make_ca_chain()
    ct_key = generate_signer("ecdsa-p256")
    routes: list = []
    app, ct = ct_app(
        tmp_path_factory.mktemp("instance"), ct_key, [chain.root], f"127.0.0.1:{port}/ct", routes
    )
    ca = build_ca(
        chain, ct if request.param == "in-process" else url, ct_keys=[ct_key.public_key()]
    )
    app.router.routes.extend([*ca_routes(ca, verifier), Mount("/oidc", routes=oidc_routes(dev))])
    with serve_app(app, port=port):
        yield Instance(url, chain, ct_key, dev)


def _csr(key: ec.EllipticCurvePrivateKey) -> x509.CertificateSigningRequest:
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


@pytest.mark.interop
def test_sigstore_python_gets_logged_certificates(instance: Instance) -> None:
    tokens = [
        instance.dev.mint_email("carol@example.com"),
        instance.dev.mint_github_workflow("octo/app/.github/workflows/ci.yml@refs/heads/main"),
    ]
    certs = []
    for token in tokens:
        key = ec.generate_private_key(ec.SECP256R1())
        resp = FulcioClient(instance.url).signing_cert.post(_csr(key), IdentityToken(token))
        sigstore_sct_check(resp.cert, resp.chain, instance.ct_key.public_key())
        verify_embedded_sct(resp.cert, resp.chain[0], [instance.ct_key.public_key()])
        webpki_verify(resp.cert, instance.chain.root, instance.chain.intermediate)
        certs.append(resp.cert)

    # each certificate's precert is in the log, with the same TBS
    sth = httpx.get(instance.url + "/ct/v1/get-sth").json()
    entries = httpx.get(
        instance.url + "/ct/v1/get-entries", params={"start": 0, "end": sth["tree_size"] - 1}
    ).json()["entries"]
    logged = set()
    for e in entries:
        leaf = rfc6962.parse_merkle_tree_leaf(base64.b64decode(e["leaf_input"]))
        pre, _ = rfc6962.parse_extra_data(leaf.entry_type, base64.b64decode(e["extra_data"]))
        assert pre is not None
        logged.add(der.precert_tbs(pre))
    for cert in certs:
        assert cert.tbs_precertificate_bytes in logged
