"""HTTPS end to end: ``sceau serve --tls-cert/--tls-key`` on its own, and behind nginx with
the configuration of ``deploy/nginx/sceau.conf`` (the one ``docs/running.md`` shows).
sigstore-python signs and verifies through each, trusting a CA made here."""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.local_server import wait_until_ok
from tests.instance import client_env, stop
from tests.serving import free_port
from tests.tlsutil import ServerPki, make_server_cert

ROOT = Path(__file__).resolve().parents[2]
NGINX_SITE = ROOT / "deploy" / "nginx" / "sceau.conf"
BIN = Path(sys.executable).parent
SCEAU = [sys.executable, "-m", "sceau"]
EMAIL = "tls@example.com"

pytestmark = [pytest.mark.server, pytest.mark.interop]


def trusting(pki: ServerPki) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.ca))


def init(directory: Path, url: str) -> None:
    done = subprocess.run(
        [*SCEAU, "init", "--dir", str(directory), "--url", url],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def serve(directory: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [*SCEAU, "serve", "--dir", str(directory), "--log-format", "json", *args],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def sign_and_verify(base: Path, directory: Path, url: str, ca: Path) -> None:
    """sigstore-python signs through ``url`` (HTTPS, trusting ``ca``) and verifies."""
    home = base / "home"
    home.mkdir(exist_ok=True)
    env = {**client_env(home), "SSL_CERT_FILE": str(ca), "REQUESTS_CA_BUNDLE": str(ca)}
    token = subprocess.run(
        [*SCEAU, "dev-token", "--dir", str(directory), "--email", EMAIL],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()  # fmt: skip
    artifact = base / "artifact.txt"
    artifact.write_text("over TLS\n")
    trust = str(directory / "trust" / "trust_config.json")
    bundle = str(base / "artifact.sigstore.json")
    for argv in (
        ["sign", "--identity-token", token, "--bundle", bundle, str(artifact)],
        ["verify", "identity", str(artifact), "--bundle", bundle,
         "--cert-identity", EMAIL, "--cert-oidc-issuer", f"{url}/oidc"],
    ):  # fmt: skip
        done = subprocess.run(
            [str(BIN / "sigstore"), "--trust-config", trust, *argv],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        assert done.returncode == 0, (argv[0], done.stdout, done.stderr)
    entry = json.loads(Path(bundle).read_text())["verificationMaterial"]["tlogEntries"][0]
    assert int(entry["logIndex"]) >= 1


def test_sigstore_python_signs_against_serve_with_tls(tmp_path: Path) -> None:
    pki = make_server_cert(tmp_path / "pki")
    port = free_port()
    url = f"https://localhost:{port}"
    directory = tmp_path / "inst"
    init(directory, url)
    server = serve(
        directory, tmp_path / "serve.log", "--tls-cert", str(pki.cert), "--tls-key", str(pki.key)
    )
    try:
        wait_until_ok(f"{url}/healthz", [server], verify=trusting(pki))
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not spoken on a TLS port
            httpx.get(f"http://localhost:{port}/healthz", timeout=5).raise_for_status()
        sign_and_verify(tmp_path, directory, url, pki.ca)
    finally:
        stop(server)


def nginx_config(pki: ServerPki, tmp: Path, port: int, upstream: int) -> str:
    """deploy/nginx/sceau.conf with its CHANGE values filled in, inside a minimal nginx.conf
    that runs unprivileged in ``tmp``."""
    site = NGINX_SITE.read_text()
    for old, new in (
        ("server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;"),
        ("server_name sigstore.example.com;", "server_name localhost;"),
        ("/etc/ssl/sceau/fullchain.pem", str(pki.cert)),
        ("/etc/ssl/sceau/privkey.pem", str(pki.key)),
    ):
        assert old in site, f"{old!r} is no longer in {NGINX_SITE}"
        site = site.replace(old, new)
    temps = "\n".join(
        f"    {kind}_temp_path {tmp}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"daemon off;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\n"
        f"events {{ worker_connections 256; }}\n"
        f"http {{\n    access_log off;\n{temps}\n{site}\n}}\n"
    )


@pytest.fixture
def behind_nginx(tmp_path: Path) -> Iterator[tuple[Path, str, ServerPki, Path]]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is not installed: tools/install-test-deps installs it"
    pki = make_server_cert(tmp_path / "pki")
    port, upstream = free_port(), free_port()
    url = f"https://localhost:{port}"
    directory = tmp_path / "inst"
    init(directory, url)
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_config(pki, tmp_path, port, upstream))
    log = tmp_path / "serve.log"
    server = serve(directory, log, "--host", "127.0.0.1", "--port", str(upstream))
    proxy = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp_path)], stderr=subprocess.PIPE)
    try:
        wait_until_ok(f"{url}/healthz", [server, proxy], verify=trusting(pki))
        yield directory, url, pki, log
    finally:
        stop(proxy)
        stop(server)


def test_sigstore_python_signs_through_nginx(
    behind_nginx: tuple[Path, str, ServerPki, Path], tmp_path: Path
) -> None:
    directory, url, pki, log = behind_nginx
    sign_and_verify(tmp_path, directory, url, pki.ca)
    # sceau saw the requests with nginx's request id, and the TLS scheme
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    access = [e for e in events if e["logger"] == "sceau.access"]
    assert any(e["route"] == "/api/v2/signingCert" and e["status"] == 200 for e in access)
    assert all(re.fullmatch(r"[0-9a-f]{32}", e["request_id"]) for e in access), access[-1]


def test_nginx_offers_http2_and_replaces_forwarded_for(
    behind_nginx: tuple[Path, str, ServerPki, Path],
) -> None:
    _, url, pki, log = behind_nginx
    with httpx.Client(http2=True, verify=trusting(pki)) as client:
        reply = client.get(
            f"{url}/api/v1/log", headers={"X-Forwarded-For": "10.9.8.7", "X-Request-Id": "mine"}
        )
    assert reply.status_code == 200 and reply.http_version == "HTTP/2"
    assert re.fullmatch(r"[0-9a-f]{32}", reply.headers["x-request-id"])  # nginx's, not mine
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    (seen,) = [e for e in events if e.get("request_id") == reply.headers["x-request-id"]]
    assert seen["client"] == "127.0.0.1"  # a client cannot claim another address


def test_the_documented_nginx_config_is_the_tested_one() -> None:
    doc = (ROOT / "docs" / "running.md").read_text()
    blocks = re.findall(r"```nginx\n(.*?)```", doc, re.S)
    assert NGINX_SITE.read_text() in blocks, "docs/running.md must show deploy/nginx/sceau.conf"
