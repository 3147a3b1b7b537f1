"""A real registry (Debian's docker-registry, CNCF distribution) on a free port, plain or
with htpasswd basic auth; a served sceau instance; images built and pushed by the tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import httpx
import pytest

from bench.local_server import free_port
from sceau.client.oci import Registry
from sceau.client.oci.registry import OCI_INDEX, OCI_MANIFEST, sha256_digest
from tests.instance import ServedInstance, client_env, served_instance

EMAIL = "images@example.com"
USER, PASSWORD = "ci", "registry-secret"

CONFIG = """\
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
{auth}"""
AUTH = """auth:
  htpasswd:
    realm: sceau-test
    path: {htpasswd}
"""


@dataclass(frozen=True)
class RegistryServer:
    host: str  # 127.0.0.1:PORT
    docker_config: Path | None  # a DOCKER_CONFIG directory with the credentials, if auth


def _start_registry(tmp: Path, auth: bool) -> Iterator[RegistryServer]:
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    assert Path(binary).exists(), "docker-registry is not installed (tools/install-test-deps)"
    port = free_port()
    auth_text = ""
    docker_config = None
    if auth:
        htpasswd = tmp / "htpasswd"
        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
        htpasswd.write_text(f"{USER}:{hashed}\n")
        auth_text = AUTH.format(htpasswd=htpasswd)
        docker_config = tmp / "docker"
        docker_config.mkdir()
        token = __import__("base64").b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        (docker_config / "config.json").write_text(
            json.dumps({"auths": {f"127.0.0.1:{port}": {"auth": token}}})
        )
    config = tmp / "registry.yml"
    config.write_text(CONFIG.format(root=tmp / "data", port=port, auth=auth_text))
    log = (tmp / "registry.log").open("wb")
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        import time

        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code in (200, 401):
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp / "registry.log").read_text()
            assert time.monotonic() < deadline, "registry did not start"
            time.sleep(0.02)
        yield RegistryServer(f"127.0.0.1:{port}", docker_config)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    yield from _start_registry(tmp_path_factory.mktemp("registry"), auth=False)


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    yield from _start_registry(tmp_path_factory.mktemp("auth-registry"), auth=True)


@pytest.fixture(scope="session")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedInstance]:
    with served_instance(tmp_path_factory.mktemp("instance")) as (directory, url):
        yield ServedInstance(directory, url)


def push_image(host: str, repo: str, tag: str, content: bytes) -> str:
    """A minimal OCI image (one layer ``content``) pushed as ``repo:tag``; its digest."""
    with Registry(host) as reg:
        layer = reg.put_blob(repo, content)
        rootfs = {"type": "layers", "diff_ids": [layer]}
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": rootfs}).encode()
        config_digest = reg.put_blob(repo, config)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer, "size": len(content)}],
        }).encode()  # fmt: skip
        return reg.put_manifest(repo, tag, manifest, OCI_MANIFEST)


def push_index(
    host: str, repo: str, tag: str, platforms: dict[str, bytes]
) -> tuple[str, list[str]]:
    """A multi-arch index over one image per platform; (index digest, platform digests)."""
    digests, entries = [], []
    with Registry(host) as reg:
        for arch, content in platforms.items():
            digest = push_image(host, repo, f"{tag}-{arch}", content)
            body, _, _ = reg.get_manifest(repo, digest)
            digests.append(digest)
            entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body),
                            "platform": {"architecture": arch, "os": "linux"}})  # fmt: skip
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                            "manifests": entries}).encode()  # fmt: skip
        return reg.put_manifest(repo, tag, index, OCI_INDEX), digests


@dataclass
class Cli:
    """Runs ``sceau image …`` (and other commands) in a private HOME."""

    instance: ServedInstance
    env: dict[str, str]

    def __call__(
        self, *argv: str, docker_config: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if docker_config is not None:
            env["DOCKER_CONFIG"] = str(docker_config)
        return subprocess.run(
            [sys.executable, "-m", "sceau", *argv], capture_output=True, text=True, env=env,
            timeout=120,
        )  # fmt: skip

    def sign(self, ref: str, *extra: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return self("image", "sign", ref, "--instance-dir", str(self.instance.dir),
                    "--dev-email", EMAIL, *extra, **kw)  # type: ignore[arg-type]  # fmt: skip

    def verify(self, ref: str, *extra: str, action: str = "verify",
               identity: str = EMAIL, issuer: str | None = None,
               **kw: object) -> subprocess.CompletedProcess[str]:  # fmt: skip
        return self("image", action, ref, "--trust-config", str(self.instance.trust_config),
                    "--certificate-identity", identity, "--certificate-oidc-issuer",
                    issuer or self.instance.email_issuer, *extra, **kw)  # type: ignore[arg-type]  # fmt: skip


@pytest.fixture(scope="session")
def cli(instance: ServedInstance, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    home = tmp_path_factory.mktemp("home")
    return Cli(instance, client_env(home))


def digest_of(data: bytes) -> str:
    return sha256_digest(data)
