"""A full signing flow against ``sceau serve --log-format json``: what ``/metrics`` says
afterwards, and that no log line carries a token or a key."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.instance import client_env, served_instance

BIN = Path(sys.executable).parent
EMAIL = "telemetry@example.com"
TWENTY_YEARS = 20 * 365 * 86400


@dataclass
class Flow:
    dir: Path
    url: str
    log: Path
    token: str
    samples: dict[str, list[tuple[dict[str, str], float]]]


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    base = tmp_path_factory.mktemp("telemetry")
    home = base / "home"
    home.mkdir()
    env = client_env(home)
    serve_args = ("--log-format", "json", "--log-level", "info")
    with served_instance(base, env, serve_args=serve_args) as (directory, url):
        # the token comes over HTTP, so the route label and the log lines see it pass
        reply = httpx.post(f"{url}/oidc/token", json={"email": EMAIL}, timeout=30)
        assert reply.status_code == 200, reply.text
        token = reply.json()["token"] if "token" in reply.json() else reply.json()["id_token"]
        artifact = base / "hello.txt"
        artifact.write_text("hello\n")
        trust = directory / "trust"
        runs = [
            [str(BIN / "sceau"), "sign", "--instance-dir", str(directory),
             "--bundle", str(base / "a.sceau.json"), str(artifact)],
            [str(BIN / "sigstore"), "--trust-config", str(trust / "trust_config.json"), "sign",
             "--identity-token", token, "--bundle", str(base / "a.python.json"), str(artifact)],
            [str(BIN / "sceau"), "verify", str(artifact), "--bundle", str(base / "a.python.json"),
             "--trusted-root", str(trust / "trusted_root.json"),
             "--certificate-identity", EMAIL, "--certificate-oidc-issuer", f"{url}/oidc"],
        ]  # fmt: skip
        for argv in runs:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=120,
                env={**env, "SIGSTORE_ID_TOKEN": token},
            )  # fmt: skip
            assert done.returncode == 0, (argv[:2], done.stdout, done.stderr)
        text = httpx.get(f"{url}/metrics", timeout=30).text
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(text):
            samples.setdefault(family.name, [])
            for s in family.samples:
                samples.setdefault(s.name, []).append((s.labels, s.value))
        yield Flow(directory, url, base / "serve.log", token, samples)


def values(flow: Flow, name: str, **labels: str) -> list[float]:
    assert name in flow.samples, f"{name} is not in /metrics"
    return [v for lab, v in flow.samples[name] if all(lab.get(k) == x for k, x in labels.items())]


def test_log_sizes_entries_and_batches(flow: Flow) -> None:
    rekor = values(flow, "sceau_log_size", log="rekor-v1") + values(
        flow, "sceau_log_size", log="rekor-v2"
    )
    assert sum(rekor) >= 2 + 2  # two genesis entries, two signatures
    assert values(flow, "sceau_log_size", log="ct") == [2.0]  # two precertificates
    assert values(flow, "sceau_log_entries_total", log="ct", kind="precert") == [2.0]
    rekor_entries = values(flow, "sceau_log_entries_total", kind="hashedrekord")
    assert sum(rekor_entries) == 2
    for age in values(flow, "sceau_log_checkpoint_age_seconds"):
        assert 0 <= age < 600
    assert values(flow, "sceau_log_pending_entries") == [0.0, 0.0, 0.0]
    assert sum(values(flow, "sceau_log_batch_entries_count")) >= 4
    assert sum(values(flow, "sceau_log_batch_entries_sum")) >= 4
    latency = sum(values(flow, "sceau_log_integration_seconds_sum"))
    assert 0 < latency < 60


def test_ca_tsa_and_oidc_counters(flow: Flow) -> None:
    assert values(flow, "sceau_ca_certificates_total", issuer=f"{flow.url}/oidc") == [2.0]
    assert values(flow, "sceau_tsa_timestamps_total")[0] >= 1
    # no identity provider failed: the family is there, with no issuer yet
    assert "sceau_oidc_jwks_fetch_failures" in flow.samples  # the family (parsed w/o _total)
    assert "sceau_oidc_jwks_fetch_failures_total" not in flow.samples


def test_expiry_of_certificates_and_tuf_roles(flow: Flow) -> None:
    seen = {lab["kind"] + ":" + lab["name"]: v for lab, v in flow.samples["sceau_expiry_seconds"]}
    for name in ("ca-root", "ca-intermediate", "tsa-root", "tsa-leaf"):
        assert 0 < seen[f"certificate:{name}"] < TWENTY_YEARS
    for role in ("root", "targets", "snapshot", "timestamp"):
        assert 0 < seen[f"tuf-role:{role}"] < TWENTY_YEARS
    # the timestamp role is re-signed daily: it is the first thing to expire
    assert seen["tuf-role:timestamp"] <= 86400


def test_routes_are_labelled_with_their_mount(flow: Flow) -> None:
    routes = {lab["route"] for lab, _ in flow.samples["sceau_http_requests_total"]}
    assert "/oidc/token" in routes and "/token" not in routes
    assert "/api/v2/signingCert" in routes


def test_every_log_line_is_json_with_time_and_level(flow: Flow) -> None:
    lines = [ln for ln in flow.log.read_text().splitlines() if ln.strip()]
    assert len(lines) > 10
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
    access = 0
    for line in lines:
        event = json.loads(line)
        assert stamp.fullmatch(event["time"]) and event["level"] in ("info", "warning"), line
        if event["logger"] == "sceau.access":
            access += 1
            assert re.fullmatch(r"[0-9a-f]{16}", event["request_id"]), line
    assert access >= 8  # token, certificates, entries, timestamps, metrics


def test_no_token_or_key_in_any_log_line(flow: Flow) -> None:
    text = flow.log.read_text()
    assert flow.token not in text
    for part in flow.token.split("."):
        assert part not in text
    assert "eyJ" not in text and "PRIVATE KEY" not in text
    for key in sorted((flow.dir / "keys").glob("*.pem")):
        body = "".join(key.read_text().splitlines()[1:-1])
        for i in range(0, len(body) - 24, 24):  # no 24-character run of any key
            assert body[i : i + 24] not in text.replace("\n", ""), key.name


def test_request_id_is_echoed_in_header_and_error_body(flow: Flow) -> None:
    mine = httpx.get(
        f"{flow.url}/api/v1/log/entries/nope", headers={"X-Request-Id": "proxy-7:ab"}, timeout=30
    )
    assert mine.status_code == 400
    assert mine.headers["x-request-id"] == "proxy-7:ab"
    assert mine.json()["request_id"] == "proxy-7:ab" and mine.json()["code"] == 400
    for bad in ("x" * 200, "has space", 'quote"d'):
        reply = httpx.get(f"{flow.url}/api/v1/log/entries/nope", headers={"X-Request-Id": bad})
        made = reply.headers["x-request-id"]
        assert made != bad and re.fullmatch(r"[0-9a-f]{16}", made)
        assert reply.json()["request_id"] == made
    ok = httpx.get(f"{flow.url}/healthz", timeout=30)
    assert ok.status_code == 200 and re.fullmatch(r"[0-9a-f]{16}", ok.headers["x-request-id"])
    assert "request_id" not in ok.json()
