"""The sceau client library: sign, and verify Sigstore bundles offline.

    from sceau.client import Verifier, TrustedRoot, Identity
    Verifier(TrustedRoot.production()).verify_artifact(bundle_bytes, Path("a.txt"),
                                                        Identity(email, issuer))

    from sceau.client import SigningContext
    ctx = SigningContext.from_trust_config(Path(".sceau/trust/trust_config.json"))
    with ctx.signer(token) as signer:
        bundle = signer.sign_artifact(Path("a.txt"))    # the Bundle verify_artifact takes
    Path("a.txt.sigstore.json").write_text(bundle.to_json())

docs/client.md ("As a library") has a complete example, run by the tests.

Imports are lazy so that ``import sceau.client`` stays cheap for the CLI.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "Bundle": "sceau.client.bundle",
    "TrustedRoot": "sceau.client.trust",
    "load_trusted_root": "sceau.client.trust",
    "Verifier": "sceau.client.verify",
    "VerificationResult": "sceau.client.verify",
    "Digest": "sceau.client.hashing",
    "Identity": "sceau.client.policy",
    "IdentityRegexp": "sceau.client.policy",
    "SAN": "sceau.client.policy",
    "SANRegexp": "sceau.client.policy",
    "Issuer": "sceau.client.policy",
    "IssuerRegexp": "sceau.client.policy",
    "GitHubClaim": "sceau.client.policy",
    "AllOf": "sceau.client.policy",
    "AnyOf": "sceau.client.policy",
    "PublicKey": "sceau.client.policy",
    "SigningContext": "sceau.client.sign",
    "Signer": "sceau.client.sign",
    "sign_artifact": "sceau.client.sign",
    "sign_dsse": "sceau.client.sign",
    "IdentityToken": "sceau.client.identity",
    "SigningConfig": "sceau.client.signing_config",
    "instance_trust": "sceau.client.tuf",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sceau.client' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
