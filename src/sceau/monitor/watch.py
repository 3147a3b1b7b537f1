"""The watch file: which entries a monitor reports (TOML, docs/monitoring.md).

Every key is optional and each one is a trigger of its own: an entry is reported when any
rule matches it, with the names of the rules that did. Regular expressions are searched,
not anchored (as rekor-monitor and cosign's ``--certificate-identity-regexp`` do): write
``^…$`` to anchor them. Unknown keys are refused, so a typo never silently watches nothing.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sceau.errors import InputError
from sceau.monitor.entries import Entry

_LISTS = (
    "identities",
    "identity_regexps",
    "issuers",
    "github_repositories",
    "github_workflows",
    "key_fingerprints",
    "ct_subjects",
    "ct_subject_regexps",
    "ct_sans",
    "ct_san_regexps",
)
_KEYS = frozenset((*_LISTS, "any_entry"))


@dataclass(frozen=True)
class Watch:
    identities: frozenset[str] = frozenset()
    identity_regexps: tuple[re.Pattern[str], ...] = ()
    issuers: frozenset[str] = frozenset()
    github_repositories: frozenset[str] = frozenset()
    github_workflows: frozenset[str] = frozenset()
    key_fingerprints: frozenset[str] = frozenset()
    ct_subjects: frozenset[str] = frozenset()
    ct_subject_regexps: tuple[re.Pattern[str], ...] = ()
    ct_sans: frozenset[str] = frozenset()
    ct_san_regexps: tuple[re.Pattern[str], ...] = ()
    any_entry: bool = False

    @property
    def empty(self) -> bool:
        return not self.any_entry and not any(getattr(self, k) for k in _LISTS)

    @property
    def needles(self) -> tuple[bytes, ...] | None:
        """Byte strings at least one of which any matching certificate must contain, or None
        when some rule (a regexp, a fingerprint, a subject, any_entry) needs every entry
        parsed. Exact identities, issuers and repositories are stored as-is in the DER, so
        a certificate without any of them is skipped unparsed: the catch-up fast path."""
        if (
            self.any_entry
            or self.identity_regexps
            or self.key_fingerprints
            or self.ct_subjects
            or self.ct_subject_regexps
            or self.ct_san_regexps
        ):
            return None
        words = (
            self.identities
            | self.issuers
            | self.github_repositories
            | self.github_workflows
            | self.ct_sans
        )
        return tuple(sorted(w.encode() for w in words))

    def match(self, entry: Entry, ct: bool = False) -> list[str]:
        """Names of the rules ``entry`` matches (``ct``: it came from a CT log)."""
        hits: list[str] = []
        if self.any_entry:
            hits.append("any_entry")
        ids = entry.identities
        if any(i in self.identities for i in ids):
            hits.append("identities")
        if any(r.search(i) for r in self.identity_regexps for i in ids):
            hits.append("identity_regexps")
        if entry.issuer is not None and entry.issuer in self.issuers:
            hits.append("issuers")
        if entry.github_repository in self.github_repositories:
            hits.append("github_repositories")
        if entry.github_workflow in self.github_workflows:
            hits.append("github_workflows")
        if entry.key_fingerprint in self.key_fingerprints:
            hits.append("key_fingerprints")
        if ct:
            if entry.subject is not None and entry.subject in self.ct_subjects:
                hits.append("ct_subjects")
            if entry.subject is not None and any(
                r.search(entry.subject) for r in self.ct_subject_regexps
            ):
                hits.append("ct_subject_regexps")
            sans = [*entry.dns_names, *ids]
            if any(s in self.ct_sans for s in sans):
                hits.append("ct_sans")
            if any(r.search(s) for r in self.ct_san_regexps for s in sans):
                hits.append("ct_san_regexps")
        return hits


def load_watch(path: str | Path) -> Watch:
    """Read and check a watch file (InputError with the file and key named)."""
    try:
        raw = tomllib.loads(Path(path).read_text())
    except OSError as e:
        raise InputError(f"cannot read watch file {path}: {e.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"watch file {path} is not valid TOML: {e}") from None
    return parse_watch(raw, str(path))


def parse_watch(raw: dict[str, object], where: str = "watch file") -> Watch:
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}")
    lists: dict[str, list[str]] = {}
    for key in _LISTS:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise InputError(f"{where}: {key} must be a list of non-empty strings")
        lists[key] = value
    any_entry = raw.get("any_entry", False)
    if not isinstance(any_entry, bool):
        raise InputError(f"{where}: any_entry must be true or false")
    fingerprints = []
    for f in lists["key_fingerprints"]:
        hex_part = f.lower().removeprefix("sha256:")
        if not re.fullmatch(r"[0-9a-f]{64}", hex_part):
            raise InputError(
                f"{where}: key_fingerprints entry {f!r} is not sha256:<64 hex> "
                "(SHA-256 of the DER public key)"
            )
        fingerprints.append(hex_part)
    watch = Watch(
        identities=frozenset(lists["identities"]),
        identity_regexps=_compile(lists["identity_regexps"], where, "identity_regexps"),
        issuers=frozenset(lists["issuers"]),
        github_repositories=frozenset(
            r.removeprefix("https://github.com/") for r in lists["github_repositories"]
        ),
        github_workflows=frozenset(
            w.removeprefix("https://github.com/").partition("@")[0]
            for w in lists["github_workflows"]
        ),
        key_fingerprints=frozenset(fingerprints),
        ct_subjects=frozenset(lists["ct_subjects"]),
        ct_subject_regexps=_compile(lists["ct_subject_regexps"], where, "ct_subject_regexps"),
        ct_sans=frozenset(lists["ct_sans"]),
        ct_san_regexps=_compile(lists["ct_san_regexps"], where, "ct_san_regexps"),
        any_entry=any_entry,
    )
    if watch.empty:
        raise InputError(f"{where}: watches nothing (set identities, …, or any_entry = true)")
    return watch


def _compile(patterns: list[str], where: str, key: str) -> tuple[re.Pattern[str], ...]:
    out = []
    for p in patterns:
        try:
            out.append(re.compile(p))
        except re.error as e:
            raise InputError(f"{where}: bad regexp {p!r} in {key}: {e}") from None
    return tuple(out)
