"""RFC 3161 responder: TimeStampReq (DER or sigstore's JSON form) in, TimeStampResp out.

Every ASN.1 structure is parsed and built with asn1crypto; nothing is hand-encoded.
The token has the shape of the real Sigstore TSA's (docs/protocols.md §1.5) because each
client reads it differently:

- rfc3161-client (sigstore-python) parses it with a strict DER reader, so every SET OF
  (the CMS ``certificates``, the signed attributes) must be in DER-sorted order — a reply
  with the chain in the wrong order is rejected with "InvalidSetOrdering" and silently
  dropped by the verifier (§8) — then hands it to OpenSSL (purpose TIMESTAMP_SIGN);
- sigstore-js finds the TSA certificate by the SignerInfo ``issuerAndSerialNumber``,
  checks ``messageDigest`` = H(TSTInfo DER) with the SignerInfo digest algorithm and an
  ECDSA signature over the DER SET OF signed attributes, reading fields by position
  (so signedAttrs must be present and SignerInfo must be v1).

Requests are refused with :class:`~sceau.errors.InputError` (HTTP 400 with a JSON error,
as sigstore's timestamp-authority does) rather than a ``rejection`` TimeStampResp: both
clients treat any non-2xx answer as a failure, and a 400 carries a readable reason.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sceau.errors import InputError
from sceau.keys import Algorithm, Signer
from sceau.services.tsa.certs import chain_pem, check_tsa_leaf

SIGSTORE_POLICY_OID = "1.3.6.1.4.1.57264.2"

# name -> (asn1crypto algorithm name, digest length). The only imprints we time-stamp.
HASHES: dict[str, int] = {"sha256": 32, "sha384": 48, "sha512": 64}
WEAK_HASHES = frozenset({"md2", "md5", "sha1"})
MAX_NONCE_BITS = 256
_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
_JSON_KEYS = frozenset({"artifactHash", "hashAlgorithm", "certificates", "nonce", "tsaPolicyOID"})


@dataclass(frozen=True)
class TimestampRequest:
    """A validated request, whatever its wire form."""

    hash_algorithm: str  # "sha256" | "sha384" | "sha512"
    digest: bytes
    nonce: int | None = None
    policy: str | None = None
    cert_req: bool = False
    # DER MessageImprint to echo (RFC 3161 §2.4.2: same value as in the request).
    imprint: bytes = b""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def parse_der_request(data: bytes) -> TimestampRequest:
    """Parse and check a DER ``TimeStampReq`` (RFC 3161 §2.4.1)."""
    if not data:
        raise InputError("empty TimeStampReq")
    try:
        req = tsp.TimeStampReq.load(data, strict=True)
        req.native  # noqa: B018 — asn1crypto parses lazily; force every field now
        version = req["version"].native
        imprint = req["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        digest = imprint["hashed_message"].native
        policy = req["req_policy"].dotted if req["req_policy"].native is not None else None
        nonce = req["nonce"].native
        cert_req = bool(req["cert_req"].native)
        has_extensions = len(req["extensions"]) > 0 if req["extensions"].native else False
    except Exception as e:
        # asn1crypto reports garbage with assorted exception types (ValueError, TypeError,
        # even AttributeError on some tags, found by fuzzing): all mean "malformed".
        raise InputError(f"malformed TimeStampReq: {e}") from e
    if version != "v1":
        raise InputError(f"unsupported TimeStampReq version {version!r}: expected v1")
    if has_extensions:
        raise InputError("TimeStampReq extensions are not supported")
    request = _checked(_hash_name(algorithm), digest, nonce, policy, cert_req)
    return replace(request, imprint=imprint.dump())


def parse_json_request(obj: Mapping[str, Any]) -> TimestampRequest:
    """Parse sigstore's JSON request (``timestamp-authority: pkg/api``, sigstore-js).

    ``{"artifactHash": b64 digest, "hashAlgorithm": "sha256"|"sha384"|"sha512",
    "certificates": bool, "nonce": int, "tsaPolicyOID": "1.2.3"}``; the first two are
    required (sigstore-js sends only those). Unknown keys are refused.
    """
    if not isinstance(obj, Mapping):
        raise InputError("timestamp request must be a JSON object")
    unknown = sorted(set(obj) - _JSON_KEYS)
    if unknown:
        raise InputError(f"unknown field(s) in timestamp request: {', '.join(unknown)}")
    artifact_hash = obj.get("artifactHash")
    if not isinstance(artifact_hash, str) or not artifact_hash:
        raise InputError("artifactHash is required and must be a base64 string")
    try:
        digest = base64.b64decode(artifact_hash, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InputError(f"artifactHash is not valid base64: {e}") from e
    algorithm = obj.get("hashAlgorithm")
    if not isinstance(algorithm, str):
        raise InputError("hashAlgorithm is required: one of sha256, sha384, sha512")
    certificates = obj.get("certificates", False)
    if not isinstance(certificates, bool):
        raise InputError("certificates must be a boolean")
    nonce = obj.get("nonce")
    if nonce is not None and (isinstance(nonce, bool) or not isinstance(nonce, int)):
        raise InputError("nonce must be an integer")
    policy = obj.get("tsaPolicyOID")
    if policy is not None and (not isinstance(policy, str) or not _OID.match(policy)):
        raise InputError("tsaPolicyOID must be a dotted object identifier such as 1.2.3")
    return _checked(_hash_name(algorithm.lower()), digest, nonce, policy, certificates)


def _hash_name(name: str) -> str:
    if name in HASHES:
        return name
    if name in WEAK_HASHES:
        raise InputError(f"weak hash algorithm {name}: must be SHA-256, SHA-384 or SHA-512")
    raise InputError(f"unsupported hash algorithm {name}: must be SHA-256, SHA-384 or SHA-512")


def _checked(
    algorithm: str, digest: bytes, nonce: int | None, policy: str | None, cert_req: bool
) -> TimestampRequest:
    if len(digest) != HASHES[algorithm]:
        raise InputError(
            f"digest length inconsistent with {algorithm}: "
            f"expected {HASHES[algorithm]} bytes, got {len(digest)}"
        )
    if nonce is not None and not 0 <= nonce < 1 << MAX_NONCE_BITS:
        raise InputError(f"nonce must be a non-negative integer of at most {MAX_NONCE_BITS} bits")
    imprint = tsp.MessageImprint(
        {"hash_algorithm": _digest_algorithm(algorithm), "hashed_message": digest}
    )
    return TimestampRequest(algorithm, digest, nonce, policy, cert_req, imprint.dump())


def _digest_algorithm(name: str) -> algos.DigestAlgorithm:
    # RFC 5754 §2: SHA-2 AlgorithmIdentifiers SHOULD be generated with absent parameters.
    return algos.DigestAlgorithm({"algorithm": name, "parameters": None})


def _cms_time(when: dt.datetime) -> cms.Time:
    # RFC 5652 §11.3: UTCTime for 1950-2049, GeneralizedTime otherwise.
    return cms.Time(name="utc_time" if when.year < 2050 else "generalized_time", value=when)


def _der_sorted(items: Sequence[bytes]) -> list[bytes]:
    """X.690 §11.6: SET OF elements in ascending order of their encodings."""
    # Compare with shorter encodings padded with zero octets, as the rule says.
    width = max((len(i) for i in items), default=0)
    return sorted(items, key=lambda i: i.ljust(width, b"\0"))


class TimestampAuthority:
    """Issues RFC 3161 timestamp tokens signed by ``signer`` (whose cert is ``chain[0]``).

    ``chain`` is leaf first (the order of a trusted root's ``certChain``). The signer
    certificate is embedded only when the request asks (``certReq`` / ``certificates``);
    ``include_chain`` adds the rest of the chain too, as timestamp-authority's
    ``--include-chain-in-response`` does. ``clock`` returns an aware datetime.
    """

    def __init__(
        self,
        signer: Signer,
        chain: list[x509.Certificate],
        policy_oid: str = SIGSTORE_POLICY_OID,
        accuracy_seconds: int = 1,
        clock: Callable[[], dt.datetime] = _utcnow,
        *,
        accepted_policies: Sequence[str] | None = None,
        include_chain: bool = False,
    ) -> None:
        if not chain:
            raise InputError("the TSA certificate chain is empty")
        check_tsa_leaf(chain[0], signer)
        if accuracy_seconds < 1:
            raise InputError("accuracy_seconds must be at least 1")
        for oid in (policy_oid, *(accepted_policies or ())):
            if not _OID.match(oid):
                raise InputError(f"invalid policy OID {oid!r}")
        self.signer = signer
        self.chain = list(chain)
        self.policy_oid = policy_oid
        self.accepted_policies = frozenset(accepted_policies or (policy_oid,)) | {policy_oid}
        self.accuracy_seconds = accuracy_seconds
        self.clock = clock
        self.include_chain = include_chain
        self._digest = "sha384" if signer.algorithm is Algorithm.ECDSA_P384 else "sha256"

        der = [c.public_bytes(serialization.Encoding.DER) for c in self.chain]
        leaf = asn1_x509.Certificate.load(der[0])
        # Precomputed DER pieces, reloaded per token so no asn1crypto object is shared.
        self._sid = cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value={"issuer": leaf.issuer, "serial_number": leaf.serial_number},
        ).dump()
        self._tsa_name = asn1_x509.GeneralName(name="directory_name", value=leaf.subject).dump()
        self._signing_cert = cms.CMSAttribute(
            {
                "type": "signing_certificate_v2",
                "values": [
                    {
                        "certs": [
                            {
                                "cert_hash": hashlib.sha256(der[0]).digest(),
                                "issuer_serial": {
                                    "issuer": [
                                        asn1_x509.GeneralName(
                                            name="directory_name", value=leaf.issuer
                                        )
                                    ],
                                    "serial_number": leaf.serial_number,
                                },
                            }
                        ]
                    }
                ],
            }
        ).dump()
        self._signer_certs = _der_sorted(der[:1])
        self._chain_certs = _der_sorted(der)
        self._chain_pem = chain_pem(self.chain)

    @property
    def chain_pem(self) -> bytes:
        """The PEM chain served at ``/api/v1/timestamp/certchain``, leaf first."""
        return self._chain_pem

    def respond(self, request_der: bytes) -> bytes:
        """Answer a DER ``TimeStampReq`` with a DER ``TimeStampResp`` (status granted)."""
        return self.issue(parse_der_request(request_der))

    def respond_json(self, obj: Mapping[str, Any]) -> bytes:
        """Answer sigstore's JSON request form with a DER ``TimeStampResp``."""
        return self.issue(parse_json_request(obj))

    def issue(self, request: TimestampRequest) -> bytes:
        """Sign a token for a request from a parser (or built by hand: then checked here)."""
        if not request.imprint:
            request = _checked(
                _hash_name(request.hash_algorithm),
                request.digest,
                request.nonce,
                request.policy,
                request.cert_req,
            )
        policy = request.policy or self.policy_oid
        if policy not in self.accepted_policies:
            raise InputError(
                f"unaccepted policy {policy}: accepted {', '.join(sorted(self.accepted_policies))}"
            )
        gen_time = self.clock().astimezone(dt.UTC).replace(microsecond=0)
        tst_info = self._tst_info(request, policy, gen_time).dump()
        signed_attrs = cms.CMSAttributes(
            [
                {"type": "content_type", "values": ["tst_info"]},
                {"type": "signing_time", "values": [_cms_time(gen_time)]},
                {
                    "type": "message_digest",
                    "values": [hashlib.new(self._digest, tst_info).digest()],
                },
                cms.CMSAttribute.load(self._signing_cert),
            ]
        )
        # The signature covers the attributes as a DER SET OF (tag 0x31, sorted by asn1crypto).
        to_sign = signed_attrs.dump()
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier.load(self._sid),
                "digest_algorithm": _digest_algorithm(self._digest),
                "signed_attrs": signed_attrs,
                "signature_algorithm": {"algorithm": f"{self._digest}_ecdsa"},
                "signature": self.signer.sign(to_sign),
            }
        )
        signed_data: dict[str, Any] = {
            "version": "v3",
            "digest_algorithms": [_digest_algorithm(self._digest)],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": cms.ParsableOctetString(tst_info),
            },
            "signer_infos": [signer_info],
        }
        if request.cert_req:
            certs = self._chain_certs if self.include_chain else self._signer_certs
            # asn1crypto sorts a SET OF when it encodes it; the input is sorted already so
            # the order does not depend on that.
            signed_data["certificates"] = [cms.CertificateChoices.load(c) for c in certs]
        response = tsp.TimeStampResp(
            {
                "status": {"status": "granted"},
                "time_stamp_token": {
                    "content_type": "signed_data",
                    "content": cms.SignedData(signed_data),
                },
            }
        )
        der: bytes = response.dump()
        return der

    def _tst_info(
        self, request: TimestampRequest, policy: str, gen_time: dt.datetime
    ) -> tsp.TSTInfo:
        fields: dict[str, Any] = {
            "version": "v1",
            "policy": policy,
            "message_imprint": tsp.MessageImprint.load(request.imprint),
            # Random, positive, at most 20 octets (RFC 3161 §2.4.2).
            "serial_number": secrets.randbits(159) | 1,
            "gen_time": core.GeneralizedTime(gen_time),
            "accuracy": {"seconds": self.accuracy_seconds},
            "ordering": False,
            "tsa": asn1_x509.GeneralName.load(self._tsa_name),
        }
        if request.nonce is not None:
            fields["nonce"] = request.nonce
        return tsp.TSTInfo(fields)
