"""From verified token claims to the identity a certificate states (Fulcio's principals).

:func:`principal_from_claims` is pure: it takes claims whose signature, issuer, audience
and validity the verifier (:mod:`sceau.services.ca.oidc`) already checked, plus the
issuer's configuration, and returns a :class:`Principal` — the challenge the proof of
possession must sign, the one SAN, and the Fulcio extension values. Each issuer type
follows ``fulcio: pkg/identity/<type>/principal.go``; every refusal is an
:class:`~sceau.errors.Unauthenticated` that says which claim is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from sceau.errors import Unauthenticated
from sceau.services.ca import issuers as it
from sceau.services.ca.ident_ci_metadata import EXTENSION_ARCS
from sceau.services.ca.ident_template import TemplateError, render_value

FULCIO_ARC = "1.3.6.1.4.1.57264.1"
OTHERNAME_OID = ObjectIdentifier(f"{FULCIO_ARC}.7")  # username SAN: UTF8String "sub!domain"
SUBJECT_ARC = 24  # raw token subject, set for every issuer type
LEGACY_RAW_ARCS = frozenset({2, 3, 4, 5, 6})  # GitHub v1 extensions: raw bytes, not DER

# An addr-spec a certificate can hold (RFC 5322 dot-atom local part, RFC 1035 host name):
# stricter than Fulcio's ``.+@.+\..+``, which lets through addresses such as
# ``x<a@example.com>`` or ``a@b@example.com`` that no X.509 encoder accepts.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@{_LABEL}(?:\.{_LABEL})+")
MAX_EMAIL = 254  # RFC 5321 §4.5.3.1.3 (path less its angle brackets)
MAX_LOCAL_PART = 64  # RFC 5321 §4.5.3.1.1
# Longest identity (SAN URI, subject) and claim-derived extension value the CA puts in a
# certificate: far above any real CI claim, far below what would bloat every log entry.
MAX_IDENTITY = 2048
_LOOKS_LIKE_EMAIL = re.compile(r"^[^@\s/:]+@[^@\s/:]+\.[^@\s/:]+$")  # govalidator.IsEmail, roughly
_SPIFFE_ID = re.compile(r"spiffe://([a-z0-9._-]+)((?:/[A-Za-z0-9._-]+)*)")
_URI_CHARS = re.compile(r"[!-~]+")  # printable ASCII, no spaces: an IA5String URI


@dataclass(frozen=True)
class Principal:
    """Who the certificate is for.

    ``name`` is the challenge the proof of possession signs (the ``email`` claim for email
    issuers, ``sub`` otherwise). ``san`` is the only SubjectAlternativeName entry; Fulcio
    leaves have an empty subject, so the SAN extension is critical. ``issuer`` goes into
    1.3.6.1.4.1.57264.1.1 (raw bytes) and .1.8 (DER UTF8String). ``extensions`` maps the
    last arc under 1.3.6.1.4.1.57264.1 to its value: 2–6 are GitHub's legacy raw-byte
    extensions, 9–24 DER UTF8Strings; 24 (token subject) is always present.
    """

    name: str
    san: x509.GeneralName
    issuer: str
    extensions: dict[int, str] = field(default_factory=dict)


class BadClaim(Unauthenticated):
    """A verified token whose claims cannot go into a certificate (a malformed email, an
    over-long subject): the caller's input is wrong, not its credential — 400."""

    status = 400
    code = "invalid_argument"


