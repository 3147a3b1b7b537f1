"""Benchmark: offline bundle verification, sceau vs sigstore-python, in one run.

Prints:
- bundles/s verified in-process by ``sceau.client.verify.Verifier`` and by
  ``sigstore.verify.Verifier`` on the same public-good bundles (the happy-path conformance
  vectors, production trusted root, no network), and the ratio (target ≥ 2×);
- the wall time of one offline CLI verification: ``sceau verify …`` against
  ``sigstore --trust-config … verify identity …`` (a ClientTrustConfig wrapping the same
  production root, so neither touches the network), and the ratio (target ≤ 0.5×).

    .venv/bin/python bench/verify.py [--seconds 2] [--cli-runs 7]
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

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT.parent / "shared" / "vectors"
BV = VECTORS / "bundle-verify"
PRODUCTION = VECTORS / "public-good" / "production"
IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ISSUER = "https://token.actions.githubusercontent.com"
# (case directory, is DSSE) — every happy path verifiable with the production root.
CASES = [
    ("happy-path-v0.1", False),
    ("happy-path-v0.3", False),
    ("happy-path-v0.3-new-mediaType", False),
    ("happy-path-intoto-in-dsse-v3", True),
]


def load_cases() -> list[tuple[bytes, bytes, bool]]:
    out = []
    for name, dsse in CASES:
        d = BV / name
        artifact = (d / "artifact") if (d / "artifact").exists() else BV / "a.txt"
        out.append(((d / "bundle.sigstore.json").read_bytes(), artifact.read_bytes(), dsse))
    return out


def rate(fn: Callable[[], None], seconds: float) -> float:
    """Calls per second of ``fn`` (each call verifies every case once)."""
    fn()  # warm caches, imports
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        n += 1
    return n / elapsed


def sceau_round(cases: list[tuple[bytes, bytes, bool]]) -> Callable[[], None]:
    from sceau.client.policy import Identity
    from sceau.client.trust import TrustedRoot
    from sceau.client.verify import Verifier

    verifier = Verifier(TrustedRoot.from_json((PRODUCTION / "trusted_root.json").read_bytes()))
    policy = Identity(IDENTITY, ISSUER)

    def run() -> None:
        for bundle, artifact, _ in cases:
            verifier.verify_artifact(bundle, artifact, policy)

    return run


def sigstore_round(cases: list[tuple[bytes, bytes, bool]]) -> Callable[[], None]:
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier
    from sigstore.verify.policy import Identity

    verifier = Verifier(trusted_root=TrustedRoot.from_file(str(PRODUCTION / "trusted_root.json")))
    policy = Identity(identity=IDENTITY, issuer=ISSUER)

    def run() -> None:
        for bundle, artifact, dsse in cases:
            b = Bundle.from_json(bundle)
            if dsse:
                verifier.verify_dsse(b, policy)
            else:
                verifier.verify_artifact(artifact, b, policy)

    return run


def wall(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if r.returncode != 0:
            raise SystemExit(f"command failed: {' '.join(cmd)}\n{r.stderr}")
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--cli-runs", type=int, default=7)
    args = ap.parse_args()

    cases = load_cases()
    n = len(cases)
    ours = rate(sceau_round(cases), args.seconds) * n
    theirs = rate(sigstore_round(cases), args.seconds) * n
    print(f"in-process, {n} happy-path bundles (production root, offline):")
    print(f"  sceau           {ours:8.0f} bundles/s  ({1000 / ours:.2f} ms each)")
    print(f"  sigstore-python {theirs:8.0f} bundles/s  ({1000 / theirs:.2f} ms each)")
    print(f"  ratio           {ours / theirs:8.2f}x  (target >= 2x)")

    bindir = Path(sys.executable).parent
    case = BV / "happy-path-v0.3"
    artifact = str(BV / "a.txt")
    bundle = str(case / "bundle.sigstore.json")
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "trust_config.json"
        config.write_text(
            json.dumps(
                {
                    "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
                    "trustedRoot": json.loads((PRODUCTION / "trusted_root.json").read_text()),
                    "signingConfig": json.loads(
                        (PRODUCTION / "signing_config.v0.2.json").read_text()
                    ),
                }
            )
        )
        env_note = os.environ.get("SIGSTORE_OFFLINE")
        sceau_cmd = [
            str(bindir / "sceau"),
            "verify",
            artifact,
            "--bundle",
            bundle,
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
        ]
        sigstore_cmd = [
            str(bindir / "sigstore"),
            "--trust-config",
            str(config),
            "verify",
            "identity",
            artifact,
            "--bundle",
            bundle,
            "--cert-identity",
            IDENTITY,
            "--cert-oidc-issuer",
            ISSUER,
        ]
        ours_wall = wall(sceau_cmd, args.cli_runs)
        theirs_wall = wall(sigstore_cmd, args.cli_runs)
    del env_note
    print(f"CLI wall time of one offline verify (median of {args.cli_runs}):")
    print(f"  sceau verify              {ours_wall * 1000:6.0f} ms")
    print(f"  sigstore verify identity  {theirs_wall * 1000:6.0f} ms")
    print(f"  ratio                     {ours_wall / theirs_wall:6.2f}x  (target <= 0.5x)")


if __name__ == "__main__":
    main()
