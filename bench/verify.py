"""Benchmark: offline bundle verification, sceau vs sigstore-python, in one run.

Prints, for two sets of bundles:
- public-good: the happy-path conformance vectors (production trusted root, no network);
- distinct certificates: bundles signed by a local instance (``sceau init`` + ``serve``, its
  Fulcio intermediate made P-384 like public-good's, Rekor v1, no TSA — the shape of the
  public-good vectors), every one with its own ephemeral key and certificate;

bundles/s verified in-process by ``sceau.client.verify.Verifier`` and by
``sigstore.verify.Verifier`` on the same bundles, interleaved, and the ratios (target ≥ 2×):
- cold: every bundle's certificate is unseen by the verifier (its certificate cache is
  cleared before each bundle; the distinct set also never repeats a certificate in a pass);
- warm: the verifier has seen the certificate (chain and SCT remembered: many files, one
  certificate). sigstore-python has no such cache: its number is the same in both rows.

and, measured in the same interleaved loop, the crypto floor: only the public-key
operations any verifier must do per cold bundle (1 P-384 + 4 P-256 ECDSA verifies), whose
ratio to sigstore-python bounds what any cold verifier can reach. Then the wall time of one
offline CLI verification: ``sceau verify …`` against ``sigstore --trust-config … verify
identity --offline …`` (target ≤ 0.5×).

    .venv/bin/python bench/verify.py [--seconds 2] [--rounds 5] [--distinct 24] [--cli-runs 7]

The machine may be shared: every figure is the median of ``--rounds`` interleaved rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from local_server import free_port, wait_until_ok  # bench/ is sys.path[0]

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "vectors"
BV = VECTORS / "bundle-verify"
PRODUCTION = VECTORS / "public-good" / "production"
BIN = Path(sys.executable).parent
IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ISSUER = "https://token.actions.githubusercontent.com"
EMAIL = "bench@example.com"
# (case directory, is DSSE) — every happy path verifiable with the production root.
CASES = [
    ("happy-path-v0.1", False),
    ("happy-path-v0.3", False),
    ("happy-path-v0.3-new-mediaType", False),
    ("happy-path-intoto-in-dsse-v3", True),
]


class Workload:
    """Bundles (bytes, artifact bytes, is DSSE) with the trusted root and identity they need."""

    def __init__(
        self,
        name: str,
        trusted_root: bytes,
        cases: list[tuple[bytes, bytes, bool]],
        identity: str,
        issuer: str,
    ) -> None:
        self.name, self.trusted_root, self.cases = name, trusted_root, cases
        self.identity, self.issuer = identity, issuer


def public_good() -> Workload:
    cases = []
    for name, dsse in CASES:
        d = BV / name
        artifact = (d / "artifact") if (d / "artifact").exists() else BV / "a.txt"
        cases.append(((d / "bundle.sigstore.json").read_bytes(), artifact.read_bytes(), dsse))
    root = (PRODUCTION / "trusted_root.json").read_bytes()
    return Workload("public-good happy paths", root, cases, IDENTITY, ISSUER)


# -- a local instance shaped like public-good -------------------------------------------

_INIT = (
    "import sys, sceau.instance.material as i; i.KEY_FILES['ca-intermediate'] = 'ecdsa-p384'; "
    "from sceau.cli.main import main; sys.exit(main(sys.argv[1:]))"
)


@contextmanager
def local_instance(base: Path) -> Iterator[tuple[Path, str]]:
    """``sceau init`` (P-384 root and intermediate, as public-good's Fulcio) and ``serve``."""

    url = f"http://127.0.0.1:{free_port()}"
    d = base / "instance"
    init = [sys.executable, "-c", _INIT, "init", "--dir", str(d), "--url", url]
    subprocess.run(init, check=True, capture_output=True)
    serve = [str(BIN / "sceau"), "serve", "--dir", str(d), "--log-level", "warning"]
    proc = subprocess.Popen(serve, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_ok(f"{url}/healthz", [proc])
        yield d, url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def distinct(count: int) -> Workload:
    """``count`` bundles from a local instance, each signed with a fresh key and certificate
    (Rekor v1 with SET and inclusion proof, no TSA: the shape of the public-good vectors)."""
    from sceau.cli.dev_token import load_dev_issuer
    from sceau.client.sign import SigningContext

    with tempfile.TemporaryDirectory() as tmp, local_instance(Path(tmp)) as (d, _):
        doc = json.loads((d / "trust" / "trust_config.json").read_text())
        sc = doc["signingConfig"]
        sc["rekorTlogUrls"] = [u for u in sc["rekorTlogUrls"] if u["majorApiVersion"] == 1]
        sc["tsaUrls"] = []
        issuer = load_dev_issuer(d)
        token = issuer.mint_email(EMAIL, lifetime=3600)
        ctx = SigningContext.from_trust_config(json.dumps(doc).encode())
        cases, certs = [], set()
        for i in range(count):
            artifact = b"distinct-certificate artifact %d\n" % i
            with ctx.signer(token) as signer:  # a new signer: a new key and certificate
                bundle = signer.sign_artifact(artifact)
            cases.append((bundle.to_json().encode(), artifact, False))
            certs.add(bundle.certificate)
        assert len(certs) == count, "certificates repeat"
        name = f"{count} distinct certificates (local instance, P-384 CA, Rekor v1)"
        return Workload(
            name, json.dumps(doc["trustedRoot"]).encode(), cases, EMAIL, _issuer_url(token)
        )


def _issuer_url(token: str) -> str:
    import base64

    claims = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["iss"])


# -- in-process -----------------------------------------------------------------------------


def sceau_round(w: Workload, warm: bool = False) -> Callable[[], None]:
    from sceau.client.policy import Identity
    from sceau.client.trust import TrustedRoot
    from sceau.client.verify import Verifier

    verifier = Verifier(TrustedRoot.from_json(w.trusted_root))
    policy = Identity(w.identity, w.issuer)

    def run() -> None:
        for bundle, artifact, _ in w.cases:
            if not warm:
                verifier.clear_cache()  # the certificate is new to the verifier
            verifier.verify_artifact(bundle, artifact, policy)

    return run


def sigstore_round(w: Workload) -> Callable[[], None]:
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier
    from sigstore.verify.policy import Identity

    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        f.write(w.trusted_root)
        f.flush()
        verifier = Verifier(trusted_root=TrustedRoot.from_file(f.name))
    policy = Identity(identity=w.identity, issuer=w.issuer)

    def run() -> None:
        for bundle, artifact, dsse in w.cases:
            b = Bundle.from_json(bundle)
            if dsse:
                verifier.verify_dsse(b, policy)
            else:
                verifier.verify_artifact(artifact, b, policy)

    return run


def rates(fns: list[Callable[[], None]], seconds: float, rounds: int) -> list[float]:
    """Median over ``rounds`` of the calls per second of each ``fn``; within a round the
    calls are interleaved (A, B, C, A, B, C, …) so that load from other processes on the
    machine hits every contender alike."""
    for fn in fns:
        fn()  # warm imports and trust-root parsing
    per_round: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        spent = [0.0] * len(fns)
        calls = 0
        while sum(spent) < seconds * len(fns) / rounds:
            for i, fn in enumerate(fns):
                start = time.perf_counter()
                fn()
                spent[i] += time.perf_counter() - start
            calls += 1
        for i, t in enumerate(spent):
            per_round[i].append(calls / t)
    return [statistics.median(r) for r in per_round]


def in_process(w: Workload, seconds: float, rounds: int) -> None:
    n = len(w.cases)
    contenders = [sceau_round(w), sceau_round(w, warm=True), sigstore_round(w), floor_round(w)]
    cold, warm, theirs, bound = (r * n for r in rates(contenders, seconds, rounds))
    print(f"in-process, {w.name}, {n} bundles (offline):")
    print(f"  sigstore-python          {theirs:7.0f} bundles/s  ({1e6 / theirs:6.0f} us each)")
    print(
        f"  sceau, cold certificate  {cold:7.0f} bundles/s  ({1e6 / cold:6.0f} us each)"
        f"  ratio {cold / theirs:.2f}x  (target >= 2x)"
    )
    print(
        f"  sceau, warm certificate  {warm:7.0f} bundles/s  ({1e6 / warm:6.0f} us each)"
        f"  ratio {warm / theirs:.2f}x  (chain+SCT remembered: many files, one certificate)"
    )
    print(
        f"  crypto floor, cold       {bound:7.0f} bundles/s  ({1e6 / bound:6.0f} us each)"
        f"  ratio {bound / theirs:.2f}x  (1 P-384 + 4 P-256 verifies, nothing else: the"
        f" best any cold verifier can do)"
    )
    print(
        f"  overhead beyond the floor: sceau cold {1e6 / cold - 1e6 / bound:5.0f} us,"
        f" sigstore-python {1e6 / theirs - 1e6 / bound:5.0f} us per bundle"
    )


def floor_round(w: Workload) -> Callable[[], None]:
    """Only the public-key operations a verifier must do per cold bundle (keyless, Rekor
    v1): one P-384 ECDSA verify (Fulcio intermediate -> leaf) and four P-256 ones (SCT,
    checkpoint, SET, artifact signature) — no parsing, no checks."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    def op(curve: ec.EllipticCurve, h: hashes.HashAlgorithm) -> Callable[[], None]:
        key = ec.generate_private_key(curve)
        sig, pub, alg = key.sign(b"m" * 200, ec.ECDSA(h)), key.public_key(), ec.ECDSA(h)
        return lambda: pub.verify(sig, b"m" * 200, alg)

    p384 = op(ec.SECP384R1(), hashes.SHA384())
    p256 = [op(ec.SECP256R1(), hashes.SHA256()) for _ in range(4)]

    def run() -> None:
        for _ in w.cases:
            p384()
            for f in p256:
                f()

    return run


# -- CLI ------------------------------------------------------------------------------------


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


def cli(runs: int) -> None:
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
        sceau_cmd = [str(BIN / "sceau"), "verify", artifact, "--bundle", bundle,
                     "--certificate-identity", IDENTITY,
                     "--certificate-oidc-issuer", ISSUER]  # fmt: skip
        sigstore_cmd = [str(BIN / "sigstore"), "--trust-config", str(config), "verify",
                        "identity", "--offline", artifact, "--bundle", bundle,
                        "--cert-identity", IDENTITY, "--cert-oidc-issuer", ISSUER]  # fmt: skip
        ours, theirs = walls([sceau_cmd, sigstore_cmd], runs)
    print(f"CLI wall time of one offline verify (median of {runs}):")
    print(f"  sceau verify              {ours * 1000:6.0f} ms")
    print(f"  sigstore verify identity  {theirs * 1000:6.0f} ms")
    print(f"  ratio                     {ours / theirs:6.2f}x  (target <= 0.5x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="per contender and workload")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    ap.add_argument("--distinct", type=int, default=24, help="distinct-certificate bundles "
                    "from a local instance (0: skip)")  # fmt: skip
    ap.add_argument("--cli-runs", type=int, default=7, help="0: skip the CLI comparison")
    args = ap.parse_args()

    workloads = [public_good()]
    if args.distinct:
        workloads.append(distinct(args.distinct))
    for w in workloads:
        in_process(w, args.seconds, args.rounds)
    if args.cli_runs:
        cli(args.cli_runs)


if __name__ == "__main__":
    main()
