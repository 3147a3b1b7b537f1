"""One served instance for the robustness tests, seeded with real entries in every log.

The instance is built exactly as ``sceau serve`` builds it and served by real uvicorn.
Before any bad input is sent, each log gets real entries (hashedrekord, DSSE and in-toto
in Rekor v1, hashedrekord and DSSE in v2, a certificate issued through the CA — so a
precertificate in the CT log), and the fixture records every log's size and root.
:meth:`Instance.check_unchanged` then proves after each case that nothing was written, and
:meth:`Instance.verify_logs` that each signed checkpoint still verifies and its root
matches a recomputation from the entries.

Every error the server logs (``sceau.http`` "crashed", uvicorn's "Exception in ASGI
application") is captured, so a 500 hidden behind a closed connection still fails.
"""

from __future__ import annotations

import base64
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sceau import merkle
from sceau.config import InstanceConfig
from sceau.instance.app import build_app
from sceau.instance.init import init_instance
from sceau.instance.material import Material
from sceau.note import note_verifier, open_checkpoint
from sceau.services.oidc import DevIssuer
from tests.rekor.helpers import dsse_v1, dsse_v2, hashedrekord_v1, hashedrekord_v2, intoto_v2
from tests.serving import free_port, serve_app

EMAIL = "robust@example.com"
# A fresh connection per request: after a 500 uvicorn drops the connection, and a pooled
# one would fail the next (innocent) case instead of the guilty one.
_NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Instance:
    """The served instance, a client for it, its seeded requests and the baseline (log
    sizes and roots) that every test compares against; a test that adds real entries
    moves the baseline."""

    url: str
    port: int
    host: str
    cfg: InstanceConfig
    material: Material
    client: httpx.Client
    token: str
    dev: DevIssuer  # the instance's dev OIDC issuer, to mint tokens /oidc/token would refuse
    v1_request: dict[str, Any]
    v2_request: dict[str, Any]
    chain_pem: list[str]
    seeded: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    roots: dict[str, bytes] = field(default_factory=dict)
    errors: _Capture = field(default_factory=_Capture)

    # -- invariants ------------------------------------------------------------------------

    def log_sizes(self) -> dict[str, int]:
        r = self.client.get("/healthz")
        assert r.status_code == 200, r.text
        return r.json()["logs"]

    def server_errors(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()}" for r in self.errors.records]

    def check_unchanged(self) -> None:
        """No log grew, and the server logged no error (no 500, no traceback)."""
        assert self.server_errors() == []
        assert self.log_sizes() == self.sizes

    def verify_logs(self) -> dict[str, bytes]:
        """Verify every log's signed head and recompute its root from the entries."""
        return {
            "rekor-v1": self._verify_v1(),
            "rekor-v2": self._verify_v2(),
            "ct": self._verify_ct(),
        }

    def _verify_v1(self) -> bytes:
        info = self.client.get("/api/v1/log").json()
        key = self.material.signer("rekor-v1").public_key()
        cp = open_checkpoint(info["signedTreeHead"], [note_verifier(self.host, key)])
        assert cp.size == info["treeSize"] and cp.root_hash.hex() == info["rootHash"]
        leaves = []
        for i in range(cp.size):
            entry = self.client.get("/api/v1/log/entries", params={"logIndex": i}).json()
            (value,) = entry.values()
            leaves.append(merkle.leaf_hash(base64.b64decode(value["body"])))
        assert merkle.tree_root(leaves) == cp.root_hash
        proof = self.client.get(
            "/api/v1/log/proof", params={"firstSize": 1, "lastSize": cp.size}
        ).json()
        assert proof["rootHash"] == cp.root_hash.hex()
        merkle.verify_consistency(
            1, cp.size, [bytes.fromhex(h) for h in proof["hashes"]], leaves[0], cp.root_hash
        )
        return cp.root_hash

    def _verify_v2(self) -> bytes:
        note = self.client.get("/api/v2/checkpoint").text
        key = self.material.signer("rekor-v2").public_key()
        cp = open_checkpoint(note, [note_verifier(self.host, key)])
        assert 0 < cp.size < 256
        bundle = self.client.get(f"/api/v2/tile/entries/000.p/{cp.size}").content
        leaves, pos = [], 0
        while pos < len(bundle):
            n = int.from_bytes(bundle[pos : pos + 2], "big")
            leaves.append(merkle.leaf_hash(bundle[pos + 2 : pos + 2 + n]))
            pos += 2 + n
        assert len(leaves) == cp.size
        tile = self.client.get(f"/api/v2/tile/0/000.p/{cp.size}").content
        assert tile == b"".join(leaves)
        assert merkle.tree_root(leaves) == cp.root_hash
        return cp.root_hash

    def _verify_ct(self) -> bytes:
        sth = self.client.get("/ct/v1/get-sth").json()
        size = sth["tree_size"]
        leaves: list[bytes] = []
        while len(leaves) < size:  # the log answers at most a page per request
            got = self.client.get(
                "/ct/v1/get-entries", params={"start": len(leaves), "end": size - 1}
            ).json()
            assert got["entries"]
            leaves += [merkle.leaf_hash(base64.b64decode(e["leaf_input"])) for e in got["entries"]]
        root = base64.b64decode(sth["sha256_root_hash"])
        assert len(leaves) == size and merkle.tree_root(leaves) == root
        return root


