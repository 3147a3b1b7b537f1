"""cosign's own file formats, so that people coming from cosign keep their files.

- :mod:`.keys`: ``cosign.key`` (an "ENCRYPTED SIGSTORE PRIVATE KEY": scrypt + NaCl
  secretbox over PKCS#8) and ``cosign.pub``, read and written.
- :mod:`.material`: detached signatures (base64), certificates (PEM), certificate chains,
  the legacy cosign bundle (``base64Signature``, ``cert``, ``rekorBundle``) and a bare
  Rekor bundle (``SignedEntryTimestamp`` + ``Payload``).
- :mod:`.detached`: verifying that material against a trusted root (cosign's
  ``verify-blob`` rules, the subset documented in ``docs/cosign.md``).
- :mod:`.lookup`: finding the log entry of a detached signature in a Rekor v1 log.
- :mod:`.predicates`: cosign's short names for in-toto predicate types.
"""
