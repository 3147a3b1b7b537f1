"""Key-based ("managed key") signing, for signers without an OIDC identity.

No CA: the bundle's verification material is ``publicKey {hint}`` and the log entry
carries the public key itself (Rekor v1 ``publicKey.content`` = PEM, Rekor v2
``verifier.publicKey.rawBytes`` = DER SPKI). Everything after the signature — timestamps,
log, bundle, self-check — is the keyless path's (:func:`sceau.client.sign.complete_bundle`).
Verifiers check such bundles with the public key (``sceau verify --key KEY.pub``).

Keys: a PEM private key file (PKCS#8 or SEC1, optionally encrypted: the passphrase comes
from ``SCEAU_KEY_PASSPHRASE``), or a key in a PKCS#11 token named by an RFC 7512 URI
(``pkcs11:token=T;object=LABEL?pin-value=1234&module-path=/usr/lib/softhsm/libsofthsm2.so``).
ECDSA P-256 only: it is the one key type every Sigstore verifier and both Rekor APIs agree
on for a SHA-256 message digest.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sceau.client.bundle import Bundle
from sceau.client.hashing import Digest
from sceau.client.sign import (
    IN_TOTO_PAYLOAD_TYPE,
    Envelope,
    Material,
    SigningKey,
    artifact_digest,
    complete_bundle,
    pae,
    require_timestamps,
    self_check,
    statement_bytes,
)
from sceau.client.signing_config import SigningConfig
from sceau.client.trust import TrustedRoot
from sceau.errors import InputError

PASSPHRASE_ENV = "SCEAU_KEY_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
PKCS11_MODULE_ENV = "SCEAU_PKCS11_MODULE"


class SigningKeyError(InputError):
    """The signing key cannot be loaded or used."""


def _require_p256(public_key: Any, where: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise SigningKeyError(f"{where}: only ECDSA P-256 keys can sign Sigstore bundles")


def key_hint(public_key: Any) -> str:
    """The bundle's ``publicKey.hint``: base64 SHA-256 of the SPKI (cosign's choice)."""
    from sceau.keys import spki_der

    return base64.b64encode(hashlib.sha256(spki_der(public_key)).digest()).decode()


class FileKey:
    """An ECDSA P-256 private key from a PEM file."""

    def __init__(self, private_key: Any, where: str = "key") -> None:
        _require_p256(private_key.public_key(), where)
        self.private_key = private_key

    @classmethod
    def load(cls, path: str | os.PathLike[str], passphrase: bytes | None = None) -> FileKey:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise SigningKeyError(f"cannot read key {path}: {e.strerror}") from None
        from sceau.client.cosign.keys import decrypt_private_key, is_cosign_key, password

        if is_cosign_key(data):  # cosign.key: its own encryption and password variables
            secret = passphrase if passphrase is not None else password()
            return cls(decrypt_private_key(data, secret, str(path)), str(path))
        if passphrase is None and os.environ.get(PASSPHRASE_ENV):
            passphrase = os.environ[PASSPHRASE_ENV].encode()
        try:
            key = load_pem_private_key(data, password=passphrase)
        except TypeError:
            raise SigningKeyError(
                f"key {path} is encrypted: set {PASSPHRASE_ENV}"
                if passphrase is None
                else f"key {path} is not encrypted but a passphrase was given"
            ) from None
        except ValueError:
            raise SigningKeyError(
                f"key {path} is not a PEM private key (or the passphrase is wrong)"
            ) from None
        return cls(key, str(path))

    def public_key(self) -> Any:
        return self.private_key.public_key()

    def sign_digest(self, digest: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

        signature: bytes = self.private_key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        return signature

    def sign_message(self, message: bytes) -> bytes:
        return self.sign_digest(hashlib.sha256(message).digest())

    def __repr__(self) -> str:
        return "FileKey(<private>)"


# -- PKCS#11 ------------------------------------------------------------------------------


def parse_pkcs11_uri(uri: str) -> dict[str, str | bytes]:
    """RFC 7512, as :func:`sceau.keys.pkcs11.parse_uri` reads it (one parser for the
    server's keys and the client's), its errors as :class:`SigningKeyError`."""
    from sceau.keys.pkcs11 import parse_uri

    try:
        return parse_uri(uri)
    except InputError as e:
        raise SigningKeyError(e.message) from None


class Pkcs11Key:
    """A P-256 private key inside a PKCS#11 token; it never leaves the token.

    The module comes from the URI's ``module-path`` or ``$SCEAU_PKCS11_MODULE``; the PIN from
    ``pin-value`` or the file named by ``pin-source``. The key is found by ``object`` (label)
    and/or ``id``; its public half is read from the matching public-key object.
    """

    def __init__(self, uri: str, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        attrs = parse_pkcs11_uri(uri)
        from sceau.keys.pkcs11 import safe_uri

        try:
            import pkcs11
            from pkcs11 import ObjectClass
            from pkcs11.util.ec import encode_ec_public_key
        except ImportError:
            raise SigningKeyError("PKCS#11 keys need the python-pkcs11 package") from None
        module = attrs.get("module-path") or env.get(PKCS11_MODULE_ENV)
        if not module:
            raise SigningKeyError(
                f"PKCS#11 URI has no module-path and {PKCS11_MODULE_ENV} is not set"
            )
        pin = attrs.get("pin-value")
        if pin is None and "pin-source" in attrs:
            source = str(attrs["pin-source"]).removeprefix("file:")
            try:
                pin = Path(source).read_text().strip()
            except OSError as e:
                raise SigningKeyError(
                    f"cannot read PKCS#11 pin-source {source}: {e.strerror}"
                ) from None
        query: dict[str, Any] = {}
        if "object" in attrs:
            query["label"] = attrs["object"]
        if "id" in attrs:
            query["id"] = attrs["id"]
        if not query:
            raise SigningKeyError("PKCS#11 URI must name the key with object= or id=")
        try:
            lib = pkcs11.lib(str(module))
            token = lib.get_token(token_label=attrs["token"]) if "token" in attrs else None
            if token is None:
                slots = lib.get_slots(token_present=True)
                if len(slots) != 1:
                    raise SigningKeyError(
                        "PKCS#11 URI must name the token= (several tokens present)"
                    )
                token = slots[0].get_token()
            self._session = token.open(user_pin=pin)
            self._key = self._session.get_key(object_class=ObjectClass.PRIVATE_KEY, **query)
            public = self._session.get_key(object_class=ObjectClass.PUBLIC_KEY, **query)
            der = encode_ec_public_key(public)  # type: ignore[arg-type]
        except SigningKeyError:
            raise
        except (pkcs11.PKCS11Error, RuntimeError, OSError) as e:
            raise SigningKeyError(
                f"PKCS#11 key {safe_uri(uri)}: {type(e).__name__} {e}".rstrip()
            ) from None
        from cryptography.hazmat.primitives.serialization import load_der_public_key

        self._public = load_der_public_key(der)
        _require_p256(self._public, "PKCS#11 key")

    def public_key(self) -> Any:
        return self._public

    def sign_digest(self, digest: bytes) -> bytes:
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
        from pkcs11 import Mechanism

        raw = self._key.sign(digest, mechanism=Mechanism.ECDSA)  # type: ignore[attr-defined]  # r ‖ s
        half = len(raw) // 2
        return encode_dss_signature(
            int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
        )

    def sign_message(self, message: bytes) -> bytes:
        return self.sign_digest(hashlib.sha256(message).digest())

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return "Pkcs11Key(<token>)"


def load_key(ref: str) -> SigningKey:
    """A ``pkcs11:`` URI or a PEM file path."""
    if ref.startswith("pkcs11:"):
        return Pkcs11Key(ref)
    return FileKey.load(ref)


# -- signing ------------------------------------------------------------------------------


def _material(key: SigningKey) -> Material:
    public = key.public_key()
    _require_p256(public, "key")
    return Material(public, None, key_hint(public))


def _policy(key: SigningKey) -> Any:
    from sceau.client.policy import PublicKey

    return PublicKey(key.public_key())


def sign_artifact_with_key(
    artifact: bytes | str | Path | Digest,
    key: SigningKey,
    signing_config: SigningConfig,
    trusted_root: TrustedRoot,
    *,
    rekor_version: int | None = None,
) -> Bundle:
    """Sign an artifact with a managed key; return the bundle (a dict)."""
    from sceau.client._sign_http import Http

    tlog, tsas = signing_config.select_tlog(rekor_version=rekor_version)
    require_timestamps(tlog, tsas)
    digest = artifact_digest(artifact)
    signature = key.sign_digest(digest.value)
    http = Http(urls=[tlog.url, *(t.url for t in tsas)])
    try:
        bundle = complete_bundle(
            http,
            tlog,
            tsas,
            trusted_root,
            _material(key),
            digest=digest.value,
            message_signature=signature,
        )
    finally:
        http.close()
    return self_check(bundle, trusted_root, digest=digest, policy=_policy(key))


def sign_dsse_with_key(
    statement: bytes | str | dict[str, Any],
    key: SigningKey,
    signing_config: SigningConfig,
    trusted_root: TrustedRoot,
    *,
    rekor_version: int | None = None,
    payload_type: str = IN_TOTO_PAYLOAD_TYPE,
) -> Bundle:
    from sceau.client._sign_http import Http

    tlog, tsas = signing_config.select_tlog(rekor_version=rekor_version)
    require_timestamps(tlog, tsas)
    payload = statement_bytes(statement)
    envelope = Envelope(payload, payload_type, key.sign_message(pae(payload_type, payload)))
    http = Http(urls=[tlog.url, *(t.url for t in tsas)])
    try:
        bundle = complete_bundle(http, tlog, tsas, trusted_root, _material(key), envelope=envelope)
    finally:
        http.close()
    return self_check(bundle, trusted_root, policy=_policy(key))
