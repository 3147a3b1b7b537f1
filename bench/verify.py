"""Benchmark: offline bundle verification, sceau vs sigstore-python, in one run.

Prints:
- bundles/s verified in-process by ``sceau.client.verify.Verifier`` and by
  ``sigstore.verify.Verifier`` on the same public-good bundles (the happy-path conformance
  vectors, production trusted root, no network), and the ratio (target ≥ 2×);
- the wall time of one offline CLI verification: ``sceau verify …`` against
  ``sigstore --trust-config … verify identity --offline …`` (a ClientTrustConfig wrapping the same
  production root, so neither touches the network), and the ratio (target ≤ 0.5×).

    .venv/bin/python bench/verify.py [--seconds 2] [--cli-runs 7]
"""

from __future__ import annotations

import argparse
import json
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


def rates(fns: list[Callable[[], None]], seconds: float) -> list[float]:
    """Calls per second of each ``fn``, measured interleaved (A, B, C, A, B, C, …) so that
    load from other processes on the machine hits every contender alike."""
    for fn in fns:
        fn()  # warm imports and trust-root parsing
    spent = [0.0] * len(fns)
    calls = 0
    while sum(spent) < seconds * len(fns):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            spent[i] += time.perf_counter() - start
        calls += 1
    return [calls / t for t in spent]


def sceau_round(cases: list[tuple[bytes, bytes, bool]], warm: bool = False) -> Callable[[], None]:
    from sceau.client.policy import Identity
    from sceau.client.trust import TrustedRoot
    from sceau.client.verify import Verifier

    verifier = Verifier(TrustedRoot.from_json((PRODUCTION / "trusted_root.json").read_bytes()))
    policy = Identity(IDENTITY, ISSUER)

    def run() -> None:
        for bundle, artifact, _ in cases:
            if not warm:
                verifier.clear_cache()  # every certificate is new to the verifier
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


def _floor() -> None:
    """The public-key operations every verifier must do per bundle (keyless, Rekor v1):
    one P-384 ECDSA verify (Fulcio intermediate -> leaf) and four P-256 ones (SCT,
    checkpoint, SET, artifact signature)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    def cost(curve: ec.EllipticCurve, h: hashes.HashAlgorithm) -> float:
        key = ec.generate_private_key(curve)
        sig, pub = key.sign(b"m", ec.ECDSA(h)), key.public_key()
        n, start = 300, time.perf_counter()
        for _ in range(n):
            pub.verify(sig, b"m", ec.ECDSA(h))
        return (time.perf_counter() - start) / n

    p384, p256 = cost(ec.SECP384R1(), hashes.SHA384()), cost(ec.SECP256R1(), hashes.SHA256())
    print(
        f"  crypto floor per bundle: 1 P-384 + 4 P-256 verifies = "
        f"{(p384 + 4 * p256) * 1000:.2f} ms ({p384 * 1e6:.0f} + 4 x {p256 * 1e6:.0f} us)"
    )


def walls(cmds: list[list[str]], runs: int) -> list[float]:
    """Median wall time of each command, runs interleaved."""
    times: list[list[float]] = [[] for _ in cmds]
    for _ in range(runs):
        for i, cmd in enumerate(cmds):
            start = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True)
            times[i].append(time.perf_counter() - start)
            if r.returncode != 0:
                raise SystemExit(f"command failed: {' '.join(cmd)}\n{r.stderr}")
    return [statistics.median(t) for t in times]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--cli-runs", type=int, default=7)
    args = ap.parse_args()

    cases = load_cases()
    n = len(cases)
    ours, warm, theirs = (
        r * n
        for r in rates(
            [sceau_round(cases), sceau_round(cases, warm=True), sigstore_round(cases)],
            args.seconds,
        )
    )
    print(f"in-process, {n} happy-path bundles (production root, offline):")
    print(f"  sigstore-python          {theirs:7.0f} bundles/s  ({1000 / theirs:.2f} ms each)")
    print(
        f"  sceau, new certificates  {ours:7.0f} bundles/s  ({1000 / ours:.2f} ms each)"
        f"  ratio {ours / theirs:.2f}x"
    )
    print(
        f"  sceau, known certificate {warm:7.0f} bundles/s  ({1000 / warm:.2f} ms each)"
        f"  ratio {warm / theirs:.2f}x  (chain+SCT remembered, e.g. many files one cert)"
    )
    print("  target: >= 2x")
    _floor()

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
            "--offline",
            artifact,
            "--bundle",
            bundle,
            "--cert-identity",
            IDENTITY,
            "--cert-oidc-issuer",
            ISSUER,
        ]
        ours_wall, theirs_wall = walls([sceau_cmd, sigstore_cmd], args.cli_runs)
    print(f"CLI wall time of one offline verify (median of {args.cli_runs}):")
    print(f"  sceau verify              {ours_wall * 1000:6.0f} ms")
    print(f"  sigstore verify identity  {theirs_wall * 1000:6.0f} ms")
    print(f"  ratio                     {ours_wall / theirs_wall:6.2f}x  (target <= 0.5x)")


if __name__ == "__main__":
    main()
