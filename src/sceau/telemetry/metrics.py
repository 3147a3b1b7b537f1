"""Prometheus metrics of a running instance (``/metrics``; docs/operations.md).

Three kinds, by where their value lives:

- counted as things happen, in the process-wide :data:`REGISTRY`: log entries by kind,
  certificates by issuer, timestamps, JWKS fetch failures, batch sizes and integration
  latency (recorded once per batch by the sequencer, so the write path pays nothing per
  entry);
- read at scrape time from the engine (:class:`EngineCollector`): log sizes, checkpoint
  ages, entries waiting to be sequenced;
- read at scrape time from the instance's files (:class:`ExpiryCollector`): seconds until
  each certificate, TUF role and scheduled key window ends, so rotation and refresh show
  up at the next scrape and an alert can fire weeks ahead.

With ``serve --workers`` each process answers for itself; on SQLite the batch metrics
live in the sequencer process, which serves no HTTP (docs/operations.md).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

LOG_ENTRIES = Counter(
    "sceau_log_entries_total",
    "Entries added to a transparency log, by log and kind",
    ["log", "kind"],
    registry=REGISTRY,
)
CA_CERTIFICATES = Counter(
    "sceau_ca_certificates_total",
    "Signing certificates issued, by OIDC issuer",
    ["issuer"],
    registry=REGISTRY,
)
TSA_TOKENS = Counter(
    "sceau_tsa_timestamps_total", "RFC 3161 timestamp tokens issued", registry=REGISTRY
)
JWKS_FAILURES = Counter(
    "sceau_oidc_jwks_fetch_failures_total",
    "Failed fetches of an OIDC issuer's discovery document or JWKS",
    ["issuer"],
    registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    "sceau_log_batch_entries",
    "Entries per sequenced batch",
    ["log"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
    registry=REGISTRY,
)
INTEGRATION_SECONDS = Histogram(
    "sceau_log_integration_seconds",
    "Time from an entry's arrival to its signed checkpoint (oldest entry of each batch)",
    ["log"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
ISSUER_LABELS_MAX = 200  # a misconfigured meta-issuer must not grow the series forever


_issuers_seen: set[str] = set()


def count_certificate(issuer: str) -> None:
    """Count one certificate for ``issuer`` (past :data:`ISSUER_LABELS_MAX` issuers, as
    ``other``: a wildcard meta-issuer must not grow the series without bound)."""
    if issuer not in _issuers_seen and len(_issuers_seen) < ISSUER_LABELS_MAX:
        _issuers_seen.add(issuer)
    CA_CERTIFICATES.labels(issuer if issuer in _issuers_seen else "other").inc()


class HttpMetrics:
    """Requests by method, route template and status, and their latency, for one app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sceau_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sceau_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class EngineCollector(Collector):
    """Log sizes, checkpoint ages and pending entries, from a snapshot the ``/metrics``
    handler takes (reading a log's head is async; a collector is not)."""

    def __init__(self) -> None:
        self.snapshot: list[tuple[str, int, float, int | None]] = []

    async def refresh(self, engine: Any) -> None:
        now_ms = time.time() * 1000
        rows = []
        for name, lg in engine.logs.items() if engine is not None else ():
            head = await lg.latest()
            sequencer = getattr(lg, "sequencer", None)
            pending = sequencer.pending if sequencer is not None else None
            rows.append((name, head.size, max(0.0, (now_ms - head.timestamp_ms) / 1000), pending))
        self.snapshot = rows

    def collect(self) -> Iterator[Metric]:
        size = GaugeMetricFamily(
            "sceau_log_size", "Entries in the log's latest checkpoint", labels=["log"]
        )
        age = GaugeMetricFamily(
            "sceau_log_checkpoint_age_seconds", "Age of the log's latest checkpoint", labels=["log"]
        )
        queue = GaugeMetricFamily(
            "sceau_log_pending_entries",
            "Entries waiting to be sequenced (the write queue)",
            labels=["log"],
        )
        for name, n, seconds, pending in self.snapshot:
            size.add_metric([name], n)
            age.add_metric([name], seconds)
            if pending is not None:
                queue.add_metric([name], pending)
        yield from (size, age, queue)


class ExpiryCollector(Collector):
    """``sceau_expiry_seconds{kind,name}``: seconds until each thing the instance serves
    stops being valid (negative once it has)."""

    def __init__(self, instance_dir: Path, tuf_dir: Path, trust_dir: Path) -> None:
        self.dir, self.tuf_dir, self.trust_dir = instance_dir, tuf_dir, trust_dir

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "sceau_expiry_seconds",
            "Seconds until a certificate, TUF role or key validity window ends",
            labels=["kind", "name"],
        )
        now = dt.datetime.now(dt.UTC)
        for kind, name, end in self._ends():
            family.add_metric([kind, name], (end - now).total_seconds())
        yield family

    def _ends(self) -> Iterator[tuple[str, str, dt.datetime]]:
        yield from _certificates(self.dir / "certs")
        yield from _tuf_roles(self.tuf_dir)
        yield from _key_windows(self.trust_dir / "trusted_root.json")


def _certificates(certs: Path) -> Iterator[tuple[str, str, dt.datetime]]:
    from cryptography import x509

    for path in sorted(certs.glob("*.pem")):
        try:
            cert = x509.load_pem_x509_certificate(path.read_bytes())
        except (OSError, ValueError):
            continue
        yield "certificate", path.stem, cert.not_valid_after_utc


_VERSIONED = re.compile(r"(\d+)\.(root|targets|snapshot)\.json")


def _tuf_roles(tuf_dir: Path) -> Iterator[tuple[str, str, dt.datetime]]:
    newest: dict[str, tuple[int, Path]] = {}
    for path in tuf_dir.glob("*.json"):
        m = _VERSIONED.fullmatch(path.name)
        if m and int(m.group(1)) > newest.get(m.group(2), (0, path))[0]:
            newest[m.group(2)] = (int(m.group(1)), path)
    files = {role: path for role, (_, path) in newest.items()}
    files["timestamp"] = tuf_dir / "timestamp.json"
    for role, path in sorted(files.items()):
        try:
            expires = json.loads(path.read_bytes())["signed"]["expires"]
            yield "tuf-role", role, _parse_time(expires)
        except (OSError, ValueError, KeyError, TypeError):
            continue


def _key_windows(trusted_root: Path) -> Iterator[tuple[str, str, dt.datetime]]:
    """Windows with a scheduled end still ahead (a retired key's end is in the past by
    design, and is not a thing to alert on)."""
    try:
        root = json.loads(trusted_root.read_bytes())
    except (OSError, ValueError):
        return
    now = dt.datetime.now(dt.UTC)
    for section, where in (
        ("tlogs", ("publicKey", "validFor")),
        ("ctlogs", ("publicKey", "validFor")),
        ("certificateAuthorities", ("validFor",)),
        ("timestampAuthorities", ("validFor",)),
    ):
        for i, item in enumerate(root.get(section) or ()):
            window: Any = item
            for key in where:
                window = window.get(key) if isinstance(window, dict) else None
            end = window.get("end") if isinstance(window, dict) else None
            if not isinstance(end, str):
                continue
            try:
                when = _parse_time(end)
            except ValueError:
                continue
            if when > now:
                name = item.get("baseUrl") or item.get("uri") or str(i)
                yield "key-window", f"{section}[{i}] {name}", when


def _parse_time(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