def principal_from_claims(cfg: it.IssuerConfig, claims: Mapping[str, Any]) -> Principal:
    """The principal for verified ``claims`` from the issuer configured as ``cfg``."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthenticated("token has no 'sub' claim")
    _bounded("sub", sub)
    builder = _BUILDERS.get(cfg.type)
    if builder is None:
        builder = _ci_principal if cfg.is_ci else None
    if builder is None:  # config validation makes this unreachable
        raise Unauthenticated(f"issuer type {cfg.type!r} is not supported")
    principal = builder(cfg, claims, sub)
    principal.extensions[SUBJECT_ARC] = sub
    _bounded("issuer", principal.issuer)
    for arc, value in principal.extensions.items():
        _bounded(f"extension {FULCIO_ARC}.{arc}", value)
    return principal


def _bounded(what: str, value: str) -> None:
    if len(value.encode("utf-8")) > MAX_IDENTITY:
        raise BadClaim(f"{what} is longer than {MAX_IDENTITY} bytes")


def _email_principal(cfg: it.IssuerConfig, claims: Mapping[str, Any], sub: str) -> Principal:
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        raise Unauthenticated("token has no 'email' claim")
    if not cfg.skip_email_verification:
        verified = claims.get("email_verified")
        if verified is not True and verified != "true":
            raise Unauthenticated("email_verified claim is not true")
    if (
        len(email) > MAX_EMAIL
        or not _EMAIL.fullmatch(email)
        or len(email.rpartition("@")[0]) > MAX_LOCAL_PART
    ):
        raise BadClaim(f"email claim {email[:MAX_EMAIL]!r} is not a valid email address")
    issuer = cfg.url
    if cfg.issuer_claim is not None:
        issuer = _lookup_path(claims, cfg.issuer_claim)
    return Principal(name=email, san=x509.RFC822Name(email), issuer=issuer)


def _lookup_path(claims: Mapping[str, Any], path: tuple[str, ...]) -> str:
    value: Any = claims
    for step in path:
        if not isinstance(value, Mapping) or step not in value:
            raise Unauthenticated(f"token has no issuer claim at $.{'.'.join(path)}")
        value = value[step]
    if not isinstance(value, str) or not value:
        raise Unauthenticated(f"issuer claim at $.{'.'.join(path)} is not a non-empty string")
    return value


def _spiffe_principal(cfg: it.IssuerConfig, claims: Mapping[str, Any], sub: str) -> Principal:
    m = _SPIFFE_ID.fullmatch(sub)
    if not m or any(seg in (".", "..") for seg in m.group(2).split("/")):
        raise Unauthenticated(f"sub {sub!r} is not a valid SPIFFE ID")
    if m.group(1) != cfg.spiffe_trust_domain:
        raise Unauthenticated(
            f"SPIFFE ID trust domain {m.group(1)!r} does not match the configured "
            f"trust domain {cfg.spiffe_trust_domain!r}"
        )
    return Principal(name=sub, san=_uri_san(sub), issuer=cfg.url)


def _kubernetes_principal(cfg: it.IssuerConfig, claims: Mapping[str, Any], sub: str) -> Principal:
    k8s = claims.get("kubernetes.io")
    namespace = k8s.get("namespace") if isinstance(k8s, Mapping) else None
    account = k8s.get("serviceaccount") if isinstance(k8s, Mapping) else None
    account_name = account.get("name") if isinstance(account, Mapping) else None
    for what, value in (("namespace", namespace), ("serviceaccount.name", account_name)):
        if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9.-]+", value):
            raise Unauthenticated(f"token has no valid kubernetes.io.{what} claim")
    uri = f"https://kubernetes.io/namespaces/{namespace}/serviceaccounts/{account_name}"
    return Principal(name=sub, san=_uri_san(uri), issuer=cfg.url)


def _uri_principal(cfg: it.IssuerConfig, claims: Mapping[str, Any], sub: str) -> Principal:
    if _LOOKS_LIKE_EMAIL.match(sub):
        raise Unauthenticated("uri subject must not be an email address")
    subject = _split(sub)
    domain = urlsplit(cfg.subject_domain or "")
    if subject.scheme != domain.scheme:
        raise Unauthenticated(
            f"subject URI scheme {subject.scheme!r} must match the subject domain's "
            f"scheme {domain.scheme!r}"
        )
    if subject.hostname != domain.hostname:
        raise Unauthenticated(
            f"subject hostname {subject.hostname!r} must match the subject domain "
            f"{domain.hostname!r}"
        )
    return Principal(name=sub, san=_uri_san(sub), issuer=cfg.url)


def _username_principal(cfg: it.IssuerConfig, claims: Mapping[str, Any], sub: str) -> Principal:
    if "!" in sub:
        raise Unauthenticated("username (sub) must not contain '!'")
    if _LOOKS_LIKE_EMAIL.match(sub):
        raise Unauthenticated("username (sub) must not be an email address")
    value = f"{sub}!{cfg.subject_domain}"
    san = x509.OtherName(OTHERNAME_OID, der_utf8_string(value))
    return Principal(name=sub, san=san, issuer=cfg.url)


def _ci_principal(cfg: it.IssuerConfig, claims: Mapping[str, Any], sub: str) -> Principal:
    """Fulcio's ``ciprovider``: defaults overlaid by stringified claims feed the templates."""
    meta = cfg.ci
    assert meta is not None
    data = {**meta.defaults, **{k: claim_string(v) for k, v in claims.items()}}
    try:
        san = render_value(meta.san_template, data)
        extensions = {}
        for name, template in meta.extension_templates.items():
            value = render_value(template, data)
            if value:  # Fulcio omits empty extensions
                extensions[EXTENSION_ARCS[name]] = value
    except TemplateError as e:
        raise Unauthenticated(f"token does not fit the {meta.name} claim mapping: {e}") from e
    return Principal(name=sub, san=_uri_san(san), issuer=cfg.url, extensions=extensions)


def claim_string(value: Any) -> str:
    """A claim as template data. Go prints with ``%s``; we print numbers and booleans as
    JSON does (``42``, ``true``) instead of Go's ``%!s(float64=42)``, and objects as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _uri_san(uri: str) -> x509.UniformResourceIdentifier:
    if len(uri) > MAX_IDENTITY:
        raise BadClaim(f"identity URI is longer than {MAX_IDENTITY} bytes")
    parts = _split(uri)
    if not _URI_CHARS.fullmatch(uri) or not parts.scheme or not (parts.netloc or parts.path):
        raise BadClaim(f"identity {uri!r} is not a valid URI for the certificate")
    return x509.UniformResourceIdentifier(uri)


def _split(uri: str) -> Any:
    try:
        return urlsplit(uri)
    except ValueError as e:  # e.g. an unclosed "[" in the host
        raise BadClaim(f"identity {uri[:200]!r} is not a valid URI: {e}") from e


def der_utf8_string(value: str) -> bytes:
    """DER ``UTF8String`` (tag 12): the otherName value and every 1.8+ extension body."""
    body = value.encode("utf-8")
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return b"\x0c" + length + body


_BUILDERS = {
    it.EMAIL: _email_principal,
    it.SPIFFE: _spiffe_principal,
    it.KUBERNETES: _kubernetes_principal,
    it.URI: _uri_principal,
    it.USERNAME: _username_principal,
}
