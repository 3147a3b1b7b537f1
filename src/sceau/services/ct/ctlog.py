"""An RFC 6962 Certificate Transparency log on top of the sceau log engine.

Submission (``add-chain``/``add-pre-chain``): parse and check the chain up to an accepted
root, build the ``MerkleTreeLeaf`` with a fresh timestamp, store the chain
(:mod:`.extra`), append the leaf and wait until the engine made it durable, then sign the
SCT over the same bytes (the §3.2 signature input *is* the leaf encoding). So every SCT
this log hands out is already incorporated — the MMD is one batch interval.

Dedup: the same certificate (same ``signed_entry``) gets the same SCT: a search key per
signed entry finds the earlier leaf and its timestamp, concurrent twins share one
submission, and ECDSA signatures are deterministic (RFC 6979) when the key allows it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from sceau.errors import InputError, InternalError, NotFound
from sceau.log import Log
from sceau.merkle import leaf_hash
from sceau.services.ct import der
from sceau.services.ct.extra import ExtraStore
from sceau.services.ct.rfc6962 import (
    SCT,
    CodecError,
    DigitallySigned,
    EntryType,
    key_hash,
    merkle_tree_leaf,
    parse_merkle_tree_leaf,
    precert_extra_data,
    signed_entry,
    sth_signature_input,
    x509_extra_data,
)
from sceau.telemetry.metrics import LOG_ENTRIES

EMPTY_ROOT = hashlib.sha256(b"").digest()
MAX_CHAIN = 10
MAX_GET_ENTRIES = 256
_DER = serialization.Encoding.DER


@dataclass(frozen=True)
class SignedTreeHead:
    tree_size: int
    timestamp_ms: int
    root_hash: bytes
    signature: DigitallySigned

    def to_json(self) -> dict[str, object]:
        return {
            "tree_size": self.tree_size,
            "timestamp": self.timestamp_ms,
            "sha256_root_hash": base64.b64encode(self.root_hash).decode(),
            "tree_head_signature": base64.b64encode(self.signature.encode()).decode(),
        }


@dataclass(frozen=True)
class Entry:
    leaf_input: bytes
    extra_data: bytes


class _ECSigner:
    """Signs with the CT key: ECDSA P-256 over SHA-256, deterministic when possible."""

    def __init__(self, signer: object) -> None:
        public = signer.public_key()  # type: ignore[attr-defined]
        if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(
            public.curve, ec.SECP256R1
        ):
            raise InternalError("the CT log key must be ECDSA P-256 (clients verify SHA-256 SCTs)")
        self._signer = signer
        self.public_key = public
        self.spki = public.public_bytes(_DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.log_id = key_hash(self.spki)
        key = getattr(signer, "private_key", None)
        self._key = key if isinstance(key, ec.EllipticCurvePrivateKey) else None
        self._deterministic = False
        if self._key is not None:
            try:
                self._key.sign(b"probe", ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
                self._deterministic = True
            except (TypeError, UnsupportedAlgorithm):
                pass

    def sign(self, message: bytes) -> DigitallySigned:
        if self._deterministic and self._key is not None:
            sig = self._key.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        else:
            sig = self._signer.sign(message)  # type: ignore[attr-defined]
        return DigitallySigned(sig)


class CTLog:
    """The CT log's behaviour, independent of HTTP (``api.routes`` wraps it)."""

    def __init__(
        self,
        log: Log,
        signer: object,
        roots: Sequence[x509.Certificate],
        extra: ExtraStore,
    ) -> None:
        if not roots:
            raise InternalError("a CT log needs at least one accepted root")
        self.log = log
        self._key = _ECSigner(signer)
        self.roots = list(roots)
        self._roots_der = {r.public_bytes(_DER): r for r in self.roots}
        self._extra = extra
        self._inflight: dict[str, asyncio.Future[SCT]] = {}
        self._verified_suffixes: set[bytes] = set()  # sha256 of chain[1:] already checked
        self._sth: SignedTreeHead | None = None

    @property
    def log_id(self) -> bytes:
        return self._key.log_id

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._key.public_key

    # -- submission -------------------------------------------------------------------

    async def add_chain(self, chain: Sequence[bytes]) -> SCT:
        return await self._submit(chain, precert=False)

    async def add_pre_chain(self, chain: Sequence[bytes]) -> SCT:
        return await self._submit(chain, precert=True)

    async def _submit(self, chain_der: Sequence[bytes], *, precert: bool) -> SCT:
        certs, full_chain = self._check_chain(chain_der, precert=precert)
        if precert:
            entry_type = EntryType.PRECERT
            issuer = certs[1]
            if _is_precert_signer(issuer):
                raise InputError("precertificate signing certificates are not supported")
            try:
                tbs = der.precert_tbs(chain_der[0])
            except CodecError as e:
                raise InputError(f"cannot read the precertificate: {e.message}") from e
            issuer_spki = issuer.public_key().public_bytes(
                _DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            entry = signed_entry(
                entry_type, issuer_key_hash=key_hash(issuer_spki), tbs_certificate=tbs
            )
            extra = precert_extra_data(chain_der[0], full_chain[1:])
        else:
            entry_type = EntryType.X509
            entry = signed_entry(entry_type, cert_der=chain_der[0])
            extra = x509_extra_data(full_chain[1:])
        dedup = "ct:" + hashlib.sha256(bytes([entry_type]) + entry).hexdigest()

        running = self._inflight.get(dedup)
        if running is not None:
            return await asyncio.shield(running)
        fut: asyncio.Future[SCT] = asyncio.get_running_loop().create_future()
        self._inflight[dedup] = fut
        try:
            serial = f"serial:{certs[0].serial_number:x}"  # as Rekor files it (explorer)
            sct = await self._log_entry(entry_type, entry, extra, dedup, serial)
            fut.set_result(sct)
            return sct
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved: waiters (if any) re-raise it themselves
            raise
        finally:
            del self._inflight[dedup]

    async def _log_entry(
        self, entry_type: EntryType, entry: bytes, extra: bytes, dedup: str, serial: str
    ) -> SCT:
        for index in await self.log.lookup(dedup, limit=1):
            leaf = parse_merkle_tree_leaf(await self.log.get_entry(index))
            if leaf.entry_type is entry_type and leaf.signed_entry == entry:
                return self._sct(leaf.timestamp_ms, entry_type, entry, leaf.extensions)
        timestamp = int(time.time() * 1000)
        leaf_input = merkle_tree_leaf(timestamp, entry_type, entry)
        await self._extra.put(leaf_hash(leaf_input), extra)  # durable before the append
        r = await self.log.append(leaf_input, keys=[dedup, serial])
        if not r.duplicate:
            LOG_ENTRIES.labels("ct", "precert" if entry_type is EntryType.PRECERT else "x509").inc()
        return self._sct(timestamp, entry_type, entry, b"")

    def _sct(self, timestamp: int, entry_type: EntryType, entry: bytes, ext: bytes) -> SCT:
        signature = self._key.sign(merkle_tree_leaf(timestamp, entry_type, entry, ext))
        return SCT(log_id=self.log_id, timestamp_ms=timestamp, signature=signature, extensions=ext)

    def _check_chain(
        self, chain_der: Sequence[bytes], *, precert: bool
    ) -> tuple[list[x509.Certificate], list[bytes]]:
        """Parse, check poison, verify each link and end at an accepted root.

        Returns the parsed chain and the DER chain with the root appended if the caller
        left it out (RFC 6962 §4.1: the log's extra_data ends at an accepted root).
        """
        if not chain_der:
            raise InputError("chain is empty")
        if len(chain_der) > MAX_CHAIN:
            raise InputError(f"chain has more than {MAX_CHAIN} certificates")
        certs = []
        for i, data in enumerate(chain_der):
            try:
                cert = x509.load_der_x509_certificate(data)
                cert.extensions  # noqa: B018 — parsed lazily; a malformed one fails here
            except ValueError as e:
                raise InputError(f"chain[{i}] is not a DER certificate: {e}") from e
            certs.append(cert)
        poisoned = _has_poison(certs[0])
        if precert and not poisoned:
            raise InputError("add-pre-chain needs a precertificate (critical CT poison extension)")
        if not precert and poisoned:
            raise InputError("add-chain got a precertificate; use add-pre-chain")
        if chain_der[0] in self._roots_der:
            raise InputError(
                "the chain holds only an accepted root: submit a certificate it issued"
            )
        full = list(chain_der)
        last = certs[-1]
        if chain_der[-1] not in self._roots_der:
            root = next((r for r in self.roots if _issued_by(last, r)), None)
            if root is None:
                raise InputError("chain does not end at a root this log accepts (see get-roots)")
            full.append(root.public_bytes(_DER))
            certs.append(root)
        if precert and len(certs) < 2:
            raise InputError("a precertificate needs its issuer in the chain")
        suffix = hashlib.sha256(b"".join(full[1:])).digest()
        links = range(len(certs) - 1) if suffix not in self._verified_suffixes else range(1)
        for i in links:
            if not _is_ca(certs[i + 1]) or not _issued_by(certs[i], certs[i + 1]):
                raise InputError(f"chain[{i}] is not signed by chain[{i + 1}]")
        if len(self._verified_suffixes) < 1024:
            self._verified_suffixes.add(suffix)
        return certs, full

    # -- reading ----------------------------------------------------------------------

    async def get_sth(self) -> SignedTreeHead:
        """The STH of the engine's latest durable tree head, signed once per head."""
        head = await self.log.latest()
        sth = self._sth
        if sth is not None and (sth.tree_size, sth.root_hash) == (head.size, head.root_hash):
            if head.size or not head.timestamp_ms:
                return sth
        root, timestamp = head.root_hash, head.timestamp_ms
        if head.size == 0:  # RFC 6962 §2.1: the empty tree's root is SHA-256 of nothing
            root = EMPTY_ROOT
            timestamp = timestamp or int(time.time() * 1000)
        msg = sth_signature_input(timestamp, head.size, root)
        sth = self._sth = SignedTreeHead(head.size, timestamp, root, self._key.sign(msg))
        return sth

    async def consistency(self, first: int, second: int) -> list[bytes]:
        size = (await self.log.latest()).size
        if not 0 <= first <= second or not 0 < second <= size:
            raise InputError(f"need 0 <= first <= second <= tree size {size}, second > 0")
        if first in (0, second):
            return []
        return await self.log.consistency_proof(first, second)

    async def proof_by_hash(self, lh: bytes, tree_size: int) -> tuple[int, list[bytes]]:
        size = (await self.log.latest()).size
        if not 0 < tree_size <= size:
            raise InputError(f"tree_size must be between 1 and {size}")
        index = await self.log.find_leaf(lh)
        if index is None or index >= tree_size:
            raise NotFound("no leaf with this hash in the tree of that size")
        return index, await self.log.inclusion_proof(index, tree_size)

    async def extra_data(self, lh: bytes) -> bytes | None:
        """The stored chain (and precertificate) of the leaf whose hash is ``lh``."""
        return (await self._extra.get_many([lh])).get(lh)

    async def entries(self, start: int, end: int) -> list[Entry]:
        size = (await self.log.latest()).size
        if not 0 <= start <= end:
            raise InputError("need 0 <= start <= end")
        if start >= size:
            raise InputError(f"start {start} is beyond the tree size {size}")
        end = min(end, size - 1, start + MAX_GET_ENTRIES - 1)
        leaves = await self.log.get_entries(start, end + 1)
        hashes = [leaf_hash(leaf) for leaf in leaves]
        extra = await self._extra.get_many(hashes)
        missing = [h for h in hashes if h not in extra]
        if missing:
            raise InternalError(f"CT log lost the chain of {len(missing)} entries")
        return [Entry(leaf, extra[h]) for leaf, h in zip(leaves, hashes, strict=True)]

    def roots_der(self) -> list[bytes]:
        return list(self._roots_der)

    async def close(self) -> None:
        """Close the chain store (the engine is closed by its owner)."""
        await self._extra.close()


def _has_poison(cert: x509.Certificate) -> bool:
    try:
        ext = cert.extensions.get_extension_for_class(x509.PrecertPoison)
    except x509.ExtensionNotFound:
        return False
    return ext.critical


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _is_precert_signer(cert: x509.Certificate) -> bool:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.CERTIFICATE_TRANSPARENCY in eku
