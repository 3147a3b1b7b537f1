"""The development OIDC issuer stays on a laptop.

It signs a token for any identity on request, so it is on by default only for an instance
whose URL is loopback; off loopback it takes ``--dev-oidc`` at ``init`` *and* at
``serve``. The decision never rests on a client's address: behind a reverse proxy on the
same host (Debian's nginx here) every client looks like 127.0.0.1.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.local_server import free_port, wait_until_ok
from sceau.cli.serve_cmd import check_dev_oidc
from sceau.config import InstanceConfig, is_loopback_host
from sceau.errors import InputError
from sceau.instance.init import init_instance
from sceau.keys import load_signer
from sceau.services.oidc import DevIssuer
from tests.instance import stop

SCEAU = [sys.executable, "-m", "sceau"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("app.localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("sigstore.example.com", False),
        ("localhost.example.com", False),
        ("", False),
        (None, False),
    ],
)
def test_loopback_hosts(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_init_enables_the_dev_issuer_only_for_a_loopback_url(tmp_path: Path) -> None:
    local = init_instance(tmp_path / "a", url="http://127.0.0.1:8080")
    public = init_instance(tmp_path / "b", url="https://sigstore.example.com")
    forced = init_instance(tmp_path / "c", url="https://sigstore.example.com", dev_oidc=True)
    assert local.get("oidc", "dev") is True
    assert public.get("oidc", "dev") is False
    assert forced.get("oidc", "dev") is True


def test_serve_refuses_the_dev_issuer_off_loopback_unless_asked_again(capsys) -> None:
    check_dev_oidc("http://127.0.0.1:8080", "127.0.0.1", configured=True, asked=False)
    check_dev_oidc("https://s.example.com", "0.0.0.0", configured=False, asked=False)
    for url, bind in (("https://s.example.com", "127.0.0.1"), ("http://127.0.0.1:1", "0.0.0.0")):
        with pytest.raises(InputError, match="not on loopback"):
            check_dev_oidc(url, bind, configured=True, asked=False)
    assert capsys.readouterr().err == ""
    check_dev_oidc("https://s.example.com", "0.0.0.0", configured=True, asked=True)
    banner = capsys.readouterr().err
    assert "THE DEVELOPMENT OIDC ISSUER IS ON" in banner and "ANYONE" in banner


def test_serve_exits_with_one_line_when_the_dev_issuer_is_exposed(tmp_path: Path) -> None:
    port = free_port()
    d = tmp_path / "inst"
    init_instance(d, url=f"http://sceau.test:{port}", dev_oidc=True)
    r = subprocess.run(
        [*SCEAU, "serve", "--dir", str(d), "--host", "127.0.0.1", "--port", str(port)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "is not on loopback" in r.stderr, r.stderr


NGINX_CONF = """\
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For 127.0.0.1;
        }}
    }}
}}
"""


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[InstanceConfig, str]]:
    """An instance made for a public URL, served on loopback behind nginx on that port."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is not installed: tools/install-test-deps installs it"
    public_port, upstream = free_port(), free_port()
    cfg = init_instance(tmp_path / "inst", url=f"http://sceau.test:{public_port}")
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=tmp_path, port=public_port, upstream=upstream))
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*SCEAU, "serve", "--dir", str(cfg.dir), "--host", "127.0.0.1", "--port",
             str(upstream), "--log-level", "warning"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    proxy = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp_path)])
    try:
        base = f"http://127.0.0.1:{public_port}"
        wait_until_ok(f"{base}/healthz", [server, proxy])
        yield cfg, base
    finally:
        stop(proxy)
        stop(server)


def test_dev_issuer_is_unreachable_through_a_proxy(proxied: tuple[InstanceConfig, str]) -> None:
    """Through nginx every client is 127.0.0.1 with X-Forwarded-For 127.0.0.1, and still:
    no /oidc routes, and the CA does not trust a token signed with the dev issuer's key."""
    cfg, base = proxied
    headers = {"Host": cfg.url.split("//")[1], "Content-Type": "application/json"}
    with httpx.Client(base_url=base, headers=headers) as client:
        assert client.post("/oidc/token", json={"email": "eve@example.com"}).status_code == 404
        discovery = client.get("/oidc/.well-known/openid-configuration")
        assert discovery.status_code == 404
        dev_key = load_signer(cfg.keys_dir / "dev-oidc.pem")
        token = DevIssuer(dev_key, cfg.url + "/oidc").mint_email("eve@example.com")
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([]))
            .sign(key, hashes.SHA256())
        )
        pem = csr.public_bytes(serialization.Encoding.PEM)
        r = client.post(
            "/api/v2/signingCert",
            json={"certificateSigningRequest": base64.b64encode(pem).decode()},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 401 and "not configured on this CA" in r.text, r.text
        assert client.get("/api/v2/configuration").json() == {"issuers": []}
