"""Benchmark: Fulcio-style certificates/s over HTTP, CT round trip included.

Starts a real server (uvicorn, one process: dev-issuer-verified tokens, CA, CT log on the
SQLite engine) and drives ``POST /api/v2/signingCert`` with sigstore-python-shaped CSR
requests from ``wrk`` (a C load generator, so the 2-core box measures the server, not the
client). Each request verifies the token, checks the CSR, builds and signs the precert,
appends it to the CT log (durably, batched), signs the SCT and the final certificate.

Runs with a P-256 intermediate, then a P-384 one, and prints both rates and the ratio.

    .venv/bin/python bench/ca_issue.py [--seconds 10] [--connections 64] [--ct in-process|http]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(port: int, intermediate: str, ct_mode: str, data: Path) -> None:
    """Server side (runs in its own process)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from sceau.keys import generate_signer
    from sceau.log import LogEngine
    from sceau.log.sqlite import SQLiteStorage
    from sceau.services._http import install_error_handlers
    from sceau.services.ca.api import routes as ca_routes
    from sceau.services.ca.authority import make_ca_chain
    from sceau.services.ca.issuers import IssuerSet
    from sceau.services.ca.oidc import TokenVerifier
    from sceau.services.ca.service import build_ca
    from sceau.services.ct.api import routes as ct_routes
    from sceau.services.ct.service import build_ct_log
    from sceau.services.oidc.http import routes as oidc_routes
    from sceau.services.oidc.issuer import DevIssuer

    url = f"http://127.0.0.1:{port}"
    dev = DevIssuer(generate_signer("ecdsa-p256"), url + "/oidc")
    verifier = TokenVerifier(IssuerSet.from_config({}, dev_oidc_url=url + "/oidc"))
    chain, _ = make_ca_chain(intermediate_algorithm=intermediate)
    ct_key = generate_signer("ecdsa-p256")
    engine = LogEngine(SQLiteStorage(data / "log.sqlite"), batch_interval=0.02)
    ct = build_ct_log(
        engine, ct_key, [chain.root], origin=f"127.0.0.1:{port}/ct", extra=data / "extra.sqlite"
    )
    ca = build_ca(chain, ct if ct_mode == "in-process" else url, ct_keys=[ct_key.public_key()])

    @contextlib.asynccontextmanager
    async def lifespan(app):  # type: ignore[no-untyped-def]
        await engine.start()
        yield
        await engine.close()
        await ct.close()

    app = Starlette(
        routes=[
            *ca_routes(ca, verifier),
            *ct_routes(ct),
            Mount("/oidc", routes=oidc_routes(dev)),
        ],
        lifespan=lifespan,
    )
    install_error_handlers(app)
    (data / "token").write_text(dev.mint_email("bench@example.com", lifetime=3600))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _request_body() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = csr.public_bytes(serialization.Encoding.PEM)
    return json.dumps({"certificateSigningRequest": base64.b64encode(pem).decode()})


def _wait_ready(url: str, token_file: Path, proc: subprocess.Popen, timeout: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited early")
        if token_file.exists():
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/api/v2/trustBundle", timeout=1).status_code == 200:
                    return
        time.sleep(0.1)
    raise SystemExit("server did not start")


def _check_once(url: str, token: str, body: str) -> None:
    import httpx

    resp = httpx.post(
        url + "/api/v2/signingCert",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=10,
    )
    if resp.status_code != 200:
        raise SystemExit(f"signingCert failed: {resp.status_code} {resp.text}")


def run_one(intermediate: str, args: argparse.Namespace) -> float:
    with tempfile.TemporaryDirectory(prefix="sceau-ca-bench-") as tmp:
        data = Path(tmp)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port), intermediate, args.ct, str(data)],
        )
        try:
            _wait_ready(url, data / "token", proc)
            token = (data / "token").read_text()
            body = _request_body()
            _check_once(url, token, body)
            script = data / "post.lua"
            script.write_text(
                'wrk.method = "POST"\n'
                f"wrk.body = {json.dumps(body)}\n"
                'wrk.headers["Content-Type"] = "application/json"\n'
                f'wrk.headers["Authorization"] = "Bearer {token}"\n'
            )
            wrk = shutil.which("wrk")
            if wrk is None:
                raise SystemExit("wrk not found: apt-get install -y wrk")
            # warm-up, then the measured run
            subprocess.run(
                [wrk, "-t1", "-c16", "-d2s", "-s", str(script), url + "/api/v2/signingCert"],
                capture_output=True,
                check=True,
            )
            out = subprocess.run(
                [
                    wrk,
                    "-t1",
                    f"-c{args.connections}",
                    f"-d{args.seconds}s",
                    "--latency",
                    "-s",
                    str(script),
                    url + "/api/v2/signingCert",
                ],
                capture_output=True,
                check=True,
                text=True,
            ).stdout
            if "Non-2xx" in out:
                raise SystemExit(f"some requests failed:\n{out}")
            rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
            p99 = re.search(r"99%\s+(\S+)", out)
            size = _tree_size(url)
            print(
                f"  {intermediate} intermediate, CT {args.ct}: {rate:,.0f} certificates/s "
                f"(p99 latency {p99.group(1) if p99 else '?'}, CT log size {size})"
            )
            return rate
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _tree_size(url: str) -> int:
    import httpx

    return int(httpx.get(url + "/ct/v1/get-sth", timeout=5).json()["tree_size"])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        _, _, port, intermediate, ct_mode, data = sys.argv
        serve(int(port), intermediate, ct_mode, Path(data))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--ct", choices=["in-process", "http"], default="in-process")
    args = parser.parse_args()
    print(
        f"POST /api/v2/signingCert, CSR requests, {args.connections} connections, "
        f"{os.cpu_count()} cores"
    )
    p256 = run_one("ecdsa-p256", args)
    p384 = run_one("ecdsa-p384", args)
    print(f"P-256 / P-384 ratio: {p256 / p384:.2f}x  (target: >= 300/s with P-256)")


if __name__ == "__main__":
    main()
