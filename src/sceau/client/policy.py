"""Identity policies: what the signing certificate (or key) must say for a bundle to pass.

A policy is any object with ``verify(cert)`` that raises :class:`PolicyError`. Fulcio
certificates carry the OIDC issuer twice — raw in ``1.3.6.1.4.1.57264.1.1`` (what
sigstore-python reads) and DER UTF8String in ``…1.8`` (what sigstore-js prefers); both are
read here, and when both are present both must match. GitHub workflow claims likewise have
a legacy raw extension (1.2–1.6) and a newer DER one (1.9–1.21).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509 import (
    ObjectIdentifier,
    OtherName,
    RFC822Name,
    UniformResourceIdentifier,
)
from cryptography.x509.oid import ExtensionOID

from sceau.client._x509 import extension_value
from sceau.client.errors import PolicyError

_FULCIO = "1.3.6.1.4.1.57264.1."
OID_ISSUER = _FULCIO + "1"
OID_ISSUER_V2 = _FULCIO + "8"
OID_OTHERNAME_SAN = _FULCIO + "7"

# claim -> (legacy raw OID, DER OID, how the DER value is written from the legacy one)
_GITHUB: dict[str, tuple[str | None, str | None, str]] = {
    "trigger": (_FULCIO + "2", _FULCIO + "20", "{}"),
    "sha": (_FULCIO + "3", _FULCIO + "13", "{}"),
    "workflow_name": (_FULCIO + "4", None, "{}"),
    "repository": (_FULCIO + "5", _FULCIO + "12", "https://github.com/{}"),
    "ref": (_FULCIO + "6", _FULCIO + "14", "{}"),
}


class VerificationPolicy(Protocol):
    def verify(self, cert: Any) -> None: ...


_OIDS: dict[str, ObjectIdentifier] = {}


def _ext_value(cert: Any, oid: str) -> bytes | None:
    key = _OIDS.get(oid)
    if key is None:
        key = _OIDS[oid] = ObjectIdentifier(oid)
    value = extension_value(cert, key)
    return value.value if value is not None else None


def der_utf8(data: bytes) -> str:
    """Decode a DER UTF8String (tag 0x0C) — the encoding of Fulcio's newer extensions."""
    if len(data) < 2 or data[0] != 0x0C:
        raise PolicyError("certificate extension is not a DER UTF8String")
    n, pos = data[1], 2
    if n & 0x80:
        k = n & 0x7F
        n, pos = int.from_bytes(data[2 : 2 + k], "big"), 2 + k
    if pos + n != len(data):
        raise PolicyError("certificate extension has a bad DER length")
    try:
        return data[pos:].decode()
    except UnicodeDecodeError:
        raise PolicyError("certificate extension is not valid UTF-8") from None


