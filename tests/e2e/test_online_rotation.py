"""``sceau rotate`` on a running ``sceau serve``: every rotatable key changes under load
without a restart, no request fails, and what was signed before, during and after verifies.

Writers keep the CA, the TSA and both Rekor APIs busy while each of the five keys is
rotated in turn. Every answer must be a success; every Rekor v1 answer must carry a
checkpoint that the key named by its own ``logID`` signed (the server signs with both keys
while the old generation drains); sigstore-python signs between rotations and every bundle
verifies at the end against the published trust root.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from rfc3161_client import TimestampRequestBuilder

from sceau.instance.rotate import ROTATABLE
from sceau.note import note_verifier, verify_note
from tests.instance import client_env, served_instance
from tests.rekor.helpers import hashedrekord_v1, hashedrekord_v2, leaf

SCEAU = [sys.executable, "-m", "sceau"]
SIGSTORE = str(Path(sys.executable).with_name("sigstore"))
EMAIL = "rotation@example.com"
pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.interop]


class Load:
    """Threads sending one kind of request each until stopped; every answer is kept."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.answers: dict[str, list[httpx.Response]] = {}
        self.failures: list[str] = []
        self._stop = threading.Event()
        cert, key = leaf()
        csr_key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([]))
            .sign(csr_key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
        )
        kinds: dict[str, Callable[[httpx.Client], httpx.Response]] = {
            "rekor-v1": lambda c: c.post(
                "/api/v1/log/entries", json=hashedrekord_v1(cert=cert, key=key)[0]
            ),
            "rekor-v2": lambda c: c.post(
                "/api/v2/log/entries", json=hashedrekord_v2(cert=cert, key=key)[0]
            ),
            "ca": lambda c: c.post(
                "/api/v2/signingCert",
                json={"certificateSigningRequest": base64.b64encode(csr).decode()},
                headers={"Authorization": f"Bearer {self.token}"},
            ),
            "tsa": lambda c: c.post(
                "/api/v1/timestamp",
                content=TimestampRequestBuilder().data(os.urandom(16)).build().as_bytes(),
                headers={"Content-Type": "application/timestamp-query"},
            ),
        }
        self._threads = [
            threading.Thread(target=self._run, args=(kind, send), daemon=True)
            for kind, send in kinds.items()
            for _ in range(2)
        ]
        for kind in kinds:
            self.answers[kind] = []

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def _run(self, kind: str, send: Callable[[httpx.Client], httpx.Response]) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while not self._stop.is_set():
                try:
                    r = send(client)
                except httpx.HTTPError as e:
                    self.failures.append(f"{kind}: {type(e).__name__}: {e}")
                    continue
                if r.status_code not in (200, 201):
                    self.failures.append(f"{kind}: {r.status_code} {r.text[:200]}")
                self.answers[kind].append(r)

    def count(self) -> int:
        return sum(len(a) for a in self.answers.values())


