"""An instance directory: creating it (``sceau init``) and loading its material.

Layout (docs/architecture.md, "Command line and instance directory")::

    sceau.toml                  configuration (docs/configuration.md)
    keys/                       private keys, 0600 (dir 0700): ca-root, ca-intermediate, ct,
                                rekor-v1, rekor-v2, tsa, tsa-root, dev-oidc, tuf-*
    certs/                      public certificates (PEM): CA root/intermediate, TSA root/leaf
    data/                       SQLite databases (the log engine, CT chains)
    trust/                      trusted_root.json, signing_config.v0.2.json, trust_config.json
    tuf/                        the TUF repository served at /tuf/

Init never overwrites an existing instance: it refuses if ``sceau.toml`` exists.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sceau.config import CONFIG_NAME, DEFAULT_URL, InstanceConfig, is_loopback_host
from sceau.durable import write_atomic
from sceau.errors import Conflict, InputError
from sceau.keys import generate_signer, save_signer
from sceau.material import KEY_FILES, Material, valid_from

CONFIG_TEMPLATE = """\
# sceau instance configuration. Every key: docs/configuration.md.
# Environment overrides: SCEAU_<SECTION>_<KEY>, e.g. SCEAU_STORAGE_DSN.

[instance]
url = "{url}"              # public base URL; its host[:port] names the logs' checkpoints
operator = "{operator}"

[storage]
driver = "sqlite"                       # or "postgres" with dsn = "postgresql://..."
path = "data/sceau.sqlite"

[log]
batch_interval = 0.05                   # seconds between batches (latency vs. throughput)
batch_idle = 0.002                      # ...but go once no entry came for this long (0: off)
batch_size = 2048                       # entries per batch at most
max_pending = 50000                     # queued entries before answering 503 + Retry-After

[rekor]
tree_id = {tree_id}                 # Rekor v1 tree ID (in entry IDs and checkpoints)

[oidc]
dev = {dev}                             # serve the development OIDC issuer at /oidc

