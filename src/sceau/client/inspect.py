"""Describe a bundle for humans (``sceau bundle inspect``): who signed, which log, when.

Everything shown comes from the bundle itself; with a trusted root the artifact-independent
checks (verified times, certificate chain, SCT, log entry, times within the certificate's
validity) are also run, and the report says which passed or which failed and why. The
artifact signature and the identity policy need the artifact and an expected identity:
``sceau verify`` does those.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from sceau.client.bundle import Bundle, DsseEnvelope
from sceau.client.trust import TrustedRoot
from sceau.errors import VerificationError


class _AnyIdentity:
    """Accepts every certificate: inspect reports identities, it does not judge them."""

    def verify(self, cert: Any) -> None:
        return None


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def inspect_bundle(bundle: Bundle, trusted_root: TrustedRoot | None = None) -> dict[str, Any]:
    """A JSON-ready description of ``bundle``; see the module docstring."""
    from cryptography.x509 import load_der_x509_certificate

    from sceau.client.policy import cert_identities, cert_issuer

    e = bundle.tlog_entry
    report: dict[str, Any] = {
        "mediaType": bundle.media_type,
        "version": bundle.version,
        "content": "dsse" if isinstance(bundle.content, DsseEnvelope) else "messageSignature",
    }
    if bundle.certificate is not None:
        cert = load_der_x509_certificate(bundle.certificate)
        report["certificate"] = {
            "identities": cert_identities(cert),
            "issuer": cert_issuer(cert),
            "notBefore": _iso(cert.not_valid_before_utc),
            "notAfter": _iso(cert.not_valid_after_utc),
            "serial": format(cert.serial_number, "x"),
            "chainLength": 1 + len(bundle.chain),
        }
    else:
        report["publicKeyHint"] = bundle.public_key_hint
    if isinstance(bundle.content, DsseEnvelope):
        report["dsse"] = {"payloadType": bundle.content.payload_type}
        try:
            st = json.loads(bundle.content.payload)
            report["dsse"]["predicateType"] = st.get("predicateType")
            report["dsse"]["subjects"] = [
                {"name": s.get("name"), "digest": s.get("digest")} for s in st.get("subject", [])
            ]
        except (ValueError, AttributeError, TypeError):
            pass
    else:
        ms = bundle.content
        if ms.digest is not None:
            report["messageDigest"] = {"algorithm": ms.digest_algorithm, "digest": ms.digest.hex()}
    proof = e.inclusion_proof
    origin = None
    if proof is not None and proof.checkpoint:
        origin = proof.checkpoint.split("\n", 1)[0]
    report["tlogEntry"] = {
        "kind": e.kind,
        "version": e.version,
        "rekor": 2 if (e.kind, e.version) in {("hashedrekord", "0.0.2"), ("dsse", "0.0.2")} else 1,
        "logIndex": e.log_index,
        "treeIndex": proof.log_index if proof else None,
        "treeSize": proof.tree_size if proof else None,
        "logId": base64.b64encode(e.log_id).decode(),
        "checkpointOrigin": origin,
        "integratedTime": _iso(datetime.fromtimestamp(e.integrated_time, UTC))
        if e.integrated_time
        else None,
        "inclusionPromise": e.inclusion_promise is not None,
    }
    report["timestamps"] = [_token_time(t) for t in bundle.timestamps]
    if trusted_root is not None:
        report["verification"] = _checks(bundle, trusted_root)
    return report


def _token_time(token: bytes) -> dict[str, Any]:
    try:
        from rfc3161_client import decode_timestamp_response

        r = decode_timestamp_response(token)
        return {"genTime": _iso(r.tst_info.gen_time)}
    except ValueError:
        return {"genTime": None, "error": "not a valid TimeStampResp"}


def _checks(bundle: Bundle, trusted_root: TrustedRoot) -> dict[str, Any]:
    from sceau.client.verify import Verifier

    if bundle.certificate is None:
        return {"ok": None, "note": "managed-key bundle: verify with `sceau verify --key`"}
    try:
        result, _ = Verifier(trusted_root)._verify_common(bundle, _AnyIdentity())
    except VerificationError as err:
        return {"ok": False, "failed": err.message}
    return {
        "ok": True,
        "checked": [c for c in result.checks if "policy" not in c],
        "verifiedTimes": [
            {"source": t.source, "time": _iso(t.time)} for t in result.verified_times
        ],
        "log": result.log.log.base_url,
        "notChecked": ["artifact signature", "identity policy"],
    }


def format_report(report: dict[str, Any]) -> str:
    """The human-readable form of :func:`inspect_bundle`'s report."""
    lines = [f"bundle:      v{report['version']} ({report['mediaType']})"]
    cert = report.get("certificate")
    if cert:
        lines.append(f"identity:    {', '.join(cert['identities']) or '-'}")
        lines.append(f"issuer:      {cert['issuer'] or '-'}")
        lines.append(f"certificate: valid {cert['notBefore']} .. {cert['notAfter']}")
    else:
        lines.append(f"signed with: managed key (hint {report.get('publicKeyHint') or '-'})")
    lines.append(f"content:     {report['content']}")
    if "dsse" in report:
        d = report["dsse"]
        lines.append(f"payload:     {d.get('payloadType')} predicate {d.get('predicateType')}")
        for s in d.get("subjects", []):
            lines.append(f"subject:     {s.get('name')} {s.get('digest')}")
    t = report["tlogEntry"]
    lines.append(
        f"log entry:   Rekor v{t['rekor']} {t['kind']}/{t['version']} index {t['logIndex']}"
        f" (tree index {t['treeIndex']} of {t['treeSize']}, {t['checkpointOrigin']})"
    )
    if t["integratedTime"]:
        promise = "with" if t["inclusionPromise"] else "without"
        lines.append(f"integrated:  {t['integratedTime']} ({promise} inclusion promise)")
    for ts in report["timestamps"]:
        lines.append(f"timestamp:   {ts.get('genTime') or ts.get('error')} (RFC 3161)")
    v = report.get("verification")
    if v is not None:
        if v.get("ok"):
            lines.append(f"checked:     {'; '.join(v['checked'])}")
            lines.append(f"not checked: {', '.join(v['notChecked'])} (use sceau verify)")
        elif v.get("ok") is False:
            lines.append(f"check failed: {v['failed']}")
        else:
            lines.append(f"not checked: {v['note']}")
    return "\n".join(lines)
