"""The RFC 6962 Certificate Transparency log (what the CA submits precertificates to).

- :mod:`.rfc6962` — TLS wire structures (SCT, MerkleTreeLeaf, STH input), pure;
- :mod:`.der` — cutting the poison out of a precertificate's TBS, byte-exactly;
- :mod:`.ctlog` — :class:`~.ctlog.CTLog`: submission, dedup, STH, proofs, entries;
- :mod:`.extra` — where chains (``extra_data``) live beside the engine's leaves;
- :mod:`.api` — the ``/ct/v1/…`` routes; :mod:`.service` — ``build_ct_log``.

Nothing is imported here, so the CA can use the pure codec without loading the engine.
"""
