"""A small client of the OCI distribution API: manifests, blobs, tags and referrers.

HTTPS by default; plain HTTP for ``localhost``/loopback registries or when the caller
allows it (``--allow-insecure-registry``). Every answer is checked against the digest it
was asked by, so a registry cannot substitute content.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import httpx

from sceau.client.oci.auth import basic, docker_credentials, parse_challenge
from sceau.client.oci.errors import RegistryError, RegistryNotFound
from sceau.config import is_loopback_host

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST))
MAX_MANIFEST = 4 * 1024 * 1024  # the distribution spec's suggested limit
MAX_BLOB = 64 * 1024 * 1024  # signature blobs are small; refuse to buffer an image layer


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor."""

    media_type: str
    digest: str
    size: int
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest,
                               "size": self.size}  # fmt: skip
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    @classmethod
    def from_json(cls, value: Any) -> Descriptor:
        if not isinstance(value, dict) or not isinstance(value.get("digest"), str):
            raise RegistryError("registry answered a malformed descriptor")
        annotations = value.get("annotations") or {}
        return cls(
            str(value.get("mediaType", "")),
            value["digest"],
            int(value.get("size", 0)),
            value.get("artifactType"),
            {str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, dict)
            else {},
        )  # fmt: skip


class Registry:
    """One registry host. ``scheme`` is https unless the host is loopback or ``insecure``."""

    def __init__(self, host: str, *, insecure: bool = False, timeout: float = 30.0) -> None:
        hostname = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        plain = insecure or is_loopback_host(hostname)
        self.host = host
        self.base = f"{'http' if plain else 'https'}://{host}"
        self.credentials = docker_credentials(host)
        self._client = httpx.Client(timeout=timeout, follow_redirects=True)
        self._auth: dict[str, str] = {}  # scope → Authorization header

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- manifests ------------------------------------------------------------------------

    def get_manifest(self, repo: str, ref: str) -> tuple[bytes, str, str]:
        """``(body, media type, digest)`` of the manifest ``ref`` (a tag or a digest)."""
        r = self._request("GET", repo, f"/manifests/{ref}", headers={"Accept": MANIFEST_ACCEPT})
        body = r.content
        if len(body) > MAX_MANIFEST:
            raise RegistryError(f"{self.host}/{repo}:{ref}: manifest over {MAX_MANIFEST} bytes")
        digest = sha256_digest(body)
        if ref.startswith("sha256:") and digest != ref:
            raise RegistryError(f"{self.host}/{repo}: manifest {ref} has digest {digest}")
        media_type = r.headers.get("content-type", "").split(";")[0].strip()
        try:
            media_type = json.loads(body).get("mediaType") or media_type
        except (ValueError, AttributeError):
            raise RegistryError(f"{self.host}/{repo}:{ref}: manifest is not JSON") from None
        return body, media_type, digest

    def put_manifest(self, repo: str, ref: str, body: bytes, media_type: str) -> str:
        self._request(
            "PUT", repo, f"/manifests/{ref}", push=True, content=body,
            headers={"Content-Type": media_type},
        )  # fmt: skip
        return sha256_digest(body)

    def head_manifest(self, repo: str, ref: str) -> str | None:
        """The digest ``ref`` points to now (None if it does not exist)."""
        try:
            r = self._request("HEAD", repo, f"/manifests/{ref}",
                              headers={"Accept": MANIFEST_ACCEPT})  # fmt: skip
        except RegistryNotFound:
            return None
        digest = r.headers.get("docker-content-digest")
        if isinstance(digest, str) and digest:
            return digest
        return self.get_manifest(repo, ref)[2]

    # -- blobs ----------------------------------------------------------------------------

    def get_blob(self, repo: str, digest: str) -> bytes:
        r = self._request("GET", repo, f"/blobs/{digest}")
        if len(r.content) > MAX_BLOB:
            raise RegistryError(f"{self.host}/{repo}: blob {digest} over {MAX_BLOB} bytes")
        if sha256_digest(r.content) != digest:
            raise RegistryError(f"{self.host}/{repo}: blob {digest} does not match its digest")
        return r.content

    def put_blob(self, repo: str, data: bytes) -> str:
        """Upload ``data`` (monolithic POST + PUT) unless the registry has it; its digest."""
        digest = sha256_digest(data)
        try:
            self._request("HEAD", repo, f"/blobs/{digest}", push=True)
            return digest
        except RegistryNotFound:
            pass
        r = self._request("POST", repo, "/blobs/uploads/", push=True)
        location = r.headers.get("location")
        if not location:
            raise RegistryError(f"{self.host}/{repo}: upload started without a Location")
        url = urljoin(self.base + "/", location)
        url += ("&" if "?" in url else "?") + f"digest={digest}"
        self._request("PUT", repo, url, push=True, content=data,
                      headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        return digest

    # -- tags and referrers ---------------------------------------------------------------

    def tags(self, repo: str) -> list[str]:
        try:
            body = self._request("GET", repo, "/tags/list").json()
        except RegistryNotFound:
            return []
        except ValueError:
            raise RegistryError(f"{self.host}/{repo}: tag list is not JSON") from None
        tags = body.get("tags") if isinstance(body, dict) else None
        return [t for t in tags or [] if isinstance(t, str)]

    def referrers_api(self, repo: str, digest: str) -> list[Descriptor] | None:
        """The referrers API's answer for ``digest``, or None if the registry lacks it."""
        try:
            r = self._request("GET", repo, f"/referrers/{digest}",
                              headers={"Accept": OCI_INDEX})  # fmt: skip
        except RegistryNotFound:
            return None
        if "application/vnd.oci.image.index.v1+json" not in r.headers.get("content-type", ""):
            return None
        return _index_descriptors(r.content, self.host, repo)

    def referrers(self, repo: str, digest: str) -> list[Descriptor]:
        """What refers to ``digest``: the referrers API, else its tag-schema fallback."""
        found = self.referrers_api(repo, digest)
        if found is not None:
            return found
        try:
            body, _, _ = self.get_manifest(repo, fallback_tag(digest))
        except RegistryNotFound:
            return []
        return _index_descriptors(body, self.host, repo)

    # -- HTTP -----------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        repo: str,
        path: str,
        *,
        push: bool = False,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        url = path if path.startswith("http") else f"{self.base}/v2/{repo}{path}"
        scope = f"repository:{repo}:{'pull,push' if push else 'pull'}"
        sent = dict(headers or {})
        for attempt in range(2):
            if scope in self._auth:
                sent["Authorization"] = self._auth[scope]
            try:
                r = self._client.request(method, url, headers=sent, content=content)
            except httpx.HTTPError as e:
                raise RegistryError(f"cannot reach registry {self.host}: {e}") from None
            if r.status_code == 401 and attempt == 0:
                self._authenticate(r, scope)
                continue
            break
        if r.status_code == 404:
            raise RegistryNotFound(f"{self.host}/{repo}: {method} {_short(path)}: not found")
        if r.status_code == 401:
            raise RegistryError(
                f"registry {self.host} refused the credentials for {repo} (401); log in with "
                "`docker login` or set DOCKER_CONFIG"
            )
        if r.status_code >= 400:
            raise RegistryError(
                f"registry {self.host}: {method} {_short(path)} failed with {r.status_code}"
                f"{_detail(r)}"
            )
        return r

    def _authenticate(self, r: httpx.Response, scope: str) -> None:
        scheme, params = parse_challenge(r.headers.get("www-authenticate", ""))
        if scheme == "basic":
            if self.credentials is None:
                raise RegistryError(
                    f"registry {self.host} needs credentials: `docker login {self.host}` or "
                    "DOCKER_CONFIG"
                )
            self._auth[scope] = basic(self.credentials)
            return
        if scheme != "bearer" or "realm" not in params:
            raise RegistryError(f"registry {self.host}: unsupported authentication {scheme!r}")
        query = {"scope": scope}
        if "service" in params:
            query["service"] = params["service"]
        headers = {"Authorization": basic(self.credentials)} if self.credentials else {}
        try:
            t = self._client.get(params["realm"], params=query, headers=headers)
            token = t.json().get("token") or t.json().get("access_token")
        except (httpx.HTTPError, ValueError, AttributeError):
            token = None
        if not token:
            raise RegistryError(f"registry {self.host}: no token from {params['realm']}")
        self._auth[scope] = f"Bearer {token}"


def fallback_tag(digest: str) -> str:
    """The referrers tag schema: ``sha256:abc…`` → ``sha256-abc…``."""
    return digest.replace(":", "-", 1)


def _index_descriptors(body: bytes, host: str, repo: str) -> list[Descriptor]:
    try:
        index = json.loads(body)
    except ValueError:
        raise RegistryError(f"{host}/{repo}: referrers index is not JSON") from None
    manifests = index.get("manifests") if isinstance(index, dict) else None
    return [Descriptor.from_json(m) for m in manifests or []]


def _short(path: str) -> str:
    return path if len(path) < 120 else path[:117] + "…"


def _detail(r: httpx.Response) -> str:
    try:
        errors = r.json().get("errors") or []
        message = errors[0].get("message") if errors else None
    except (ValueError, AttributeError, IndexError):
        message = None
    return f": {message}" if message else ""
