"""Benchmark: Fulcio-style certificates/s over HTTP, CT round trip included.

Starts a real server (uvicorn, one process: dev-issuer-verified tokens, CA, CT log on the
SQLite engine; with ``--ct http`` the CT log runs in a second process and the CA submits
over HTTP, the split deployment) and drives ``POST /api/v2/signingCert`` with
sigstore-python-shaped CSR requests from ``wrk`` (a C load generator, so the 2-core box
measures the server, not the client). Each request verifies the token, checks the CSR,
builds and signs the precert, appends it to the CT log (durably, batched), signs the SCT
and the final certificate.

Runs with a P-256 intermediate, then a P-384 one, and prints both rates and the ratio.
With ``--keys pkcs11`` the P-256 run is repeated with the intermediate and CT keys in a
SoftHSM2 token (each certificate then costs three signatures in the token: precert, SCT,
final certificate), and the ratio token / file is printed.

    .venv/bin/python bench/ca_issue.py [--seconds 10] [--connections 64] [--ct in-process|http]
        [--keys file|pkcs11]
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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from local_server import free_port, wait_until_ok  # bench/ is sys.path[0]
from softhsm import make_token, token_key


def _material(data: Path, intermediate: str, keys: str) -> None:
    """Keys and certificates shared by the server processes (written by the parent). With
    ``keys == "pkcs11"`` the intermediate and CT keys are made in a SoftHSM2 token and the
    servers find their URIs in ``*.uri``."""
    from sceau.keys import generate_signer, save_signer
    from sceau.services.ca.authority import make_ca_chain

    intermediate_signer = ct_signer = None
    if keys == "pkcs11":
        token = make_token(data)
        intermediate_signer = token_key(token, "intermediate", intermediate)
        ct_signer = token_key(token, "ct", "ecdsa-p256")
        (data / "intermediate.uri").write_text(f"{token};object=intermediate")
        (data / "ct.uri").write_text(f"{token};object=ct")
    chain, _ = make_ca_chain(
        intermediate_algorithm=intermediate, intermediate_signer=intermediate_signer
    )
    pem = serialization.Encoding.PEM
    (data / "root.pem").write_bytes(chain.root.public_bytes(pem))
    (data / "intermediate.pem").write_bytes(chain.intermediate.public_bytes(pem))
    if ct_signer is None:
        save_signer(chain.signer, data / "intermediate.key")  # type: ignore[arg-type]
        save_signer(generate_signer("ecdsa-p256"), data / "ct.key")


def _signer(data: Path, name: str):  # type: ignore[no-untyped-def]
    """The server's key ``name``: in the token if the parent put it there, else a file."""
    from sceau.keys import load_signer
    from sceau.keys.pkcs11 import Pkcs11Signer

    uri = data / f"{name}.uri"
    if uri.exists():
        return Pkcs11Signer(uri.read_text(), role=name)
    return load_signer(data / f"{name}.key")