def _sigstore(env: dict[str, str], trust: Path, *args: str) -> None:
    done = subprocess.run(
        [SIGSTORE, "--trust-config", str(trust), *args],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, (args[0], done.stdout, done.stderr)


def _rotate_each_key(
    load: Load, directory: Path, env: dict[str, str], then: Callable[[str], None] | None = None
) -> None:
    """Once the load runs, ``sceau rotate`` each key in turn on the running server, letting
    the load run through every switch (not around it); ``then(name)`` after each."""
    deadline = time.monotonic() + 60
    while min(map(len, load.answers.values())) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    for name in ROTATABLE:
        before = load.count()
        done = subprocess.run(
            [*SCEAU, "rotate", name, "--dir", str(directory)],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, (name, done.stdout, done.stderr)
        assert "switched without a restart" in done.stdout, done.stdout
        deadline = time.monotonic() + 30
        while load.count() < before + 16 and time.monotonic() < deadline:
            time.sleep(0.05)
        if then is not None:
            then(name)


def _v1_checkpoints_verify(answers: list[httpx.Response], trusted_root: dict, host: str) -> int:
    """Each v1 answer's checkpoint is signed by the key its logID names."""
    keys = {}
    for tlog in trusted_root["tlogs"]:
        der = base64.b64decode(tlog["publicKey"]["rawBytes"])
        keys[base64.b64decode(tlog["logId"]["keyId"]).hex()] = serialization.load_der_public_key(
            der
        )
    for r in answers:
        ((_uuid, body),) = r.json().items()
        key = keys[body["logID"]]
        checkpoint = body["verification"]["inclusionProof"]["checkpoint"]
        verify_note(checkpoint, [note_verifier(host, key)])
    return len(answers)


def test_rotating_every_key_under_load_fails_no_request(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # Batches of half a second: at every switch, log entries of the old keys are waiting to
    # be sequenced, and must come back with a checkpoint their own key signed.
    env = {**client_env(home), "SCEAU_LOG_BATCH_INTERVAL": "0.5", "SCEAU_LOG_BATCH_IDLE": "0"}
    with served_instance(tmp_path, env) as (directory, url):
        trust = directory / "trust" / "trust_config.json"
        token = subprocess.run(
            [*SCEAU, "dev-token", "--dir", str(directory), "--email", EMAIL],
            capture_output=True, text=True, check=True, env=env,
        ).stdout.strip()  # fmt: skip
        artifacts: list[Path] = []

        def sign(tag: str) -> None:
            for version in ("1", "2"):
                artifact = tmp_path / f"{tag}-v{version}.txt"
                artifact.write_text(f"{tag}, Rekor v{version}\n")
                _sigstore(env, trust, "sign", "--rekor-version", version,
                          "--identity-token", token, str(artifact))  # fmt: skip
                artifacts.append(artifact)

        sign("before")
        with Load(url, token) as load:
            _rotate_each_key(load, directory, env, then=lambda name: sign(f"after-{name}"))
        assert not load.failures, load.failures[:5]
        assert all(len(a) >= 16 for a in load.answers.values()), {
            k: len(a) for k, a in load.answers.items()
        }
        trusted_root = json.loads((directory / "trust" / "trusted_root.json").read_text())
        host = url.removeprefix("http://")
        assert _v1_checkpoints_verify(load.answers["rekor-v1"], trusted_root, host) >= 16
        # one key per window: each rotated key is listed twice, the old one closed
        assert len(trusted_root["tlogs"]) == 4 and len(trusted_root["ctlogs"]) == 2
        assert len(trusted_root["certificateAuthorities"]) == 2
        assert len(trusted_root["timestampAuthorities"]) == 2
        # the newest checkpoints carry the new keys alone
        v1_now = httpx.get(f"{url}/api/v1/log").json()["signedTreeHead"]
        assert v1_now.count("\u2014 ") == 1, v1_now
        for artifact in artifacts:
            _sigstore(env, trust, "verify", "identity", str(artifact),
                      "--bundle", f"{artifact}.sigstore.json", "--cert-identity", EMAIL,
                      "--cert-oidc-issuer", f"{url}/oidc")  # fmt: skip


def test_sighup_reloads_and_a_bad_key_leaves_the_server_serving(tmp_path: Path) -> None:
    """SIGHUP reloads too; a reload that cannot load the keys changes nothing."""
    env = client_env(tmp_path / "home")
    serve_args = ("--log-level", "info")
    with served_instance(tmp_path, env, serve_args=serve_args) as (directory, url):
        from sceau.config import InstanceConfig
        from sceau.instance.control import ask

        cfg = InstanceConfig.load(directory)
        assert ask(cfg, "ping") == {"ok": True}
        socket_file = directory / "run" / "admin.sock"
        assert (socket_file.stat().st_mode & 0o777) == 0o600
        assert ((directory / "run").stat().st_mode & 0o777) == 0o700
        key = directory / "keys" / "tsa.pem"
        good = key.read_bytes()
        key.write_bytes(b"not a key")
        answer = ask(cfg, "reload")
        assert answer is not None and answer["ok"] is False and "tsa" in answer["error"]
        assert httpx.get(f"{url}/healthz").status_code == 200
        key.write_bytes(good)
        assert ask(cfg, "reload")["ok"] is True  # type: ignore[index]
        serve_pid = int(
            subprocess.run(["pgrep", "-f", f"sceau serve --dir {directory}"],
                           capture_output=True, text=True).stdout.split()[0]
        )  # fmt: skip
        log = tmp_path / "serve.log"
        os.kill(serve_pid, signal.SIGHUP)
        deadline = time.monotonic() + 30
        while "reloaded" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert httpx.get(f"{url}/healthz").status_code == 200
        # sceau.toml is read again: an OIDC issuer added there is trusted by the CA
        issuer = "https://token.issuer.example"
        config = directory / "sceau.toml"
        before = config.read_text()
        config.write_text(
            before + f'\n[ca.oidc-issuers."{issuer}"]\nissuer-url = "{issuer}"\n'
            'client-id = "sigstore"\ntype = "email"\n'
        )
        assert ask(cfg, "reload")["ok"] is True  # type: ignore[index]
        issuers = httpx.get(f"{url}/api/v2/configuration").json()["issuers"]
        assert issuer in [i.get("issuerUrl") for i in issuers], issuers
        # ... but the URL the logs' origins follow needs a restart
        config.write_text(before.replace(url, "http://127.0.0.1:1"))
        answer = ask(cfg, "reload")
        assert answer is not None and answer["ok"] is False and "restart" in answer["error"]
        config.write_text(before)
        assert ask(cfg, "nonsense") == {
            "ok": False,
            "error": 'send {"op": "reload"} or {"op": "ping"}',
        }


def test_rotating_under_workers_switches_every_process(tmp_path: Path) -> None:
    """``serve --workers 2`` on SQLite: the sequencer process holds the logs' keys, the HTTP
    workers the CA's, TSA's and Rekor's; a rotation switches them all, under load, with no
    failed request and every v1 checkpoint signed by its entry's key."""
    home = tmp_path / "home"
    home.mkdir()
    env = {**client_env(home), "SCEAU_LOG_BATCH_INTERVAL": "0.5", "SCEAU_LOG_BATCH_IDLE": "0"}
    serve_args = ("--log-level", "warning", "--workers", "2")
    with served_instance(tmp_path, env, serve_args=serve_args) as (directory, url):
        token = subprocess.run(
            [*SCEAU, "dev-token", "--dir", str(directory), "--email", EMAIL],
            capture_output=True, text=True, check=True, env=env,
        ).stdout.strip()  # fmt: skip
        with Load(url, token) as load:
            _rotate_each_key(load, directory, env)
        assert not load.failures, load.failures[:5]
        trusted_root = json.loads((directory / "trust" / "trusted_root.json").read_text())
        host = url.removeprefix("http://")
        assert _v1_checkpoints_verify(load.answers["rekor-v1"], trusted_root, host) >= 16
        artifact = tmp_path / "after.txt"
        artifact.write_text("signed after rotating under workers\n")
        trust = directory / "trust" / "trust_config.json"
        _sigstore(env, trust, "sign", "--identity-token", token, str(artifact))
        _sigstore(env, trust, "verify", "identity", str(artifact), "--bundle",
                  f"{artifact}.sigstore.json", "--cert-identity", EMAIL,
                  "--cert-oidc-issuer", f"{url}/oidc")  # fmt: skip
    assert not (directory / "run" / "serving.json").exists()  # removed when serve stops


def test_an_admin_socket_that_does_not_answer_stops_rotate_before_any_change(
    tmp_path: Path,
) -> None:
    """A server that closes the connection unanswered (another user's, or a hung one):
    ``sceau rotate`` says so and changes nothing."""
    import socket

    from sceau.config import InstanceConfig
    from sceau.errors import InputError
    from sceau.instance.init import init_instance
    from sceau.instance.rotate import rotate

    cfg = init_instance(tmp_path / "i")
    path = cfg.dir / "run" / "admin.sock"
    path.parent.mkdir(mode=0o700)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def close_unanswered() -> None:
        conn, _ = server.accept()
        conn.close()

    closer = threading.Thread(target=close_unanswered, daemon=True)
    closer.start()
    keys = sorted(p.name for p in cfg.keys_dir.iterdir())
    try:
        with pytest.raises(InputError, match=r"admin socket fails.*nothing was changed"):
            rotate(InstanceConfig.load(cfg.dir), "tsa")
    finally:
        server.close()
        closer.join(timeout=10)
    assert sorted(p.name for p in cfg.keys_dir.iterdir()) == keys
