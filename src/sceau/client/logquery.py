"""Querying a Rekor log and checking its answers — what ``sceau log`` (rekor-cli's commands)
is built on.

A :class:`RekorLog` is one log: Rekor v1 (its REST API) or Rekor v2 (the C2SP tlog-tiles
read path, plus sceau's entry and search reads). Every answer that can be checked is:
checkpoints against the log's key in the trusted root, entries by their inclusion proof
(and SET), consistency proofs against the roots they join. Where nothing in the trusted
root names the log, the answer says so (``verified: None``) instead of guessing.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sceau import merkle
from sceau import note as notes
from sceau.client import rekor_json
from sceau.client.bundle import TlogEntry, parse_tlog_entry
from sceau.client.errors import LogEntryError
from sceau.client.trust import LogInstance, TrustedRoot
from sceau.errors import InputError, RemoteError

MAX_ANSWER = 16 * 1024 * 1024
TIMEOUT = 30.0


class LogQueryError(RemoteError):
    """The log cannot be reached, or answered something malformed."""


@dataclass(frozen=True)
class Head:
    """The log's latest signed checkpoint."""

    origin: str
    tree_size: int
    root_hash: bytes
    checkpoint: str
    verified: bool | None  # None: no key for this log in the trusted root


@dataclass(frozen=True)
class Entry:
    """One entry as the log returned it, in bundle form, with what was checked."""

    uuid: str | None
    index: int
    tlog: dict[str, Any]  # TransparencyLogEntry JSON (what a bundle carries)
    entry: TlogEntry
    verified: bool | None

    @property
    def body(self) -> Any:
        import json

        return json.loads(self.entry.canonicalized_body)


