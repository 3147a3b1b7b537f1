"""``verify-attestation --policy FILE``: the verified in-toto statement must satisfy a JSON
Schema.

cosign evaluates CUE or Rego here. No maintained pure-Python CUE evaluator exists, and the
Rego binding on PyPI (regopy 1.5) aborted the process on a second evaluation and ignored
``default`` rules when we tried it — a verifier cannot stand on that. JSON Schema (Draft
2020-12 unless the schema names another) expresses the same checks cosign's examples make —
"predicateType is X", "the builder is Y", "the subject digest is Z" — with a maintained
validator. The schema applies to the whole statement (``_type``, ``subject``,
``predicateType``, ``predicate``); no ``$ref`` is fetched from the network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sceau.client.errors import PolicyError
from sceau.errors import InputError

MAX_POLICY = 1024 * 1024


def load_policy(path: str) -> Any:
    """A validator for the JSON Schema in ``path`` (an :class:`InputError` if it is not one)."""
    import jsonschema

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise InputError(f"cannot read policy {path}: {e.strerror}") from None
    if len(data) > MAX_POLICY:
        raise InputError(f"policy {path} is larger than {MAX_POLICY} bytes")
    try:
        schema = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"policy {path} is not JSON: {e}") from None
    if not isinstance(schema, dict | bool):
        raise InputError(f"policy {path} must be a JSON Schema (an object)")
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as e:
        raise InputError(f"policy {path} is not a valid JSON Schema: {e.message}") from None
    return cls(schema)


def check_statement(validator: Any, statement: dict[str, Any], path: str) -> None:
    """Raise :class:`PolicyError` naming the first place the statement breaks the policy."""
    import jsonschema

    try:
        errors = sorted(validator.iter_errors(statement), key=lambda e: list(e.absolute_path))
    except jsonschema.exceptions._WrappedReferencingError as e:
        raise InputError(f"policy {path}: unresolvable $ref ({e})") from None
    if errors:
        first = errors[0]
        where = "/" + "/".join(str(p) for p in first.absolute_path)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PolicyError(
            f"attestation does not satisfy policy {path}: at {where}: {first.message}{more}"
        )