def _csr_b64() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.EMAIL_ADDRESS, EMAIL)]))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


def _seed(inst: Instance) -> None:
    """One entry of every kind in the logs; ``inst.seeded`` keeps the requests (name →
    (path, request)): resubmitted unchanged they are duplicates, never new entries."""
    c = inst.client
    inst.seeded = {
        "v1-hashedrekord": ("/api/v1/log/entries", inst.v1_request),
        "v2-hashedrekord": ("/api/v2/log/entries", inst.v2_request),
        "v1-dsse": ("/api/v1/log/entries", dsse_v1()[0]),
        "v1-intoto": ("/api/v1/log/entries", intoto_v2()[0]),
        "v2-dsse": ("/api/v2/log/entries", dsse_v2()[0]),
    }
    for path, request in inst.seeded.values():
        r = c.post(path, json=request)
        assert r.status_code == 201, r.text
    r = c.post(
        "/api/v2/signingCert",
        json={"certificateSigningRequest": _csr_b64()},
        headers={"Authorization": f"Bearer {inst.token}"},
    )
    assert r.status_code == 200, r.text
    inst.chain_pem = r.json()["signedCertificateEmbeddedSct"]["chain"]["certificates"]


@pytest.fixture(scope="package")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    port = free_port()
    d = tmp_path_factory.mktemp("robust")
    init_instance(d, url=f"http://127.0.0.1:{port}")
    cfg = InstanceConfig.load(d)
    app = build_app(cfg)
    capture = _Capture()
    with (
        serve_app(app, port=port) as url,
        httpx.Client(base_url=url, timeout=30, limits=_NO_KEEPALIVE) as client,
    ):
        watched = [logging.getLogger(n) for n in ("sceau", "uvicorn.error")]
        for lg in watched:
            lg.addHandler(capture)
        try:
            token = client.post("/oidc/token", json={"email": EMAIL}).json()["id_token"]
            inst = Instance(
                url=url,
                port=port,
                host=f"127.0.0.1:{port}",
                cfg=cfg,
                material=Material.load(cfg),
                client=client,
                token=token,
                dev=DevIssuer.for_instance(Material.load(cfg).signer("dev-oidc"), cfg.url),
                v1_request=hashedrekord_v1()[0],
                v2_request=hashedrekord_v2()[0],
                chain_pem=[],
                errors=capture,
            )
            _seed(inst)
            inst.sizes = inst.log_sizes()
            assert inst.sizes == {"rekor-v1": 4, "rekor-v2": 3, "ct": 1}
            inst.roots = inst.verify_logs()
            yield inst
        finally:
            for lg in watched:
                lg.removeHandler(capture)


@pytest.fixture
def unchanged(instance: Instance) -> Instance:
    """The instance with the error capture cleared: a test sends its input, then calls
    ``check_unchanged()`` (in the test body, so that a strict xfail covers it too)."""
    instance.errors.records.clear()
    return instance


def raw_http(
    port: int, request: bytes, *, half_close: bool = False, timeout: float = 5.0
) -> tuple[int | None, bytes]:
    """Send raw bytes (no client-side path normalisation); ``(status or None, body)``.

    ``half_close`` shuts the write side after sending (a client that hangs up mid-body).
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    if not data.startswith(b"HTTP/1.1 "):
        return None, data
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body
