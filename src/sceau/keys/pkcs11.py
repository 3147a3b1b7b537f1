"""Service keys in a PKCS#11 token: an HSM in production, SoftHSM2 on a laptop and in tests.

A key is named by an RFC 7512 URI, ``pkcs11:token=sceau;object=sceau-rekor-v1``, in the
``[keys]`` table of ``sceau.toml`` (docs/operations.md, "Keys"). The private key never
leaves the token: :class:`Pkcs11Signer` asks the token to sign, and implements the same
:class:`~sceau.keys.Signer` protocol as a key file, so the logs, the CA, the TSA and TUF
use it unchanged.

The PIN is a secret and ``sceau.toml`` is not: it comes from ``$SCEAU_PKCS11_PIN``, the file
named by ``$SCEAU_PKCS11_PIN_FILE`` or the URI's ``pin-source`` (both refused when others can
read them), never from the configuration. The module is the URI's ``module-path``,
``[pkcs11] module``, ``$SCEAU_PKCS11_MODULE`` or Debian's SoftHSM2, in that order.

A PKCS#11 session belongs to the process that opened it: after a fork the token is opened
again (``serve --workers``). Every call into the module holds one process-wide lock:
python-pkcs11 initialises the module without locking callbacks, which tells it the
application never calls from two threads at once (SoftHSM2 then fails with
CKR_GENERAL_ERROR under concurrent signing, ``bench/ca_issue.py --keys pkcs11``).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_public_key

from sceau.errors import InputError
from sceau.keys._core import Algorithm

MODULE_ENV = "SCEAU_PKCS11_MODULE"
PIN_ENV = "SCEAU_PKCS11_PIN"
PIN_FILE_ENV = "SCEAU_PKCS11_PIN_FILE"
DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
_ED25519_PARAMS = bytes.fromhex("06032b6570")  # DER OID 1.3.101.112 (id-Ed25519)
_CURVES = {Algorithm.ECDSA_P256: "secp256r1", Algorithm.ECDSA_P384: "secp384r1"}
_MODULE_LOCK = threading.RLock()  # see the module docstring


def parse_uri(uri: str) -> dict[str, str | bytes]:
    """RFC 7512: ``pkcs11:attr=v;attr=v?qattr=v&qattr=v``, values percent-decoded. ``id``
    stays bytes; everything else is text."""
    if not uri.startswith("pkcs11:"):
        raise InputError(f"not a PKCS#11 URI: {safe_uri(uri)!r}")
    path, _, query = uri[len("pkcs11:") :].partition("?")
    out: dict[str, str | bytes] = {}
    for part, sep in ((path, ";"), (query, "&")):
        for item in filter(None, part.split(sep)):
            name, eq, value = item.partition("=")
            if not eq or not name:
                raise InputError(f"PKCS#11 URI attribute {item!r} is not name=value")
            if name in out:
                raise InputError(f"PKCS#11 URI repeats {name!r}")
            raw = unquote_to_bytes(value)
            if name == "id":
                out[name] = raw
                continue
            try:
                out[name] = raw.decode()
            except UnicodeDecodeError:
                raise InputError(f"PKCS#11 URI attribute {name!r} is not UTF-8") from None
    return out


def relabel(uri: str, label: str) -> str:
    """The URI of another key in the same token: ``object=label``, no ``id``."""
    parse_uri(uri)
    path, sep, query = uri.partition("?")
    kept = [
        a for a in path[len("pkcs11:") :].split(";") if a and not a.startswith(("object=", "id="))
    ]
    return "pkcs11:" + ";".join([*kept, f"object={quote(label, safe='')}"]) + sep + query


def safe_uri(uri: str) -> str:
    """The URI without a ``pin-value``, for messages."""
    path, _, query = uri.partition("?")
    kept = [q for q in query.split("&") if q and not q.startswith("pin-value=")]
    return path + ("?" + "&".join(kept) if kept else "")


def _secret_file(path: str, what: str) -> str:
    try:
        mode = os.stat(path).st_mode
        with open(path, encoding="utf-8") as f:
            value = f.readline(4096).rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{what}: cannot read {path}: {getattr(e, 'strerror', e)}") from None
    if mode & 0o077:
        raise InputError(f"{what}: {path} is readable by others (mode {mode & 0o777:o}); chmod 600")
    if not value:
        raise InputError(f"{what}: {path} is empty")
    return value


def token_pin(attrs: dict[str, str | bytes], *, where: str = "PKCS#11") -> str:
    """The user PIN: ``pin-source`` file, else ``$SCEAU_PKCS11_PIN``, else the file in
    ``$SCEAU_PKCS11_PIN_FILE``; never ``pin-value`` (the URI is stored in sceau.toml).
    A missing PIN is an error now, not a login failure on the first signature."""
    if "pin-value" in attrs:
        raise InputError(
            f"a PKCS#11 URI in sceau.toml must not carry pin-value: set {PIN_ENV} or "
            f"{PIN_FILE_ENV}, or use pin-source=FILE"
        )
    if "pin-source" in attrs:
        return _secret_file(str(attrs["pin-source"]).removeprefix("file:"), "PKCS#11 pin-source")
    if os.environ.get(PIN_ENV):
        return os.environ[PIN_ENV]
    if os.environ.get(PIN_FILE_ENV):
        return _secret_file(os.environ[PIN_FILE_ENV], PIN_FILE_ENV)
    raise InputError(f"{where}: no PIN: set {PIN_ENV} or {PIN_FILE_ENV}, or use pin-source=FILE")


def module_path(attrs: dict[str, str | bytes], configured: str | None = None) -> str:
    module = attrs.get("module-path") or configured or os.environ.get(MODULE_ENV)
    return str(module or DEFAULT_MODULE)


class _Token:
    """One open session per process on the token a URI names."""

    def __init__(self, attrs: dict[str, str | bytes], module: str, pin: str, uri: str):
        self._attrs, self._module, self._pin, self._uri = attrs, module, pin, uri
        self._pid: int | None = None
        self._session: Any = None
        self.lock = _MODULE_LOCK

    def session(self, *, rw: bool = False) -> Any:
        if self._session is None or self._pid != os.getpid():
            self._session = self._open(rw)
            self._pid = os.getpid()
        return self._session

    def _open(self, rw: bool) -> Any:
        import pkcs11

        if not Path(self._module).exists():
            raise InputError(f"PKCS#11 module {self._module} does not exist ({self._uri})")
        try:
            lib = pkcs11.lib(self._module)
            if self._pid is not None:  # a forked child: the module must be initialised anew
                lib.reinitialize()
            label = self._attrs.get("token")
            if label is not None:
                token = lib.get_token(token_label=str(label))
            else:
                slots = lib.get_slots(token_present=True)
                if len(slots) != 1:
                    raise InputError(f"{self._uri}: name the token= (several tokens present)")
                token = slots[0].get_token()
            try:
                return token.open(user_pin=self._pin, rw=rw)
            except pkcs11.exceptions.UserAlreadyLoggedIn:
                # another key of this process opened the token: the login is the
                # application's, and a new session shares it
                return token.open(rw=rw)
        except pkcs11.exceptions.PinIncorrect:
            raise InputError(f"{self._uri}: the PIN is wrong") from None
        except pkcs11.exceptions.NoSuchToken:
            raise InputError(f"{self._uri}: no such token") from None
        except (pkcs11.PKCS11Error, RuntimeError, OSError) as e:
            raise InputError(f"{self._uri}: cannot open the token: {type(e).__name__}") from None


class Pkcs11Signer:
    """A log, CA, TSA or TUF key inside a PKCS#11 token (a :class:`~sceau.keys.Signer`)."""

    def __init__(self, uri: str, *, module: str | None = None, role: str = "key") -> None:
        attrs = parse_uri(uri)
        self.uri = safe_uri(uri)
        where = f"{role} ({self.uri})"
        self._query: dict[str, Any] = {}
        if "object" in attrs:
            self._query["label"] = attrs["object"]
        if "id" in attrs:
            self._query["id"] = attrs["id"]
        if not self._query:
            raise InputError(f"{where}: the PKCS#11 URI must name the key with object= or id=")
        self._token = _Token(
            attrs, module_path(attrs, module), token_pin(attrs, where=where), where
        )
        self._where = where
        self._public, self._algorithm = self._read_public_key()
        self._hash = {Algorithm.ECDSA_P256: hashlib.sha256, Algorithm.ECDSA_P384: hashlib.sha384}
        self._key_pid: int | None = None
        self._key: Any = None
        self._private_key()  # a key without its private half fails now, not at a request

    def _find(self, object_class: Any) -> Any:
        import pkcs11

        try:
            return self._token.session().get_key(object_class=object_class, **self._query)
        except pkcs11.exceptions.NoSuchKey:
            raise InputError(f"{self._where}: no such key in the token") from None
        except pkcs11.exceptions.MultipleObjectsReturned:
            raise InputError(f"{self._where}: several keys match; add id=") from None
        except pkcs11.PKCS11Error as e:
            raise InputError(f"{self._where}: {type(e).__name__}") from None

    def _read_public_key(self) -> tuple[Any, Algorithm]:
        from pkcs11 import Attribute, KeyType, ObjectClass
        from pkcs11.util.ec import encode_ec_public_key

        with self._token.lock:
            public = self._find(ObjectClass.PUBLIC_KEY)
            if public.key_type == KeyType.EC_EDWARDS:
                point = bytes(public[Attribute.EC_POINT])
                key: Any = ed25519.Ed25519PublicKey.from_public_bytes(point[-32:])
            elif public.key_type == KeyType.EC:
                key = load_der_public_key(encode_ec_public_key(public))
            else:
                raise InputError(f"{self._where}: only EC and Ed25519 keys are supported")
        try:
            return key, Algorithm.of(key)
        except InputError:
            raise InputError(f"{self._where}: unsupported curve") from None

    @property
    def algorithm(self) -> Algorithm:
        return self._algorithm

    def public_key(self) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey:
        key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey = self._public
        return key

    def _private_key(self) -> Any:
        """The token's private key object, looked up once per process."""
        from pkcs11 import ObjectClass

        with self._token.lock:
            if self._key is None or self._key_pid != os.getpid():
                self._key = self._find(ObjectClass.PRIVATE_KEY)
                self._key_pid = os.getpid()
            return self._key

    def sign(self, message: bytes) -> bytes:
        """Ed25519: the token signs ``message``; ECDSA: its SHA-256/384 digest, and the
        token's ``r ‖ s`` is returned DER-encoded like a key file's signature."""
        from pkcs11 import Mechanism

        with self._token.lock:
            key = self._private_key()
            if self._algorithm is Algorithm.ED25519:
                return bytes(key.sign(message, mechanism=Mechanism.EDDSA))
            digest = self._hash[self._algorithm](message).digest()
            raw = bytes(key.sign(digest, mechanism=Mechanism.ECDSA))
        half = len(raw) // 2
        return encode_dss_signature(
            int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
        )

    def __repr__(self) -> str:  # the URI has no PIN (safe_uri); the key is in the token
        return f"Pkcs11Signer({self._algorithm.value}, {self.uri})"


