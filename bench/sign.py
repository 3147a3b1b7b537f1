"""Benchmark: keyless signing against one local instance, sceau vs sigstore-python.

Starts a fresh instance (``sceau init`` + ``sceau serve`` on a free port, as the tests do),
then prints:
- signatures/s in-process with one certificate (the CA is asked once), for Rekor v1 and v2,
  by ``sceau.client.sign.Signer`` and by sigstore-python's ``Signer(cache=True)`` on the same
  instance, sequentially (each signature waits for its log batch, so this measures latency);
- the wall time of one CLI signature: ``sceau sign --trust-config …`` against
  ``sigstore --trust-config … sign`` (CA + TSA + log each time).

    .venv/bin/python bench/sign.py [--count 20] [--cli-runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from local_server import NotServing, free_port, wait_until_ok  # bench/ is sys.path[0]

BIN = Path(sys.executable).parent
EMAIL = "bench@example.com"


def start_instance(base: Path) -> tuple[Path, str, subprocess.Popen[bytes]]:

    url = f"http://127.0.0.1:{free_port()}"
    d = base / "instance"
    subprocess.run([BIN / "sceau", "init", "--dir", d, "--url", url], check=True,
                   capture_output=True)  # fmt: skip
    proc = subprocess.Popen([BIN / "sceau", "serve", "--dir", d, "--log-level", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_until_ok(f"{url}/healthz", [proc])
    except NotServing:
        proc.kill()
        raise
    return d, url, proc


def trust_config_for(d: Path, version: int, out: Path) -> Path:
    doc = json.loads((d / "trust" / "trust_config.json").read_text())
    sc = doc["signingConfig"]
    sc["rekorTlogUrls"] = [u for u in sc["rekorTlogUrls"] if u["majorApiVersion"] == version]
    out.write_text(json.dumps(doc))
    return out


def rate(fn: Callable[[bytes], object], count: int) -> float:
    fn(b"warm-up")
    start = time.perf_counter()
    for i in range(count):
        fn(b"artifact %d %f" % (i, start))
    return count / (time.perf_counter() - start)


def bench_in_process(cfg: Path, token: str, count: int) -> tuple[float, float]:
    from sigstore.models import ClientTrustConfig
    from sigstore.oidc import IdentityToken
    from sigstore.sign import SigningContext as PyContext

    from sceau.client.sign import SigningContext

    with SigningContext.from_trust_config(cfg).signer(token) as signer:
        ours = rate(signer.sign_artifact, count)
    py_ctx = PyContext.from_trust_config(ClientTrustConfig.from_json(cfg.read_text()))
    with py_ctx.signer(IdentityToken(token), cache=True) as py_signer:
        theirs = rate(py_signer.sign_artifact, count)
    return ours, theirs


def cli_time(cmd: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--cli-runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        d, url, proc = start_instance(base)
        try:
            from sceau.cli.dev_token import load_dev_issuer

            token = load_dev_issuer(d).mint_email(EMAIL, lifetime=3600)
            print(f"instance {url}; {args.count} sequential signatures per client")
            for version in (1, 2):
                cfg = trust_config_for(d, version, base / f"cfg{version}.json")
                ours, theirs = bench_in_process(cfg, token, args.count)
                print(f"  Rekor v{version}: sceau {ours:6.1f}/s   sigstore-python {theirs:6.1f}/s"
                      f"   ratio {ours / theirs:4.2f}x")  # fmt: skip
            art = base / "artifact.txt"
            art.write_text("cli bench\n")
            env = {**os.environ, "HOME": str(base), "XDG_CACHE_HOME": str(base / ".cache")}
            cfg = str(d / "trust" / "trust_config.json")
            ours = cli_time([str(BIN / "sceau"), "sign", "--trust-config", cfg,
                             "--identity-token", token, str(art)], args.cli_runs, env)  # fmt: skip
            theirs = cli_time([str(BIN / "sigstore"), "--trust-config", cfg, "sign",
                               "--identity-token", token, "--overwrite", str(art)],
                              args.cli_runs, env)  # fmt: skip
            print(f"  CLI, one file: sceau {ours:.3f}s   sigstore-python {theirs:.3f}s"
                  f"   ratio {ours / theirs:4.2f}x")  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
