"""Search index terms: the strings an entry is filed under in ``log.append(keys=...)``.

Real Rekor keeps one flat Redis namespace in which a key hash of a DSSE entry
(``sha256:<hex>``) is indistinguishable from an artifact hash. Here every term carries its
kind, so a hash search never returns an entry because of its signing key:

- ``hash:<alg>:<hex>``  artifact digest (hashedrekord data, DSSE payload/envelope, in-toto
  subjects), lower-case
- ``key:<hex>``         SHA-256 of the canonical PEM of the certificate or key (Rekor's
  public-key search term)
- ``email:<addr>``      SAN e-mail address, lower-case
- ``subject:<value>``   any SAN identity (e-mail lower-case, URI / otherName exact)
- ``serial:<hex>``      certificate serial number, lower-case hex without leading zeros
  (the CT log files its leaves under the same term: the explorer links the two by it)
"""

from __future__ import annotations

from sceau.services.rekor.material import Material

MAX_TERMS = 256


def hash_term(algorithm: str, hex_value: str) -> str:
    return f"hash:{algorithm.lower()}:{hex_value.lower()}"


def key_term(key_hash_hex: str) -> str:
    return f"key:{key_hash_hex.lower()}"


def email_term(address: str) -> str:
    return f"email:{address.lower()}"


def serial_term(serial: int) -> str:
    return f"serial:{serial:x}"


def subject_term(value: str) -> str:
    """E-mail subjects are case-insensitive; URIs (workflow refs) are matched exactly."""
    if "@" in value and "://" not in value:
        value = value.lower()
    return f"subject:{value}"


def material_terms(material: Material) -> list[str]:
    """The key and identity terms of one certificate or key."""
    out = [key_term(material.key_hash())]
    out += [email_term(e) for e in material.emails()]
    out += [subject_term(s) for s in material.subjects()]
    if material.certificate is not None:
        out.append(serial_term(material.certificate.serial_number))
    return out


def dedup(terms: list[str]) -> tuple[str, ...]:
    """Unique terms in first-seen order, capped so one entry cannot flood the index."""
    seen: dict[str, None] = {}
    for t in terms:
        seen.setdefault(t, None)
        if len(seen) >= MAX_TERMS:
            break
    return tuple(seen)


def intoto_subject_terms(statement: object) -> list[str]:
    """``alg:digest`` of every subject of an in-toto statement (as Rekor indexes them), so
    a search by artifact hash also finds attestations about the artifact."""
    if not isinstance(statement, dict):
        return []
    subjects = statement.get("subject")
    if not isinstance(subjects, list):
        return []
    out: list[str] = []
    for subject in subjects:
        digests = subject.get("digest") if isinstance(subject, dict) else None
        if not isinstance(digests, dict):
            continue
        for alg, value in digests.items():
            if isinstance(alg, str) and isinstance(value, str) and value:
                out.append(hash_term(alg, value))
    return out