[ca]
# OIDC issuers the CA trusts besides the dev issuer, in Fulcio's config shape, e.g.:
# [ca.oidc-issuers."https://accounts.google.com"]
# issuer-url = "https://accounts.google.com"
# client-id = "sigstore"
# type = "email"
# [ca.meta-issuers."https://token.actions.githubusercontent.com"]
# client-id = "sigstore"
# type = "ci-provider"
# ci-provider = "github-workflow"
"""


# `sceau init --issuer-type` values: Fulcio types, plus the dedicated CI names, which are
# written as type "ci-provider" with the built-in metadata of that name.
INIT_CI_PROVIDERS = ("github-workflow", "gitlab-pipeline", "buildkite-job")
INIT_ISSUER_TYPES = ("email", *INIT_CI_PROVIDERS, "spiffe", "kubernetes", "uri", "username")


@dataclass(frozen=True)
class OIDCIssuerSpec:
    """One real identity provider the CA should trust (``sceau init --oidc-issuer``)."""

    url: str
    client_id: str = "sigstore"
    type: str = "email"

    def fulcio_entry(self) -> dict[str, str]:
        """This issuer as a ``[ca.oidc-issuers."URL"]`` table (Fulcio's config keys)."""
        entry = {"issuer-url": self.url, "client-id": self.client_id}
        if self.type in INIT_CI_PROVIDERS:
            entry.update({"type": "ci-provider", "ci-provider": self.type})
        else:
            entry["type"] = self.type
        return entry


def oidc_issuers_toml(specs: Sequence[OIDCIssuerSpec]) -> str:
    """The ``sceau.toml`` tables for ``specs``, validated as the CA will read them."""
    from sceau.services.ca.issuers import IssuerSet

    tables = {s.url: s.fulcio_entry() for s in specs}
    if len(tables) != len(specs):
        raise InputError("each --oidc-issuer may be given once")
    IssuerSet.from_config({"oidc-issuers": tables})
    out = []
    for url, entry in tables.items():
        # JSON strings of printable text are valid TOML basic strings.
        out.append(f"\n[ca.oidc-issuers.{json.dumps(url)}]\n")
        out += [f"{k} = {json.dumps(v)}\n" for k, v in entry.items()]
    return "".join(out)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise InputError(f"instance URL must be http(s)://host[:port] with no path, got {url!r}")
    return url.rstrip("/")


# Sub-directories and their modes (the instance directory itself is 0700, so "public" ones
# are readable only by whoever may enter it).
PRIVATE_DIRS = {"keys": 0o700, "certs": 0o755, "data": 0o700, "trust": 0o755, "tuf": 0o700}


def check_permissions(directory: str | os.PathLike[str]) -> None:
    """Refuse to serve from an instance that anyone on the machine could change: a
    world-writable instance, ``keys/``, ``data/`` or ``tuf/`` directory lets another user
    swap a key, a log or the trust root under the server."""
    d = Path(directory)
    for path in (d, *(d / sub for sub in ("keys", "data", "tuf", "certs", "trust"))):
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            continue
        if mode & 0o002:
            raise InputError(
                f"{path} is writable by every user (mode {mode & 0o777:o}): anyone on this "
                f"machine could replace keys, logs or trust files; run chmod o-w {path}"
            )


def init_instance(
    directory: str | os.PathLike[str],
    *,
    url: str = DEFAULT_URL,
    operator: str = "sceau",
    dev_oidc: bool | None = None,
    oidc_issuers: Sequence[OIDCIssuerSpec] = (),
) -> InstanceConfig:
    """Create a complete instance: keys, CA and TSA certificates, trust files, TUF repo.

    ``dev_oidc``: trust and serve the development OIDC issuer. ``None`` (the default)
    turns it on only for a loopback URL; on any other URL it takes an explicit ``True``,
    and ``sceau serve`` then also wants ``--dev-oidc`` (docs/security.md).
    ``oidc_issuers`` are real identity providers the CA trusts (``[ca.oidc-issuers]``)."""
    from sceau.services.ca.authority import make_ca_chain
    from sceau.services.tsa import make_tsa_chain

    url = _check_url(url)
    issuers_toml = oidc_issuers_toml(oidc_issuers)  # refuse a bad issuer before writing
    if dev_oidc is None:
        dev_oidc = is_loopback_host(urlsplit(url).hostname)
    d = Path(directory).resolve()
    if (d / CONFIG_NAME).exists():
        raise Conflict(f"{d / CONFIG_NAME} already exists: this directory is an instance")
    # Owner only, whatever the umask: the instance holds keys and the logs' only copy.
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    for sub, mode in PRIVATE_DIRS.items():
        (d / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(d / sub, mode)

    signers = {name: generate_signer(alg) for name, alg in KEY_FILES.items()}
    ca_chain, _ = make_ca_chain(
        root_signer=signers["ca-root"],
        intermediate_signer=signers["ca-intermediate"],
        organization=operator,
    )
    tsa = make_tsa_chain(
        organization=operator, leaf_signer=signers["tsa"], root_signer=signers["tsa-root"]
    )
    for name, signer in signers.items():
        save_signer(signer, d / "keys" / f"{name}.pem")
    certs = {
        "ca-root.pem": ca_chain.root,
        "ca-intermediate.pem": ca_chain.intermediate,
        "tsa-root.pem": tsa.root,
        "tsa-leaf.pem": tsa.leaf,
    }
    for name, cert in certs.items():
        write_atomic(d / "certs" / name, _pem(cert), 0o644)

    tree_id = secrets.randbelow(1 << 62) + 1
    write_atomic(
        d / CONFIG_NAME,
        CONFIG_TEMPLATE.format(
            url=url, operator=operator, tree_id=tree_id, dev="true" if dev_oidc else "false"
        ).encode()
        + issuers_toml.encode(),
        0o644,
    )
    cfg = InstanceConfig.load(d)
    from sceau.app import create_logs

    create_logs(cfg)
    publish_instance_trust(cfg)
    from sceau.services.witness.config import init_witness

    # The instance's own witness, served by `serve --only witness` once it lists logs.
    init_witness(d / "witness", f"{cfg.host}/witness", [])
    return cfg


def build_trust_documents(
    cfg: InstanceConfig, m: Material
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The instance's ``trusted_root.json`` and ``signing_config.v0.2.json`` documents.

    Retired keys (``sceau rotate``) stay listed with their validity window, so bundles
    made before a rotation keep verifying; current keys are valid from their rotation.
    """
    from sceau.client.trust import LogInstance
    from sceau.note import log_id
    from sceau.retired import current_since, load_retired
    from sceau.trust import (
        build_signing_config,
        build_trusted_root,
        ca_entry,
        tlog_entry,
        tsa_entry,
    )

    url, host = cfg.url, cfg.host
    start = min(valid_from(m.ca_root), valid_from(m.ca_intermediate), valid_from(m.tsa_leaf))
    operator = str(cfg.get("instance", "operator", "sceau"))
    retired = load_retired(cfg)

    def since(name: str) -> dt.datetime:
        return current_since(cfg, name, start)

    def tlog(
        base: str,
        name: str,
        key: Any,
        until: dt.datetime | None,
        frm: dt.datetime,
        ed25519: bool = False,
    ) -> LogInstance:
        lid = log_id(host, key) if ed25519 else None
        return tlog_entry(
            base, key, frm, log_id=lid, checkpoint_key_id=lid, valid_until=until, operator=operator
        )

    def windows(name: str) -> list[tuple[object, dt.datetime, dt.datetime | None, Any]]:
        """(public key, from, until, retired record) for every key of ``name``, oldest first."""
        out = [
            (r.signer().public_key(), r.valid_from, r.valid_until, r)
            for r in retired
            if r.name == name
        ]
        return [*out, (m.signer(name).public_key(), since(name), None, None)]

    tlogs = [tlog(url, "rekor-v1", k, u, f) for k, f, u, _ in windows("rekor-v1")]
    tlogs += [tlog(url, "rekor-v2", k, u, f, ed25519=True) for k, f, u, _ in windows("rekor-v2")]
    ctlogs = [tlog(url, "ct", k, u, f) for k, f, u, _ in windows("ct")]
    cas = [
        ca_entry(
            url,
            [r.certificates()[0], m.ca_root],
            r.valid_from,
            valid_until=r.valid_until,
            operator=operator,
        )
        for r in retired
        if r.name == "ca-intermediate"
    ]
    cas.append(
        ca_entry(url, [m.ca_intermediate, m.ca_root], since("ca-intermediate"), operator=operator)
    )
    tsa_url = f"{url}/api/v1/timestamp"
    tsas = [
        tsa_entry(
            tsa_url, r.certificates(), r.valid_from, valid_until=r.valid_until, operator=operator
        )
        for r in retired
        if r.name == "tsa"
    ]
    tsas.append(tsa_entry(tsa_url, [m.tsa_leaf, m.tsa_root], since("tsa"), operator=operator))
    trusted_root = build_trusted_root(ca=cas, tlogs=tlogs, ctlogs=ctlogs, tsas=tsas)
    signing_config = build_signing_config(
        ca_url=url,
        oidc_url=f"{url}/oidc" if cfg.get("oidc", "dev", False) else _login_issuer(cfg),
        rekor_v1_url=url,
        rekor_v2_url=url,
        tsa_url=tsa_url,
        valid_from=start,
        operator=operator,
    )
    return trusted_root, signing_config


def _login_issuer(cfg: InstanceConfig) -> str | None:
    """The first configured email issuer: the one a person logs in with (``oidcUrls``)."""
    issuers = cfg.get("ca", "oidc-issuers", {}) or {}
    for url, entry in issuers.items():
        if isinstance(entry, dict) and entry.get("type", "email") == "email":
            return str(entry.get("issuer-url", url))
    return None


def publish_instance_trust(cfg: InstanceConfig) -> None:
    """(Re)write the trust files and publish them through the TUF repository."""
    from sceau.trust import publish_trust

    trusted_root, signing_config = build_trust_documents(cfg, Material.load(cfg))
    publish_trust(cfg.dir, trusted_root, signing_config)


def rekor_v2_vkey(cfg: InstanceConfig) -> str:
    """The vkey of the instance's Rekor v2 checkpoint key: what a witness is given."""
    from sceau.material import Material
    from sceau.note import format_vkey, note_signer

    return format_vkey(note_signer(cfg.host, Material.load(cfg).signer("rekor-v2")))


def witness_policy_text(cfg: InstanceConfig) -> str:
    """A C2SP tlog-policy for verifiers of this instance: its Rekor v2 log, the witnesses of
    ``[witnesses]`` and their quorum (``quorum none`` without witnesses)."""
    from sceau.log.cosigning import settings_from_config

    lines = [f"log {rekor_v2_vkey(cfg)} {cfg.url}"]
    settings = settings_from_config(cfg.raw.get("witnesses"))
    if settings is None:
        return "\n".join([*lines, "quorum none", ""])
    names = []
    for i, w in enumerate(settings.witnesses, 1):
        names.append(f"w{i}")
        lines.append(f"witness w{i} {w.vkey} {w.url}")
    lines += [f"group witnesses {settings.quorum} {' '.join(names)}", "quorum witnesses", ""]
    return "\n".join(lines)
