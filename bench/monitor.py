"""Benchmark: how fast ``sceau monitor`` catches up on a Rekor v2 log.

Fills a Rekor v2 log with ``--entries`` hashedrekord 0.0.2 entries (each with a Fulcio-like
certificate, one of ``--signers`` identities) straight through the log engine, serves it
over HTTP from a separate process, then measures, on this machine:

- catch-up from tiles: ``run_pass`` from index 0 — entry bundles fetched 256 at a time,
  every leaf hashed into the compact range and checked against the signed root, every entry
  matched against a watch file naming one identity, once exactly (certificates without the
  identity's bytes are skipped unparsed) and once by regexp (every certificate parsed);
- the same entries read one request per entry (``GET /api/v2/log/entries/{i}``, a sample of
  ``--sample`` entries on one keep-alive connection), for comparison.

    .venv/bin/python bench/monitor.py [--entries 200000] [--signers 100] [--sample 2000]

Goal (issue 16): catch-up ≥ 5,000 entries/s over 200,000 entries.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from local_server import free_port, wait_until_ok  # bench/ is sys.path[0]

ROOT = Path(__file__).resolve().parents[1]
FULCIO_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
ISSUER = "https://issuer.example.test"


def certificates(n: int) -> list[bytes]:
    """``n`` Fulcio-shaped leaves (email SAN, issuer extension) signed by one CA key."""
    ca = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench-intermediate")])
    now = dt.datetime.now(dt.UTC)
    issuer_ext = b"\x0c" + bytes([len(ISSUER)]) + ISSUER.encode()
    out = []
    for i in range(n):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(minutes=10))
            .add_extension(
                x509.SubjectAlternativeName([x509.RFC822Name(f"user{i}@example.com")]), True
            )
            .add_extension(x509.UnrecognizedExtension(FULCIO_ISSUER_V2, issuer_ext), False)
            .sign(ca, hashes.SHA256())
        )
        out.append(cert.public_bytes(Encoding.DER))
    return out


def body(cert_b64: str, i: int) -> bytes:
    """A canonical hashedrekord 0.0.2 leaf (keys in JCS order)."""
    digest = base64.b64encode(i.to_bytes(8, "big") + os.urandom(24)).decode()
    sig = base64.b64encode(os.urandom(70)).decode()
    return (
        '{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":{"data":'
        f'{{"algorithm":"SHA2_256","digest":"{digest}"}},"signature":{{"content":"{sig}",'
        '"verifier":{"keyDetails":"PKIX_ECDSA_P256_SHA_256","x509Certificate":{"rawBytes":'
        f'"{cert_b64}"}}}}}}}}}}}}'
    ).encode()


def _rekor(db: Path, keys: Path, url: str):  # type: ignore[no-untyped-def]
    from sceau.keys import load_signer
    from sceau.log import LogEngine
    from sceau.log.sqlite import SQLiteStorage
    from sceau.services.rekor.service import RekorConfig, build_rekor

    engine = LogEngine(SQLiteStorage(db), batch_interval=0.02, batch_size=2048, max_pending=8192)
    rekor = build_rekor(
        engine, RekorConfig(url, load_signer(keys / "v1.pem"), load_signer(keys / "v2.pem"))
    )
    return engine, rekor


async def fill(db: Path, keys: Path, url: str, entries: int, certs: list[bytes]) -> None:
    engine, rekor = _rekor(db, keys, url)
    await engine.start()
    lg = rekor.v2_log
    encoded = [base64.b64encode(c).decode() for c in certs]
    writers = 4096

    async def writer(w: int) -> None:
        for i in range(w, entries, writers):
            await lg.append(body(encoded[i % len(encoded)], i))

    await asyncio.gather(*(writer(w) for w in range(writers)))
    await engine.close()


def serve(argv: list[str]) -> None:
    import uvicorn

    p = argparse.ArgumentParser()
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--keys", type=Path, required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--port", type=int, required=True)
    a = p.parse_args(argv)
    engine, rekor = _rekor(a.db, a.keys, a.url)
    config = uvicorn.Config(
        rekor.app(engine), host="127.0.0.1", port=a.port, log_level="warning", access_log=False
    )
    uvicorn.Server(config).run()


def per_entry_rate(url: str, sample: int, start: int) -> float:
    import httpx

    from sceau.monitor.entries import parse_rekor

    with httpx.Client(timeout=30) as client:
        t = time.perf_counter()
        for i in range(start, start + sample):
            r = client.get(f"{url}/api/v2/log/entries/{i}")
            r.raise_for_status()
            parse_rekor(base64.b64decode(r.json()["canonicalizedBody"]))
        return sample / (time.perf_counter() - t)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2:])
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--entries", type=int, default=200_000)
    p.add_argument("--signers", type=int, default=100)
    p.add_argument("--sample", type=int, default=2000)
    a = p.parse_args()

    from sceau.keys import generate_signer, save_signer
    from sceau.monitor.logs import LogTarget
    from sceau.monitor.run import run_pass
    from sceau.monitor.sources import Http, TileSource
    from sceau.monitor.watch import parse_watch
    from sceau.note import log_id, note_verifier

    with tempfile.TemporaryDirectory(prefix="sceau-bench-monitor-") as tmp:
        work = Path(tmp)
        keys = work / "keys"
        keys.mkdir()
        v1, v2 = generate_signer("ecdsa-p256"), generate_signer("ed25519")
        save_signer(v1, keys / "v1.pem")
        save_signer(v2, keys / "v2.pem")
        port = free_port()
        url, host = f"http://127.0.0.1:{port}", f"127.0.0.1:{port}"
        db = work / "log.sqlite"
        certs = certificates(a.signers)
        t = time.perf_counter()
        asyncio.run(fill(db, keys, url, a.entries, certs))
        print(f"filled {a.entries} entries in {time.perf_counter() - t:.1f} s", flush=True)

        server = subprocess.Popen(
            [sys.executable, __file__, "serve", "--db", str(db), "--keys", str(keys),
             "--url", url, "--port", str(port)],
            cwd=ROOT,
        )  # fmt: skip
        try:
            wait_until_ok(f"{url}/api/v2/checkpoint", [server], 120)
            target = LogTarget(
                "rekor-v2", url, host, log_id(host, v2.public_key()),
                note_verifier(host, v2.public_key()),
            )  # fmt: skip
            rates = {}
            for label, rules in (
                ("exact_identity", {"identities": ["user7@example.com"]}),
                ("identity_regexp", {"identity_regexps": ["^user7@example[.]com$"]}),
            ):
                http = Http()
                t = time.perf_counter()
                result = run_pass(
                    target, TileSource(http, f"{url}/api/v2"), work / label, parse_watch(rules),
                    from_index=0,
                )  # fmt: skip
                seconds = time.perf_counter() - t
                http.close()
                rates[label] = {
                    "entries": result.scanned,
                    "matches": len(result.matches),
                    "seconds": round(seconds, 2),
                    "entries_per_s": round(result.scanned / seconds),
                }
            per_entry = per_entry_rate(url, a.sample, 1)
        finally:
            server.terminate()
            server.wait(timeout=30)
    report = {
        "tiles": rates,
        "per_entry_requests": {"sample": a.sample, "entries_per_s": round(per_entry)},
        "speedup": round(rates["exact_identity"]["entries_per_s"] / per_entry, 1),
        "goal_entries_per_s": 5000,
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