def generate_in_token(
    uri: str, algorithm: Algorithm | str, *, module: str | None = None, role: str = "key"
) -> Pkcs11Signer:
    """Make a key pair in the token (stored, private half sensitive and not extractable),
    labelled with the URI's ``object``; refuse if that label is already taken."""
    algorithm = Algorithm(algorithm)
    attrs = parse_uri(uri)
    label = attrs.get("object")
    if not isinstance(label, str):
        raise InputError(f"{role}: a key made in the token needs object=LABEL in {safe_uri(uri)}")
    where = f"{role} ({safe_uri(uri)})"
    token = _Token(attrs, module_path(attrs, module), token_pin(attrs, where=where), where)
    with token.lock:
        _generate(token.session(rw=True), algorithm, label, role)
    return Pkcs11Signer(uri, module=module, role=role)


def _generate(session: Any, algorithm: Algorithm, label: str, role: str) -> None:
    import pkcs11
    from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
    from pkcs11.util.ec import encode_named_curve_parameters

    try:
        if list(
            session.get_objects({Attribute.LABEL: label, Attribute.CLASS: ObjectClass.PRIVATE_KEY})
        ):
            raise InputError(f"{role}: the token already holds a key labelled {label!r}")
        private = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.SIGN: True}
        if algorithm is Algorithm.ED25519:
            session.generate_keypair(
                KeyType.EC_EDWARDS, 0, mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN, store=True,
                label=label, public_template={Attribute.EC_PARAMS: _ED25519_PARAMS},
                private_template=private,
            )  # fmt: skip
        else:
            params = session.create_domain_parameters(
                KeyType.EC,
                {Attribute.EC_PARAMS: encode_named_curve_parameters(_CURVES[algorithm])},
                local=True,
            )
            params.generate_keypair(store=True, label=label, private_template=private)
    except pkcs11.PKCS11Error as e:
        raise InputError(f"{role}: the token could not make the key: {type(e).__name__}") from None
    finally:
        session.close()