def raw_text(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise PolicyError("certificate extension is not valid UTF-8") from None


def cert_issuer(cert: Any) -> str | None:
    """The OIDC issuer claimed by a Fulcio certificate (1.8 preferred, else 1.1)."""
    v2 = _ext_value(cert, OID_ISSUER_V2)
    if v2 is not None:
        return der_utf8(v2)
    v1 = _ext_value(cert, OID_ISSUER)
    return raw_text(v1) if v1 is not None else None


def _issuers(cert: Any) -> list[str]:
    out = []
    v1 = _ext_value(cert, OID_ISSUER)
    if v1 is not None:
        out.append(raw_text(v1))
    v2 = _ext_value(cert, OID_ISSUER_V2)
    if v2 is not None:
        out.append(der_utf8(v2))
    return out


def cert_identities(cert: Any) -> list[str]:
    """SAN identities: emails, URIs, and Fulcio's otherName (username) SANs."""

    san = extension_value(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if san is None:
        return []
    # GeneralName classes are final: a type test is get_values_for_type's isinstance.
    names = list(san)
    out: list[str] = [n.value for n in names if type(n) is RFC822Name]
    out += [n.value for n in names if type(n) is UniformResourceIdentifier]
    for on in names:
        if type(on) is OtherName and on.type_id.dotted_string == OID_OTHERNAME_SAN:
            out.append(der_utf8(on.value))
    return out


class SignedByCertificate:
    """For results that hold the signing ``certificate`` (None for a managed key): who
    signed, as a person reads it."""

    certificate: Any

    @property
    def identity(self) -> str | None:
        """The first SAN identity of the certificate."""
        if self.certificate is None:
            return None
        ids = cert_identities(self.certificate)
        return ids[0] if ids else None

    @property
    def issuer(self) -> str | None:
        """The OIDC issuer the certificate names."""
        return cert_issuer(self.certificate) if self.certificate is not None else None


class Identity:
    """Exact SAN identity and exact OIDC issuer (sigstore-python's ``Identity``)."""

    def __init__(self, identity: str, issuer: str) -> None:
        self.identity, self.issuer = identity, issuer

    def verify(self, cert: Any) -> None:
        Issuer(self.issuer).verify(cert)
        SAN(self.identity).verify(cert)


class IdentityRegexp:
    r"""SAN identity matching a regular expression, issuer exact or by regexp.

    Regexps match the way cosign's do (Go ``regexp.MatchString``): anywhere in the value
    unless anchored with ``^…$`` — so ``example\.com`` also accepts ``evil-example.com``;
    anchor what you mean.
    """

    def __init__(
        self, identity_regexp: str, issuer: str | None = None, issuer_regexp: str | None = None
    ) -> None:
        if (issuer is None) == (issuer_regexp is None):
            raise ValueError("give exactly one of issuer or issuer_regexp")
        self.san = SANRegexp(identity_regexp)
        self.issuer = Issuer(issuer) if issuer is not None else IssuerRegexp(issuer_regexp or "")

    def verify(self, cert: Any) -> None:
        self.issuer.verify(cert)
        self.san.verify(cert)


class SAN:
    def __init__(self, identity: str) -> None:
        self.identity = identity

    def verify(self, cert: Any) -> None:
        sans = cert_identities(cert)
        if self.identity not in sans:
            raise PolicyError(
                f"certificate identity does not match: expected {self.identity!r}, "
                f"got {', '.join(map(repr, sans)) or 'none'}"
            )


class SANRegexp:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        try:
            self._re = re.compile(pattern)
        except re.error as e:
            raise ValueError(f"bad identity regexp {pattern!r}: {e}") from None

    def verify(self, cert: Any) -> None:
        sans = cert_identities(cert)
        if not any(self._re.search(s) for s in sans):
            raise PolicyError(
                f"no certificate identity matches {self.pattern!r}: "
                f"got {', '.join(map(repr, sans)) or 'none'}"
            )


class Issuer:
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def verify(self, cert: Any) -> None:
        found = _issuers(cert)
        if not found:
            raise PolicyError("certificate has no OIDC issuer extension")
        bad = [f for f in found if f != self.issuer]
        if bad:
            raise PolicyError(
                f"certificate OIDC issuer does not match: expected {self.issuer!r}, got {bad[0]!r}"
            )


class IssuerRegexp:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        try:
            self._re = re.compile(pattern)
        except re.error as e:
            raise ValueError(f"bad issuer regexp {pattern!r}: {e}") from None

    def verify(self, cert: Any) -> None:
        found = _issuers(cert)
        if not found:
            raise PolicyError("certificate has no OIDC issuer extension")
        bad = [f for f in found if not self._re.search(f)]
        if bad:
            raise PolicyError(f"certificate OIDC issuer {bad[0]!r} does not match {self.pattern!r}")


class GitHubClaim:
    """A GitHub Actions claim: ``trigger``, ``sha``, ``workflow_name``, ``repository``, ``ref``.

    Every extension the certificate carries for the claim (legacy and DER form) must match;
    at least one must be present.
    """

    def __init__(self, claim: str, value: str) -> None:
        if claim not in _GITHUB:
            raise ValueError(f"unknown GitHub claim {claim!r}")
        self.claim, self.value = claim, value

    def verify(self, cert: Any) -> None:
        legacy, der, form = _GITHUB[self.claim]
        seen = []
        if legacy and (raw := _ext_value(cert, legacy)) is not None:
            seen.append((raw_text(raw), self.value))
        if der and (raw := _ext_value(cert, der)) is not None:
            seen.append((der_utf8(raw), form.format(self.value)))
        if not seen:
            raise PolicyError(f"certificate carries no GitHub {self.claim} claim")
        for got, want in seen:
            if got != want:
                raise PolicyError(
                    f"certificate GitHub {self.claim} does not match: "
                    f"expected {want!r}, got {got!r}"
                )


def GitHubRepository(value: str) -> GitHubClaim:
    return GitHubClaim("repository", value)


def GitHubRef(value: str) -> GitHubClaim:
    return GitHubClaim("ref", value)


def GitHubSHA(value: str) -> GitHubClaim:
    return GitHubClaim("sha", value)


def GitHubTrigger(value: str) -> GitHubClaim:
    return GitHubClaim("trigger", value)


def GitHubWorkflowName(value: str) -> GitHubClaim:
    return GitHubClaim("workflow_name", value)


class AllOf:
    """Every child must pass; an empty list is refused (it would accept anything)."""

    def __init__(self, children: Sequence[VerificationPolicy]) -> None:
        self.children = list(children)

    def verify(self, cert: Any) -> None:
        if not self.children:
            raise PolicyError("empty AllOf policy")
        for child in self.children:
            child.verify(cert)


class AnyOf:
    def __init__(self, children: Sequence[VerificationPolicy]) -> None:
        self.children = list(children)

    def verify(self, cert: Any) -> None:
        errors = []
        for child in self.children:
            try:
                child.verify(cert)
                return
            except PolicyError as e:
                errors.append(e.message)
        raise PolicyError(f"no policy of {len(self.children)} matched: {'; '.join(errors)}")


class PublicKey:
    """Managed-key verification: the bundle must be signed by this key, not a certificate."""

    def __init__(self, key: Any) -> None:
        if isinstance(key, bytes | str):
            from sceau.keys import load_public_key_pem

            key = load_public_key_pem(key.encode() if isinstance(key, str) else key)
        if not isinstance(
            key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey
        ):
            raise ValueError(f"unsupported public key type {type(key).__name__}")
        self.key = key

    def verify(self, cert: Any) -> None:
        raise PolicyError("bundle is signed with a certificate but a public key was expected")
