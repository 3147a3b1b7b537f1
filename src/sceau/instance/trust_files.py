"""An instance's trust files: the trusted root and signing config it publishes (under
``trust/`` and through its TUF repository), and the witness policy verifiers of its
witnessed log need. Rebuilt from the instance's material, configuration and retired keys
whenever one of them changes (``sceau init``, ``rotate``, ``tuf refresh``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sceau.config import InstanceConfig
from sceau.instance.material import Material, valid_from


def build_trust_documents(
    cfg: InstanceConfig, m: Material
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The instance's ``trusted_root.json`` and ``signing_config.v0.2.json`` documents.

    Retired keys (``sceau rotate``) stay listed with their validity window, so bundles
    made before a rotation keep verifying; current keys are valid from their rotation.
    """
    from sceau.client.trust import LogInstance
    from sceau.instance.retired import current_since, load_retired
    from sceau.note import log_id
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
        out = [(r.public_key(), r.valid_from, r.valid_until, r) for r in retired if r.name == name]
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
    from sceau.instance.material import token_keys, tuf_keys
    from sceau.trust import publish_trust

    trusted_root, signing_config = build_trust_documents(cfg, Material.load(cfg))
    in_token = any(role.startswith("tuf-") for role in token_keys(cfg))
    keys: Any = tuf_keys(cfg) if in_token else None
    if keys is not None and keys.root is None and not (cfg.tuf_dir / "root.json").exists():
        import dataclasses

        from sceau.keys import generate_signer

        keys = dataclasses.replace(keys, root=generate_signer("ecdsa-p256"))  # a new repository
    publish_trust(cfg.dir, trusted_root, signing_config, keys=keys)


def rekor_v2_vkey(cfg: InstanceConfig) -> str:
    """The vkey of the instance's Rekor v2 checkpoint key: what a witness is given."""
    from sceau.instance.material import Material
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
