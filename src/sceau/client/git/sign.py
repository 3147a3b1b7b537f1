"""Sign a git object keylessly in gitsign's offline format.

The ordinary :class:`~sceau.client.sign.Signer` gets (or the credential cache hands back)
the key and certificate, and ``complete_bundle`` timestamps and logs the signature exactly
as for a file — the "file" being the CMS signed attributes. The log entry and any
timestamps then go into the CMS as unsigned attributes, and the result is verified offline
with :mod:`sceau.client.git.verify` before git ever sees it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sceau.client.git import cache, cms, tlogpb
from sceau.client.git.config import GitSettings
from sceau.client.identity import IdentityToken
from sceau.client.sign import (
    EphemeralKey,
    Material,
    Signer,
    SigningContext,
    SigningError,
    complete_bundle,
)
from sceau.errors import InputError, VerificationError


@dataclass(frozen=True)
class SignedGitObject:
    armored: bytes
    certificate: Any
    log_index: int
    from_cache: bool


def sign_payload(signer: Signer, payload: bytes, now: datetime | None = None) -> bytes:
    """Armored CMS signature over ``payload`` with the signer's key and certificate."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from sceau.client.git.verify import verify_signature

    cert = signer.certificate()
    when = (now or datetime.now(UTC)).replace(microsecond=0)
    attrs = cms.signed_attributes(hashlib.sha256(payload).digest(), when)
    digest = hashlib.sha256(attrs.dump()).digest()
    signature = signer.key.sign_digest(digest)
    trusted_root = signer.context.trusted_root
    # Rekor v1's signed integrated time is the verified time, as in gitsign (whose CMS
    # verifier would check any timestamp token against the system roots); Rekor v2 gives
    # no time, so there the TSAs' tokens go in the CMS as RFC 3161 attributes.
    tlog = signer.services.tlog
    tsas = signer.services.tsas if tlog.major_api_version == 2 else ()
    bundle = complete_bundle(
        signer.http,
        tlog,
        tsas,
        trusted_root,
        Material(cert.public_key(), cert),
        digest=digest,
        message_signature=signature,
    )
    vm = bundle["verificationMaterial"]
    entry = vm["tlogEntries"][0]
    # gitsign drops the hashedrekord 0.0.1 body (it is rebuilt from the signature); other
    # kinds (Rekor v2's 0.0.2) keep theirs, whose exact bytes are not rebuilt here.
    v1 = entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.1"}
    unsigned = [cms.tlog_attribute(tlogpb.encode_entry(entry, keep_body=not v1))]
    tokens = [
        base64.b64decode(t["signedTimestamp"])
        for t in vm["timestampVerificationData"]["rfc3161Timestamps"]
    ]
    if tokens:
        unsigned.append(cms.timestamp_attribute(tokens))
    armored = cms.armor(cms.assemble(cert.public_bytes(Encoding.DER), attrs, signature, unsigned))
    try:
        verify_signature(payload, armored, trusted_root)
    except VerificationError as e:
        raise SigningError(f"the signature just made does not verify: {e.message}") from None
    return armored


def signing_context(settings: GitSettings) -> SigningContext:
    path = settings.trust_config_path()
    if path is not None:
        return SigningContext.from_trust_config(path, rekor_version=settings.rekor_version)
    from sceau.client import tuf

    trust = tuf.instance_trust(tuf.PRODUCTION_URL)
    return SigningContext(
        trust.signing_config, trust.trusted_root, rekor_version=settings.rekor_version
    )


def identity_token(settings: GitSettings, context: SigningContext) -> IdentityToken:
    """``sceau.identityToken`` (or ``$SIGSTORE_ID_TOKEN``): a token, or where to get one —
    ``file:PATH``, ``env:NAME``, ``dev:EMAIL`` (the instance's dev issuer) — and without
    it the usual sources (environment, GitHub Actions' ambient token)."""
    import os

    from sceau.client.identity import dev_issuer_token, get_identity_token

    source = settings.get("identityToken")
    if source is None:
        return get_identity_token(None)
    if source.startswith("file:"):
        try:
            return IdentityToken.parse(Path(source[5:]).expanduser().read_text())
        except OSError as e:
            raise InputError(
                f"cannot read identity token file {source[5:]}: {e.strerror}"
            ) from None
    if source.startswith("env:"):
        value = os.environ.get(source[4:], "")
        if not value.strip():
            raise InputError(f"sceau.identityToken names ${source[4:]}, which is empty")
        return IdentityToken.parse(value)
    if source.startswith("dev:"):
        oidc = context.signing_config.select(rekor_version=context.rekor_version).oidc
        if oidc is None:
            raise InputError("dev: identity needs an instance whose signing config names an issuer")
        return IdentityToken.parse(dev_issuer_token(oidc.url, source[4:]))
    return IdentityToken.parse(source)


def _hint(settings: GitSettings) -> str:
    """What distinguishes identities in the cache: the configured source, never a token."""
    source = settings.get("identityToken") or ""
    return source if source.split(":", 1)[0] in ("file", "env", "dev") else ""


def sign_object(
    payload: bytes,
    settings: GitSettings,
    *,
    token_source: Callable[[SigningContext], IdentityToken] | None = None,
) -> SignedGitObject:
    """Sign one git object with the settings' instance, via the credential cache if any."""
    context = signing_context(settings)
    services = context.signing_config.select(rekor_version=context.rekor_version)
    socket_path = settings.get("credentialCache")
    key = cache.cache_key(services.ca.url, _hint(settings))
    cached = cache.get(Path(socket_path), key) if socket_path else None
    if cached is not None:
        signer = Signer(
            context, None, key=EphemeralKey(cached.private_key), certificate=cached.certificate
        )
    else:
        token = (token_source or (lambda c: identity_token(settings, c)))(context)
        signer = Signer(context, token)
    with signer:
        armored = sign_payload(signer, payload)
        cert = signer.certificate()
        if cached is None and socket_path:
            cache.put(Path(socket_path), key, cache.Credential(signer.key.private_key, cert))
    parsed = cms.parse(armored)
    assert parsed.tlog_entry is not None
    index = int(tlogpb.decode_entry(parsed.tlog_entry)["logIndex"])
    return SignedGitObject(armored, cert, index, cached is not None)
