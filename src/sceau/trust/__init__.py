"""Trust distribution: the trust documents clients read, and the TUF repository serving them.

- :func:`build_trusted_root`, :func:`build_signing_config`, :func:`build_client_trust_config`
  produce the JSON documents sigstore-python and sigstore-js accept as is;
  :func:`write_trust_files` writes them into ``<instance>/trust/``.
- :func:`publish_trust` does both for an instance directory (``sceau init``);
- :class:`TufRepository` publishes ``trusted_root.json`` and ``signing_config.v0.2.json``
  as TUF targets, keeps the metadata fresh (:meth:`TufRepository.refresh`) and rotates.
"""

from __future__ import annotations

from sceau.trust._wire import dumps, key_details, spki_log_id
from sceau.trust.client_config import (
    CLIENT_TRUST_CONFIG_MEDIA_TYPE,
    SIGNING_CONFIG_FILE,
    TRUST_CONFIG_FILE,
    TRUSTED_ROOT_FILE,
    build_client_trust_config,
    write_trust_files,
)
from sceau.trust.instance import publish_trust
from sceau.trust.signing_config import (
    SIGNING_CONFIG_MEDIA_TYPE,
    build_signing_config,
    tsa_endpoint,
)
from sceau.trust.trusted_root import (
    TRUSTED_ROOT_MEDIA_TYPE,
    build_trusted_root,
    ca_entry,
    tlog_entry,
    tsa_entry,
)
from sceau.trust.tuf_keys import ROLES, TufKeys, key_filename
from sceau.trust.tuf_repo import Expiry, TufRepository

__all__ = [
    "CLIENT_TRUST_CONFIG_MEDIA_TYPE",
    "ROLES",
    "SIGNING_CONFIG_FILE",
    "SIGNING_CONFIG_MEDIA_TYPE",
    "TRUSTED_ROOT_FILE",
    "TRUSTED_ROOT_MEDIA_TYPE",
    "TRUST_CONFIG_FILE",
    "Expiry",
    "TufKeys",
    "TufRepository",
    "build_client_trust_config",
    "build_signing_config",
    "build_trusted_root",
    "ca_entry",
    "dumps",
    "key_details",
    "key_filename",
    "publish_trust",
    "spki_log_id",
    "tlog_entry",
    "tsa_endpoint",
    "tsa_entry",
    "write_trust_files",
]
