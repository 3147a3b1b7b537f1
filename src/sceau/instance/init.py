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

import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sceau.config import CONFIG_NAME, DEFAULT_URL, InstanceConfig, is_loopback_host
from sceau.durable import write_atomic
from sceau.errors import Conflict, InputError
from sceau.instance.material import ALGORITHMS, KEY_FILES, TOKEN_ROLES
from sceau.keys import FileSigner, Signer, generate_signer, save_signer

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


def token_uris(prefix: str) -> dict[str, str]:
    """Role → URI of its key in the token ``prefix`` names (object ``sceau-<role>``)."""
    from sceau.keys.pkcs11 import parse_uri, relabel

    attrs = parse_uri(prefix)
    if "object" in attrs or "id" in attrs:
        raise InputError("--pkcs11 names the token only: sceau labels each key sceau-<role>")
    return {role: relabel(prefix, f"sceau-{role}") for role in TOKEN_ROLES}


def _make_in_token(uris: dict[str, str]) -> dict[str, Signer]:
    from sceau.keys.pkcs11 import generate_in_token

    return {role: generate_in_token(uri, ALGORITHMS[role], role=role) for role, uri in uris.items()}


def keys_toml(uris: dict[str, str]) -> str:
    if not uris:
        return ""
    lines = ["", '[keys]  # online keys in a PKCS#11 token (docs/operations.md, "Keys")']
    lines += [f'{role} = "{uri}"' for role, uri in uris.items()]
    return "\n".join(lines) + "\n"


def init_instance(
    directory: str | os.PathLike[str],
    *,
    url: str = DEFAULT_URL,
    operator: str = "sceau",
    dev_oidc: bool | None = None,
    oidc_issuers: Sequence[OIDCIssuerSpec] = (),
    pkcs11: str | None = None,
) -> InstanceConfig:
    """Create a complete instance: keys, CA and TSA certificates, trust files, TUF repo.

    ``dev_oidc``: trust and serve the development OIDC issuer. ``None`` (the default)
    turns it on only for a loopback URL; on any other URL it takes an explicit ``True``,
    and ``sceau serve`` then also wants ``--dev-oidc`` (docs/security.md).
    ``oidc_issuers`` are real identity providers the CA trusts (``[ca.oidc-issuers]``).
    ``pkcs11``: a token URI (``pkcs11:token=T``); the online keys are made in it and
    listed in ``[keys]`` (docs/operations.md, "Keys")."""
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

    in_token = token_uris(pkcs11) if pkcs11 else {}
    signers: dict[str, Signer] = {
        name: generate_signer(alg) for name, alg in KEY_FILES.items() if name not in in_token
    }
    signers.update(_make_in_token(in_token))
    ca_chain, _ = make_ca_chain(
        root_signer=signers["ca-root"],
        intermediate_signer=signers["ca-intermediate"],
        organization=operator,
    )
    tsa_root = signers["tsa-root"]
    assert isinstance(tsa_root, FileSigner)  # the roots are files (TOKEN_ROLES)
    tsa = make_tsa_chain(organization=operator, leaf_signer=signers["tsa"], root_signer=tsa_root)
    for name, signer in signers.items():
        if isinstance(signer, FileSigner):
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
        + issuers_toml.encode()
        + keys_toml(in_token).encode(),
        0o644,
    )
    cfg = InstanceConfig.load(d)
    from sceau.instance.app import create_logs
    from sceau.instance.trust_files import publish_instance_trust

    create_logs(cfg)
    publish_instance_trust(cfg)
    from sceau.services.witness.config import init_witness

    # The instance's own witness, served by `serve --only witness` once it lists logs.
    init_witness(d / "witness", f"{cfg.host}/witness", [])
    return cfg
