"""Reading a CT log through its RFC 6962 API, for CT logs that serve no tiles.

``get-sth`` gives the tree head (a TLS ``TreeHeadSignature``, not a signed note: it is
verified with the log key from the trusted root and turned into a checkpoint whose origin is
the log's name); ``get-entries`` gives leaves in ranges (a log may answer fewer than asked:
the rest is asked again); a first run's compact range comes from the audit path of the last
leaf (``get-proof-by-hash``). As with tiles, nothing read here is trusted until the leaves
fold into the signed root.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from sceau.errors import RemoteError
from sceau.merkle import CompactRange, ProofError, leaf_hash, left_siblings
from sceau.monitor.errors import LogAlarm
from sceau.monitor.logs import LogTarget
from sceau.monitor.sources import MAX_JSON, Http, ordered
from sceau.note import Checkpoint, NoteError
from sceau.services.ct.rfc6962 import CodecError, DigitallySigned, sth_signature_input

RANGE = 256  # entries asked per get-entries request


class RFC6962Source:
    """A CT log whose RFC 6962 API is at ``<base>/ct/v1``."""

    index_offset = 0

    def __init__(self, http: Http, base: str) -> None:
        self.http = http
        self.api = f"{base.rstrip('/')}/ct/v1"

    def _get(self, path: str) -> Any:
        url = f"{self.api}/{path}"
        try:
            return json.loads(self.http.get(url, MAX_JSON))
        except ValueError:
            raise RemoteError(f"GET {url}: answer is not JSON") from None

    def latest(self, target: LogTarget) -> tuple[Checkpoint, str]:
        sth = self._get("get-sth")
        try:
            size, ts = int(sth["tree_size"]), int(sth["timestamp"])
            root = base64.b64decode(sth["sha256_root_hash"], validate=True)
            signed = DigitallySigned.decode(
                base64.b64decode(sth["tree_head_signature"], validate=True)
            )
            message = sth_signature_input(ts, size, root)
        except (KeyError, TypeError, ValueError, binascii.Error, CodecError) as e:
            raise RemoteError(f"{self.api}/get-sth: malformed tree head ({e})") from None
        key = target.public_key
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise RemoteError(f"{target.label}: only ECDSA CT log keys are supported")
        try:
            key.verify(signed.signature, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise LogAlarm(
                f"{target.label}: the signed tree head does not verify with the log's trusted key"
            ) from None
        try:
            cp = Checkpoint(target.name, size, root)
        except NoteError as e:
            raise RemoteError(f"{self.api}/get-sth: {e}") from None
        return cp, json.dumps(sth, sort_keys=True)

    def _range(self, start: int, end: int) -> list[bytes]:
        """Leaves ``[start, end)``, asking again from where a short answer stopped."""
        out: list[bytes] = []
        while start + len(out) < end:
            first = start + len(out)
            doc = self._get(f"get-entries?start={first}&end={end - 1}")
            entries = doc.get("entries") if isinstance(doc, dict) else None
            if not isinstance(entries, list) or not entries:
                raise RemoteError(f"{self.api}/get-entries from {first}: no entries")
            for e in entries[: end - first]:
                try:
                    out.append(base64.b64decode(e["leaf_input"], validate=True))
                except (KeyError, TypeError, ValueError, binascii.Error):
                    raise RemoteError(f"{self.api}/get-entries: malformed leaf_input") from None
        return out

    def entries(self, start: int, end: int, size: int) -> Iterator[tuple[int, bytes]]:
        def job(a: int) -> Callable[[], list[bytes]]:
            return lambda: self._range(a, min(end, a + RANGE))

        starts = list(range(start, end, RANGE))
        for a, leaves in zip(starts, ordered([job(a) for a in starts]), strict=True):
            for i, leaf in enumerate(leaves):
                yield a + i, leaf

    def start_range(self, size: int) -> CompactRange:
        if size == 0:
            return CompactRange()
        (leaf,) = self._range(size - 1, size)
        h = leaf_hash(leaf)
        b64 = base64.b64encode(h).decode().replace("+", "%2B").replace("/", "%2F")
        doc = self._get(f"get-proof-by-hash?hash={b64.replace('=', '%3D')}&tree_size={size}")
        try:
            index = int(doc["leaf_index"])
            path = [base64.b64decode(p, validate=True) for p in doc["audit_path"]]
            if index != size - 1:
                raise ValueError(f"the last leaf is also at index {index}")
            compact = CompactRange(size - 1, left_siblings(index, size, path))
        except (KeyError, TypeError, ValueError, binascii.Error, ProofError) as e:
            raise RemoteError(f"{self.api}/get-proof-by-hash: unusable answer ({e})") from None
        compact.append(h)
        return compact
