"""Git commit and tag signing in gitsign's format (docs/git.md).

``cms``: the detached CMS SignedData gitsign writes; ``tlogpb``: the protobuf
``TransparencyLogEntry`` it carries in an unsigned attribute; ``objects``: splitting a git
object into payload and signature; ``sign`` / ``verify``: keyless signing and offline
verification through the ordinary Sigstore signer and verifier; ``status``: gpg's status
lines that git reads; ``cache``: the credential cache; ``config``: git config and
environment settings.
"""