def serve(port: int, role: str, ct_url: str, data: Path) -> None:
    """Server side, in its own process. ``role``: ``all`` (CA + CT in one process, the CA
    reaching the log in-process), ``ca`` (CA only, CT over HTTP at ``ct_url``) or ``ct``."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from sceau.keys import generate_signer
    from sceau.log import LogEngine
    from sceau.log.sqlite import SQLiteStorage
    from sceau.services._http import install_error_handlers
    from sceau.services.ca.api import routes as ca_routes
    from sceau.services.ca.authority import load_ca_chain
    from sceau.services.ca.issuers import IssuerSet
    from sceau.services.ca.oidc import TokenVerifier
    from sceau.services.ca.service import build_ca
    from sceau.services.ct.api import routes as ct_routes
    from sceau.services.ct.service import build_ct_log
    from sceau.services.oidc.http import routes as oidc_routes
    from sceau.services.oidc.issuer import DevIssuer

    url = f"http://127.0.0.1:{port}"
    chain = load_ca_chain(
        (data / "intermediate.pem").read_bytes(),
        (data / "root.pem").read_bytes(),
        _signer(data, "intermediate"),
    )
    ct_key = _signer(data, "ct")
    routes: list = []
    engine = ct = None
    if role in ("all", "ct"):
        engine = LogEngine(SQLiteStorage(data / "log.sqlite"), batch_interval=0.02)
        ct = build_ct_log(
            engine, ct_key, [chain.root], origin=f"127.0.0.1:{port}/ct", extra=data / "x.sqlite"
        )
        routes += ct_routes(ct)
    if role in ("all", "ca"):
        dev = DevIssuer(generate_signer("ecdsa-p256"), url + "/oidc")
        verifier = TokenVerifier(IssuerSet.from_config({}, dev_oidc_url=url + "/oidc"))
        ca = build_ca(chain, ct if ct is not None else ct_url, ct_keys=[ct_key.public_key()])
        routes += [*ca_routes(ca, verifier), Mount("/oidc", routes=oidc_routes(dev))]
        (data / "token").write_text(dev.mint_email("bench@example.com", lifetime=3600))

    @contextlib.asynccontextmanager
    async def lifespan(app):  # type: ignore[no-untyped-def]
        if engine is not None:
            await engine.start()
        yield
        if engine is not None and ct is not None:
            await engine.close()
            await ct.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    install_error_handlers(app)
    if role == "ct":
        (data / "ct-ready").write_text(url)
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


def run_one(intermediate: str, args: argparse.Namespace, keys: str = "file") -> float:
    with tempfile.TemporaryDirectory(prefix="sceau-ca-bench-") as tmp:
        data = Path(tmp)
        _material(data, intermediate, keys)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        procs = []
        ct_url = "-"
        if args.ct == "http":  # the split deployment: the CT log in its own process
            ct_port = free_port()
            ct_url = f"http://127.0.0.1:{ct_port}"
            procs.append(_spawn(ct_port, "ct", "-", data))
            _wait_file(data / "ct-ready", procs[0])
        procs.append(_spawn(port, "ca" if args.ct == "http" else "all", ct_url, data))
        try:
            token_file = data / "token"
            wait_until_ok(url + "/api/v2/trustBundle", procs, ready=token_file.exists)
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
            size = _tree_size(ct_url if args.ct == "http" else url)
            print(
                f"  {intermediate} intermediate, keys in {keys}, CT {args.ct}: "
                f"{rate:,.0f} certificates/s "
                f"(p99 latency {p99.group(1) if p99 else '?'}, CT log size {size})"
            )
            return rate
        finally:
            for proc in reversed(procs):
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def _spawn(port: int, role: str, ct_url: str, data: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), role, ct_url, str(data)]
    )


def _wait_file(path: Path, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"server did not start ({path.name})")
        time.sleep(0.1)
    time.sleep(0.3)  # the file is written just before uvicorn binds


def _tree_size(url: str) -> int:
    import httpx

    return int(httpx.get(url + "/ct/v1/get-sth", timeout=5).json()["tree_size"])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        _, _, port, role, ct_url, data = sys.argv
        serve(int(port), role, ct_url, Path(data))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--ct",
        choices=["in-process", "http"],
        default="in-process",
        help="in-process: CA and CT log in one server; http: CT log in a second process",
    )
    parser.add_argument(
        "--keys",
        choices=["file", "pkcs11"],
        default="file",
        help="pkcs11: also run with the intermediate and CT keys in a SoftHSM2 token",
    )
    args = parser.parse_args()
    print(
        f"POST /api/v2/signingCert, CSR requests, {args.connections} connections, "
        f"{os.cpu_count()} cores"
    )
    p256 = run_one("ecdsa-p256", args)
    if args.keys == "pkcs11":
        token = run_one("ecdsa-p256", args, keys="pkcs11")
        print(f"token / file ratio (P-256): {token / p256:.2f}x")
        return
    p384 = run_one("ecdsa-p384", args)
    print(f"P-256 / P-384 ratio: {p256 / p384:.2f}x  (target: >= 300/s with P-256)")


if __name__ == "__main__":
    main()