class RekorLog:
    """One Rekor log at ``url`` speaking API ``version`` (1 or 2)."""

    def __init__(
        self,
        url: str,
        version: int,
        trusted_root: TrustedRoot | None = None,
        client: Any | None = None,
    ) -> None:
        import httpx

        if version not in (1, 2):
            raise InputError(f"unsupported Rekor API version {version}")
        self.url = url.rstrip("/")
        self.version = version
        self.trusted_root = trusted_root
        self._client = client or httpx.Client(timeout=TIMEOUT, follow_redirects=False)
        self._tiles_prefix: str | None = None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RekorLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP --------------------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._answer("GET", path, params=params)

    def _answer(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        url = self.url + path
        try:
            resp = self._client.request(method, url, **kwargs)
        except httpx.HTTPError as e:
            raise LogQueryError(f"cannot reach the log at {url}: {e or type(e).__name__}") from None
        if len(resp.content) > MAX_ANSWER:
            raise LogQueryError(f"the log at {url} answered {len(resp.content)} bytes")
        if resp.status_code == 404:
            raise LogQueryError(f"not found at {url}: {_message(resp)}")
        if resp.status_code >= 400:
            raise LogQueryError(f"the log at {url} answered {resp.status_code}: {_message(resp)}")
        return resp

    def _json(self, resp: Any) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise LogQueryError(f"the log at {resp.request.url} answered non-JSON") from None

    # -- the head ----------------------------------------------------------------------

    def head(self) -> Head:
        """The latest checkpoint, verified with the log's key when the trusted root has it."""
        if self.version == 1:
            doc = self._json(self._get("/api/v1/log"))
            try:
                text = rekor_json.text(doc["signedTreeHead"])
            except (KeyError, TypeError, ValueError):
                raise LogQueryError("Rekor v1 log info has no signedTreeHead") from None
        else:
            text = self._tile_read("checkpoint").decode("utf-8", "replace")
        return self._open_checkpoint(text)

    def _open_checkpoint(self, text: str) -> Head:
        """Parse the checkpoint and verify it with every trusted log key that signed it.

        Logs are recognised by key, not by URL: a mirror or a proxy of a trusted log
        verifies, and a log at a trusted URL signing with an unknown key does not."""
        try:
            note = notes.parse_note(text)
            verifiers = self._verifiers_for(note)
            verified: bool | None = None
            if verifiers:
                notes.verify_note(text, verifiers)
                verified = True
            elif self._log_instances():
                raise LogEntryError(
                    f"the checkpoint of {self.url} is not signed by the key the trusted root "
                    "gives for this log"
                )
            checkpoint = notes.Checkpoint.parse(note.body)
        except notes.NoteError as e:
            raise LogEntryError(f"the log's checkpoint does not verify: {e.message}") from None
        return Head(checkpoint.origin, checkpoint.size, checkpoint.root_hash, text, verified)

    def _verifiers_for(self, note: Any) -> list[Any]:
        """Note verifiers of trusted log keys for the signature lines that claim them."""
        if self.trusted_root is None:
            return []
        now = datetime.now(UTC)
        out = []
        for log in self.trusted_root.tlogs:
            if log.public_key is None or not log.started(now):
                continue
            for sig in note.signatures:
                try:
                    verifier = notes.note_verifier(sig.name, log.public_key)
                except notes.NoteError:
                    continue
                if bytes(verifier.key_id) == sig.key_id:
                    out.append(verifier)
        return out

    def _log_instances(self) -> list[LogInstance]:
        """The trusted root's logs at this URL whose keys are in force."""
        if self.trusted_root is None:
            return []
        now = datetime.now(UTC)
        return [
            log
            for log in self.trusted_root.tlogs
            if log.base_url.rstrip("/") == self.url
            and log.public_key is not None
            and log.started(now)
        ]

    # -- entries -----------------------------------------------------------------------

    def entry_by_index(self, index: int) -> Entry:
        if index < 0:
            raise InputError("--index must be a non-negative integer")
        if self.version == 1:
            doc = self._json(self._get("/api/v1/log/entries", {"logIndex": index}))
            return self._v1_entry(doc)
        doc = self._json(self._get(f"/api/v2/log/entries/{index}"))
        return self._entry(None, doc, rekor_json.v2_entry)

    def entry_by_uuid(self, uuid: str) -> Entry:
        if self.version != 1:
            raise InputError("Rekor v2 entries have no UUID: use --index")
        if not uuid or not all(c in "0123456789abcdefABCDEF" for c in uuid) or len(uuid) > 80:
            raise InputError(f"--uuid must be a hex entry UUID, got {uuid!r}")
        doc = self._json(self._get(f"/api/v1/log/entries/{uuid.lower()}"))
        return self._v1_entry(doc)

    def _v1_entry(self, doc: Any) -> Entry:
        if not isinstance(doc, dict) or len(doc) != 1:
            raise LogQueryError("the Rekor v1 log answered other than one entry")
        ((uuid, value),) = doc.items()
        return self._entry(uuid, value, rekor_json.v1_entry)

    def _entry(self, uuid: str | None, value: Any, convert: Any) -> Entry:
        from sceau.client.errors import BundleError

        try:
            tlog = convert(value)
            entry = parse_tlog_entry(tlog)
        except (KeyError, TypeError, ValueError, AttributeError, BundleError) as e:
            raise LogQueryError(f"the log answered a malformed entry ({e})") from None
        verified: bool | None = None
        if self.trusted_root is not None and self.trusted_root.tlog(entry.log_id) is not None:
            from sceau.client.tlog import verify_entry

            verify_entry(entry, self.trusted_root)  # raises LogEntryError with the reason
            verified = True
        if uuid is not None and not uuid.lower().endswith(
            merkle.leaf_hash(entry.canonicalized_body).hex()
        ):
            raise LogEntryError(f"entry {uuid} is not the entry whose leaf hash it names")
        return Entry(uuid, entry.log_index, tlog, entry, verified)

    # -- search ------------------------------------------------------------------------

    def search(
        self,
        *,
        email: str | None = None,
        sha256: str | None = None,
        public_key_pem: bytes | None = None,
    ) -> list[str]:
        """UUIDs (v1) or indexes (v2) of the entries matching every criterion given."""
        query: dict[str, Any] = {}
        if email:
            query["email"] = email
        if sha256:
            digest = sha256.removeprefix("sha256:").lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise InputError(f"--sha256 must be 64 hex digits, got {sha256!r}")
            query["hash"] = f"sha256:{digest}"
        if public_key_pem is not None:
            query["publicKey"] = {
                "format": "x509",
                "content": base64.b64encode(public_key_pem).decode(),
            }
        if not query:
            raise InputError("give --email, --sha256 or --public-key")
        path = "/api/v1/index/retrieve" if self.version == 1 else "/api/v2/index/retrieve"
        found = self._json(self._answer("POST", path, json=query))
        if not isinstance(found, list) or not all(isinstance(x, str) for x in found):
            raise LogQueryError("the log's search answered other than a list of strings")
        return found

    # -- consistency -------------------------------------------------------------------

    def consistency_proof(self, first: int, second: int) -> tuple[list[bytes], bytes | None]:
        """PROOF(first, D[second]) and, where the log says it, the root of ``second``."""
        if not 0 < first <= second:
            raise InputError(f"sizes must satisfy 0 < from <= to, got {first} and {second}")
        if self.version == 1:
            doc = self._json(
                self._get("/api/v1/log/proof", {"firstSize": first, "lastSize": second})
            )
            try:
                hashes = [bytes.fromhex(rekor_json.text(h)) for h in doc["hashes"]]
                return hashes, bytes.fromhex(rekor_json.text(doc["rootHash"]))
            except (KeyError, TypeError, ValueError):
                raise LogQueryError("malformed consistency proof") from None
        plan = merkle.consistency_plan(first, second)
        return merkle.resolve_plan(plan, lambda nodes: self._read_nodes(nodes, second)), None

    def root_at(self, size: int) -> bytes | None:
        """The root of the tree's first ``size`` leaves, where the log lets a client compute
        it (Rekor v2: from the tiles); ``None`` for Rekor v1."""
        if self.version == 1:
            return None
        if size == 0:
            return merkle.EMPTY_ROOT
        nodes = merkle.range_nodes(0, size)
        hashes = self._read_nodes(nodes, size)
        return merkle.fold_range([hashes[n] for n in nodes])

    def verify_consistency(
        self, old_size: int, old_root: bytes, new_size: int, new_root: bytes
    ) -> None:
        """Prove the tree of ``new_size`` extends the one of ``old_size`` (raises
        :class:`LogEntryError` naming both sizes when it does not)."""
        if old_size == new_size:
            if old_root != new_root:
                raise LogEntryError(
                    f"the log is not consistent with its checkpoint at size {old_size}: two "
                    "different roots for one size, so the log forked or rewrote history"
                )
            return
        proof, _ = self.consistency_proof(old_size, new_size)
        try:
            merkle.verify_consistency(old_size, new_size, proof, old_root, new_root)
        except merkle.ProofError as e:
            raise LogEntryError(
                f"the log at size {new_size} is not consistent with its checkpoint at size "
                f"{old_size} ({e.message}): the log forked or rewrote history"
            ) from None

    # -- tiles (Rekor v2) --------------------------------------------------------------

    def _tile_read(self, path: str) -> bytes:
        """A C2SP read-path object; rekor-tiles serves it at the log's URL, sceau under
        ``/api/v2`` — the first that answers is remembered."""
        prefixes = [self._tiles_prefix] if self._tiles_prefix is not None else ["", "/api/v2"]
        last: LogQueryError | None = None
        for prefix in prefixes:
            try:
                data: bytes = self._get(f"{prefix}/{path}").content
            except LogQueryError as e:
                last = e
                continue
            self._tiles_prefix = prefix
            return data
        assert last is not None
        raise last

    def _read_nodes(self, nodes: Iterable[merkle.Node], size: int) -> dict[merkle.Node, bytes]:
        from sceau.merkle import tiles

        out: dict[merkle.Node, bytes] = {}
        cache: dict[tuple[int, int], list[bytes]] = {}
        for level, index in nodes:
            tile_level, tile_index, first, count = tiles.node_location(level, index)
            key = (tile_level, tile_index)
            if key not in cache:
                width = tiles.tile_width_at(tile_level, tile_index, size)
                if width == 0:
                    raise LogQueryError(f"tile {key} does not exist at tree size {size}")
                path = tiles.tile_path(tile_level, tile_index, width)
                try:
                    hashes = tiles.split_tile(self._tile_read(path))
                except ValueError as e:
                    raise LogQueryError(f"malformed tile {path}: {e}") from None
                if len(hashes) != width:
                    raise LogQueryError(f"tile {path} has {len(hashes)} hashes, not {width}")
                cache[key] = hashes
            out[(level, index)] = tiles.fold_complete(cache[key][first : first + count])
        return out


def _message(resp: Any) -> str:
    try:
        doc = resp.json()
        if isinstance(doc, dict) and isinstance(doc.get("message"), str):
            return str(doc["message"])[:300]
    except ValueError:
        pass
    return str(resp.text[:200] or resp.reason_phrase)
