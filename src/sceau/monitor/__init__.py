"""``sceau monitor``: follow transparency logs, prove they only grow, report watched signers.

- :mod:`.logs` — the logs a trusted root names (Rekor v1, Rekor v2, CT) and their keys;
- :mod:`.sources` / :mod:`.rfc6962` — reading checkpoints and entries over HTTP (tiles,
  Rekor v1 by index, RFC 6962 ``get-entries``);
- :mod:`.run` — one pass over one log: verify, extend the compact range, match;
- :mod:`.entries`, :mod:`.watch` — what an entry says about its signer, and the rules;
- :mod:`.state`, :mod:`.output` — the state directory, and where matches and alarms go.

docs/monitoring.md describes the behaviour and the command's exit statuses.
"""
