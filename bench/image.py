"""Image verification and signing against a local registry, next to the same work on files.

Starts a sceau instance (`sceau init` + `sceau serve`) and Debian's docker-registry on free
ports, pushes an image, then measures in this process:

- verify of an image with 1 and with 20 attached signatures (referrer layout): cold (a new
  Verifier and trusted root each time) and warm (one Verifier reused), against verifying the
  same bundles as files (no registry), so the ratio is the registry's cost;
- sign latency of one image signature against one file signature.

    python bench/image.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.local_server import free_port, wait_until_ok


@contextlib.contextmanager
def registry(tmp: Path) -> Iterator[str]:
    port = free_port()
    config = tmp / "registry.yml"
    config.write_text(
        f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: "
        f"{tmp / 'registry'}\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_until_ok(f"http://127.0.0.1:{port}/v2/", [proc])
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def instance(tmp: Path) -> Iterator[tuple[Path, str]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    directory = tmp / "instance"
    sceau = [sys.executable, "-m", "sceau"]
    subprocess.run([*sceau, "init", "--dir", str(directory), "--url", url], check=True,
                   capture_output=True)  # fmt: skip
    proc = subprocess.Popen([*sceau, "serve", "--dir", str(directory), "--log-level", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_until_ok(f"{url}/healthz", [proc])
        yield directory, url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def timed(fn, rounds: int) -> float:  # type: ignore[no-untyped-def]
    """Median seconds of ``rounds`` calls."""
    samples = []
    for _ in range(rounds):
        begin = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - begin)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from sceau.cli.image_cmd import SIGN_PREDICATE, Target, collect
    from sceau.client.hashing import Digest
    from sceau.client.oci import Descriptor, Registry
    from sceau.client.oci.layouts import attach_bundle
    from sceau.client.oci.registry import OCI_MANIFEST
    from sceau.client.policy import Identity
    from sceau.client.sign import SigningContext
    from sceau.client.signing_config import SigningConfig
    from sceau.client.trust import TrustedRoot
    from sceau.client.verify import Verifier
    from sceau.keys import load_signer
    from sceau.services.oidc import DevIssuer

    email = "bench@example.com"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with instance(tmp) as (directory, url), registry(tmp) as host:
            trust = (directory / "trust" / "trust_config.json").read_bytes()
            context = SigningContext(SigningConfig.from_trust_config(trust),
                                     TrustedRoot.from_trust_config(trust))  # fmt: skip
            dev = DevIssuer.for_instance(load_signer(directory / "keys" / "dev-oidc.pem"), url)
            policy = Identity(email, f"{url}/oidc")
            reg = Registry(host)
            targets = {}
            for count in (1, 20):
                repo = f"bench{count}"
                layer = reg.put_blob(repo, f"layer {count}".encode())
                config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [layer]}}).encode()
                manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": reg.put_blob(repo, config), "size": len(config)},
                    "layers": []}).encode()  # fmt: skip
                digest = reg.put_manifest(repo, "v1", manifest, OCI_MANIFEST)
                subject = Descriptor(OCI_MANIFEST, digest, len(manifest))
                statement = {"_type": "https://in-toto.io/Statement/v1",
                             "subject": [{"name": f"{host}/{repo}",
                                          "digest": {"sha256": digest[7:]}}],
                             "predicateType": SIGN_PREDICATE, "predicate": {}}  # fmt: skip
                bundles = []
                with context.signer(dev.mint_email(email)) as signer:
                    for _ in range(count):
                        bundle = signer.sign_dsse(statement).to_json().encode()
                        attach_bundle(reg, repo, subject, bundle, SIGN_PREDICATE)
                        bundles.append(bundle)
                from sceau.client.oci.reference import Reference

                ref = Reference(host, repo, "v1")
                targets[count] = (Target(ref, digest, OCI_MANIFEST, manifest), bundles)

            warm = Verifier(TrustedRoot.from_trust_config(trust))
            print(f"{'case':<34}{'image':>10}{'files':>10}{'ratio':>8}")
            for count, (target, bundles) in targets.items():
                d = Digest.parse(target.digest)

                def image(verifier=None, target=target, d=d):  # type: ignore[no-untyped-def]
                    v = verifier or Verifier(TrustedRoot.from_trust_config(trust))
                    for _, bundle, _ in collect(reg, target):
                        v.verify_artifact(bundle, d, policy)

                def files(verifier=None, bundles=bundles, d=d):  # type: ignore[no-untyped-def]
                    v = verifier or Verifier(TrustedRoot.from_trust_config(trust))
                    for bundle in bundles:
                        v.verify_artifact(bundle, d, policy)

                for label, kw in (("cold", {}), ("warm", {"verifier": warm})):
                    t_image = timed(lambda kw=kw, image=image: image(**kw), args.rounds)
                    t_files = timed(lambda kw=kw, files=files: files(**kw), args.rounds)
                    print(f"verify {count:>2} signature(s), {label:<14}{t_image * 1000:>8.1f}ms"
                          f"{t_files * 1000:>8.1f}ms{t_image / t_files:>8.2f}")  # fmt: skip

            target, _ = targets[1]
            with context.signer(dev.mint_email(email)) as signer:
                statement = {"_type": "https://in-toto.io/Statement/v1", "subject": [
                    {"name": target.ref.name, "digest": {"sha256": target.digest[7:]}}],
                    "predicateType": SIGN_PREDICATE, "predicate": {}}  # fmt: skip

                def sign_image() -> None:
                    bundle = signer.sign_dsse(statement).to_json().encode()
                    attach_bundle(reg, target.ref.repository,
                                  Descriptor(OCI_MANIFEST, target.digest, len(target.manifest)),
                                  bundle, SIGN_PREDICATE)  # fmt: skip

                def sign_file() -> None:
                    signer.sign_dsse(statement)

                t_image = timed(sign_image, args.rounds)
                t_file = timed(sign_file, args.rounds)
            print(f"{'sign (one certificate)':<34}{t_image * 1000:>8.1f}ms{t_file * 1000:>8.1f}ms"
                  f"{t_image / t_file:>8.2f}")  # fmt: skip
            reg.close()


if __name__ == "__main__":
    main()
