"""The credential cache: one login signs many commits.

A user-level process (``sceau git credential-cache``) keeps, in memory only, the ephemeral
signing key and the certificate issued for it — never the identity token. Signing asks it
over a Unix socket before logging in, and gives it a fresh credential after. Entries die
with the certificate (10 minutes at Fulcio), or with the process.

Why a process and not an encrypted file: a file needs a key to decrypt it, and wherever
that key lives (next to the file, in the environment) is as exposed as the file; an
in-memory agent reachable only by this user (socket in a 0700 directory, peer uid checked
with SO_PEERCRED) is ssh-agent's and gitsign-credential-cache's answer to the same problem.

Protocol: one JSON object per connection each way, at most ``MAX_MESSAGE`` bytes:
``{"op": "get", "key": K}`` → ``{"key_pem": …, "certificate_pem": …}`` or ``{}``;
``{"op": "put", "key": K, "key_pem": …, "certificate_pem": …}`` → ``{"ok": true}``.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import socketserver
import struct
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sceau.errors import InputError

MAX_MESSAGE = 1 << 16
MAX_ENTRIES = 64  # one per CA and identity source: a handful in practice
MARGIN = timedelta(seconds=30)  # do not hand out a certificate about to expire
TIMEOUT = 5.0


@dataclass(frozen=True)
class Credential:
    private_key: Any  # cryptography EC private key
    certificate: Any  # cryptography x509.Certificate


def cache_key(ca_url: str, identity_hint: str = "") -> str:
    """Which credential fits: one per CA and configured identity source."""
    return hashlib.sha256(f"{ca_url}\0{identity_hint}".encode()).hexdigest()


def default_socket() -> Path:
    import tempfile

    base = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(
        tempfile.gettempdir(), f"sceau-{os.getuid()}"
    )
    return Path(base) / "sceau-git" / "credential-cache.sock"


# -- client -----------------------------------------------------------------------------


def _exchange(path: Path, request: dict[str, Any]) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(TIMEOUT)
        s.connect(str(path))
        s.sendall(json.dumps(request).encode())
        s.shutdown(socket.SHUT_WR)
        data = _read_all(s)
    answer = json.loads(data)
    if not isinstance(answer, dict):
        raise ValueError("answer is not an object")
    return answer


def get(path: Path, key: str, now: datetime | None = None) -> Credential | None:
    """A cached credential valid for at least ``MARGIN`` more, or None (also when no cache
    runs: the cache is an optimisation, never a requirement)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        answer = _exchange(path, {"op": "get", "key": key})
        if not answer:
            return None
        cert = x509.load_pem_x509_certificate(answer["certificate_pem"].encode())
        private_key = load_pem_private_key(answer["key_pem"].encode(), None)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if (now or datetime.now(UTC)) + MARGIN > cert.not_valid_after_utc:
        return None
    if _spki(private_key.public_key()) != _spki(cert.public_key()):
        return None  # not a pair: ignore it, log in again
    return Credential(private_key, cert)


def _spki(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization as s

    return bytes(key.public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo))


def put(path: Path, key: str, credential: Credential) -> bool:
    from cryptography.hazmat.primitives import serialization as s

    request = {
        "op": "put",
        "key": key,
        "key_pem": credential.private_key.private_bytes(
            s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()
        ).decode(),
        "certificate_pem": credential.certificate.public_bytes(s.Encoding.PEM).decode(),
    }
    try:
        return bool(_exchange(path, request).get("ok"))
    except (OSError, ValueError):
        return False


def _read_all(s: socket.socket) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = s.recv(8192)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_MESSAGE:
            raise ValueError("message too large")
        chunks.append(chunk)


# -- server -----------------------------------------------------------------------------


class _Store:
    def __init__(self) -> None:
        self.entries: dict[str, tuple[datetime, dict[str, str]]] = {}
        self.lock = threading.Lock()

    def handle(self, request: Any) -> dict[str, Any]:
        from cryptography import x509

        if not isinstance(request, dict) or not isinstance(request.get("key"), str):
            return {"error": "bad request"}
        now = datetime.now(UTC)
        with self.lock:
            self.entries = {k: v for k, v in self.entries.items() if v[0] > now}
            if request.get("op") == "get":
                entry = self.entries.get(request["key"])
                return dict(entry[1]) if entry else {}
            if request.get("op") == "put":
                key_pem, cert_pem = request.get("key_pem"), request.get("certificate_pem")
                if not isinstance(key_pem, str) or not isinstance(cert_pem, str):
                    return {"error": "bad request"}
                try:
                    cert = x509.load_pem_x509_certificate(cert_pem.encode())
                except ValueError:
                    return {"error": "bad certificate"}
                if request["key"] not in self.entries and len(self.entries) >= MAX_ENTRIES:
                    return {"error": "cache full"}
                value = {"key_pem": key_pem, "certificate_pem": cert_pem}
                self.entries[request["key"]] = (cert.not_valid_after_utc, value)
                return {"ok": True}
        return {"error": "unknown op"}


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(TIMEOUT)
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        if uid != os.getuid():
            return  # another user: say nothing
        try:
            request = json.loads(_read_all(conn))
        except (OSError, ValueError):
            return
        answer = self.server.store.handle(request)
        try:
            conn.sendall(json.dumps(answer).encode())
        except OSError:
            return


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: Path) -> None:
        self.store = _Store()
        super().__init__(str(path), _Handler)


def serve(path: Path, ready: Any = None) -> None:
    """Run the cache in this process until interrupted. The socket's directory is created
    0700 (or must already be ours and 0700): other users cannot reach the socket."""
    directory = path.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = directory.stat()
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise InputError(f"{directory} must belong to you and be private (mode 0700)")
    if path.exists():
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(str(path))
            raise InputError(f"a credential cache already listens on {path}")
        except OSError:
            path.unlink()  # a stale socket from a process that is gone
    old = os.umask(0o177)
    try:
        server = _Server(path)
    finally:
        os.umask(old)
    try:
        if ready is not None:
            ready()
        server.serve_forever()
    finally:
        server.server_close()
        path.unlink(missing_ok=True)
