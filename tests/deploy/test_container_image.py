"""The container image: ``tools/build-image`` builds ``deploy/container/Containerfile`` with
buildah, the image runs as its unprivileged user on a volume, and sigstore-python signs
and verifies against the instance it serves.

No registry is reachable from the test machines, so the base image is made here: a
minimal Debian (``debootstrap``, the same Python 3.11 the wheels are built for), committed
as ``localhost/sceau-test-base`` and kept for later runs. ``SCEAU_TEST_BASE_IMAGE`` names
another (``docker.io/library/python:3.11-slim-bookworm`` where it can be pulled). The image
runs with ``buildah run --isolation chroot``: this machine's kernel lets no OCI runtime
(crun, runc) set resource limits, and chroot isolation needs none.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.local_server import NotServing, wait_until_ok
from tests.instance import client_env
from tests.serving import free_port

ROOT = Path(__file__).resolve().parents[2]
SIGSTORE = str(Path(sys.executable).with_name("sigstore"))
BASE = "localhost/sceau-test-base:bookworm"
TAG = "localhost/sceau-test:latest"
UID = 65532
EMAIL = "container@example.com"
pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.interop]

if os.geteuid() != 0:  # buildah's storage, debootstrap and chown need root here
    pytest.skip("building and running the image needs root", allow_module_level=True)


def _run(*argv: str, timeout: float = 600, **kw) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    assert done.returncode == 0, (argv[:3], done.stdout[-2000:], done.stderr[-4000:])
    return done


def _image_exists(name: str) -> bool:
    return subprocess.run(["buildah", "inspect", "--type", "image", name],
                          capture_output=True).returncode == 0  # fmt: skip


def _base_image(tmp: Path) -> str:
    """A Debian bookworm with Python 3.11 and its venv module, committed once."""
    if os.environ.get("SCEAU_TEST_BASE_IMAGE"):
        return os.environ["SCEAU_TEST_BASE_IMAGE"]
    if _image_exists(BASE):
        return BASE
    assert shutil.which("debootstrap"), "debootstrap is missing: tools/install-test-deps"
    rootfs = tmp / "rootfs"
    _run("debootstrap", "--variant=minbase", "--include=python3,python3-venv", "bookworm",
         str(rootfs), "http://deb.debian.org/debian")  # fmt: skip
    for junk in ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
                 "usr/share/locale"):  # fmt: skip
        shutil.rmtree(rootfs / junk, ignore_errors=True)
    container = _run("buildah", "from", "scratch").stdout.strip()
    try:
        mount = Path(_run("buildah", "mount", container).stdout.strip())
        _run("cp", "-a", f"{rootfs}/.", f"{mount}/")
        _run("buildah", "umount", container)
        _run("buildah", "config", "--env", "PATH=/usr/local/bin:/usr/bin:/bin", container)
        _run("buildah", "commit", "--quiet", container, BASE)
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True)
        shutil.rmtree(rootfs, ignore_errors=True)
    return BASE


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert shutil.which("buildah"), "buildah is missing: tools/install-test-deps installs it"
    tmp = tmp_path_factory.mktemp("image")
    env = {**os.environ, "BASE": _base_image(tmp), "TAG": TAG, "WHEELS": str(tmp / "wheels"),
           "PYTHON": sys.executable, "BUILDAH_ISOLATION": "chroot"}  # fmt: skip
    built = _run(str(ROOT / "tools" / "build-image"), env=env, cwd=ROOT)
    assert f"built {TAG}" in built.stdout
    try:
        yield TAG
    finally:
        subprocess.run(["buildah", "rmi", "--force", TAG], capture_output=True)


def _config(image: str) -> dict:
    info = json.loads(_run("buildah", "inspect", "--type", "image", image).stdout)
    return dict(info["OCIv1"]["config"])


def _layers_bytes(image: str) -> list[int]:
    manifest = json.loads(_run("skopeo", "inspect", "--raw", f"containers-storage:{image}").stdout)
    return [int(layer["size"]) for layer in manifest["layers"]]  # uncompressed tar bytes


def test_the_image_is_small_and_unprivileged(image: str) -> None:
    config = _config(image)
    assert config["User"] == f"{UID}:{UID}"
    assert config["Entrypoint"] == ["sceau"]
    assert config["Cmd"][:2] == ["serve", "--init"] and "--log-format" in config["Cmd"]
    assert "/var/lib/sceau" in config["Volumes"] and "8080/tcp" in config["ExposedPorts"]
    layers = _layers_bytes(image)
    base = sum(_layers_bytes(os.environ.get("SCEAU_TEST_BASE_IMAGE") or BASE))
    added = sum(layers) - base
    # sceau and its dependencies (cryptography, uvloop, psycopg, …) over the base: one layer
    # for the venv, one for the volume's directory
    assert added < 140_000_000, f"the image adds {added / 1e6:.0f} MB to its base"
    print(f"image {sum(layers) / 1e6:.0f} MB: base {base / 1e6:.0f} MB + {added / 1e6:.0f} MB")


def test_the_image_serves_an_instance_sigstore_python_signs_against(
    image: str, tmp_path: Path
) -> None:
    volume = tmp_path / "volume"
    volume.mkdir(mode=0o700)
    os.chown(volume, UID, UID)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = _config(image)
    container = _run("buildah", "from", image).stdout.strip()
    log = tmp_path / "container.log"
    # the image's own command, with this test's port and URL appended (the last one wins)
    command = [*config["Entrypoint"], *config["Cmd"], "--host", "127.0.0.1",
               "--port", str(port), "--url", url, "--dev-oidc"]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["buildah", "run", "--isolation", "chroot", "--user", config["User"],
             "-v", f"{volume}:/var/lib/sceau", container, "--", *command],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        try:
            wait_until_ok(f"{url}/healthz", [proc], timeout=60)
        except NotServing as e:
            pytest.fail(f"the container did not serve: {e}\n{log.read_text()[-3000:]}")
        instance = volume / "instance"
        assert instance.stat().st_uid == UID
        keys = list((instance / "keys").glob("*.pem"))
        assert keys and all((k.stat().st_mode & 0o777) == 0o600 for k in keys)
        first = json.loads(log.read_text().splitlines()[0])  # --log-format json
        assert {"time", "level"} <= first.keys()
        assert httpx.get(f"{url}/_explorer/verify.js").status_code == 200  # package data
        env = client_env(tmp_path / "home")
        token_value = _run(sys.executable, "-m", "sceau", "dev-token", "--dir", str(instance),
                           "--email", EMAIL, env=env).stdout.strip()  # fmt: skip
        trust = str(instance / "trust" / "trust_config.json")
        artifact = tmp_path / "a.txt"
        artifact.write_text("signed against a container\n")
        for argv in (
            ["sign", "--identity-token", token_value, str(artifact)],
            ["verify", "identity", str(artifact), "--bundle", f"{artifact}.sigstore.json",
             "--cert-identity", EMAIL, "--cert-oidc-issuer", f"{url}/oidc"],
        ):  # fmt: skip
            done = subprocess.run([SIGSTORE, "--trust-config", trust, *argv],
                                  capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
            assert done.returncode == 0, (argv[0], done.stderr)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        subprocess.run(["buildah", "rm", container], capture_output=True)
