"""The instance page's facts: log heads, trusted-root key windows, TUF expiry, version.

Read from the files the instance already publishes (``trust/trusted_root.json``, the TUF
metadata), never from the key directory: nothing secret is within reach of a page.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from sceau.services.explorer.catalog import Catalog

TUF_ROLES = ("root", "targets", "snapshot", "timestamp")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def trust_keys(trusted_root: Any) -> list[dict[str, Any]]:
    """Every key of the trusted root with its validity window, in file order."""
    out: list[dict[str, Any]] = []
    if not isinstance(trusted_root, dict):
        return out
    for group, role in (("tlogs", "transparency log"), ("ctlogs", "CT log")):
        for t in trusted_root.get(group) or []:
            valid = (t.get("publicKey") or {}).get("validFor") or {}
            key_id = base64.b64decode((t.get("logId") or {}).get("keyId", "")).hex()
            out.append(
                {
                    "role": f"{role} {t.get('baseUrl', '')}".strip(),
                    "id": key_id,
                    "start": valid.get("start", "-"),
                    "end": valid.get("end"),
                }
            )
    for group, role in (("certificateAuthorities", "CA"), ("timestampAuthorities", "TSA")):
        for ca in trusted_root.get(group) or []:
            valid = ca.get("validFor") or {}
            subject = ca.get("subject") or {}
            out.append(
                {
                    "role": f"{role} {ca.get('uri', '')}".strip(),
                    "id": subject.get("commonName") or subject.get("organization") or "-",
                    "start": valid.get("start", "-"),
                    "end": valid.get("end"),
                }
            )
    return out


def tuf_expiry(tuf_dir: Path) -> list[tuple[str, str, str]]:
    out = []
    for role in TUF_ROLES:
        path = tuf_dir / f"{role}.json"
        if not path.exists():  # consistent snapshots: the newest N.role.json
            numbered = [p for p in tuf_dir.glob(f"*.{role}.json") if p.name.split(".")[0].isdigit()]
            path = max(numbered, key=lambda p: int(p.name.split(".")[0]), default=path)
        doc = _read_json(path)
        signed = doc.get("signed") if isinstance(doc, dict) else None
        if isinstance(signed, dict):
            out.append((role, str(signed.get("version", "-")), str(signed.get("expires", "-"))))
    return out


def commands(url: str) -> str:
    return (
        "# sigstore-python, with the instance's trust config\n"
        f"sigstore --instance {url}/tuf trust-instance root.json   # root.json from the operator\n"
        f"sigstore --instance {url}/tuf sign FILE\n"
        "# or with the trust config file of the instance directory\n"
        "sigstore --trust-config trust/trust_config.json sign FILE\n"
        "# sceau's own client (the first use of --instance needs --tuf-root root.json)\n"
        f"sceau sign --instance {url}/tuf FILE\n"
        f"sceau verify --instance {url}/tuf FILE --bundle FILE.sigstore.json \\\n"
        "    --certificate-identity ME --certificate-oidc-issuer ISSUER"
    )


async def instance_info(
    catalog: Catalog, trusted_root: Path, tuf_dir: Path, url: str, version: str
) -> dict[str, Any]:
    logs = []
    for view in catalog.views:
        cp = await view.log.latest()
        origin = cp.note.split("\n", 1)[0]
        logs.append(
            {
                "name": view.name,
                "label": view.label,
                "size": cp.size,
                "origin": origin,
                "checkpoint": cp.note,
            }
        )
    return {
        "url": url,
        "version": version,
        "logs": logs,
        "keys": trust_keys(_read_json(trusted_root)),
        "tuf": tuf_expiry(tuf_dir),
        "commands": commands(url),
    }
