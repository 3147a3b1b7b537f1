"""Schemathesis against the OpenAPI document the served instance publishes (Rekor's API
and the explorer's JSON API).

The schema is fetched from ``/api/openapi.json`` of the running instance; every operation
gets a bounded number of generated requests, positive (schema-conforming) and negative
(schema-violating), each checked with schemathesis' ``not_a_server_error``. Generated
entries cannot carry valid signatures, so the logs must not grow and must still verify.

Operations are driven through ``APIOperation.as_strategy`` with hypothesis rather than
schemathesis' pytest plugin, whose ``from_fixture`` does not run under pytest 9.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from sceau.services.explorer.openapi import paths as explorer_paths
from sceau.services.rekor import openapi
from tests.robustness.conftest import Instance

pytestmark = [pytest.mark.server, pytest.mark.interop, pytest.mark.slow]

EXAMPLES = 25
# Operation names, for test ids; the test checks the served document has the same ones.
OPERATIONS = sorted(
    f"{method.upper()} {path}"
    for path, item in {**openapi.document()["paths"], **explorer_paths()}.items()
    for method in item
    if method in ("get", "post", "put", "delete", "patch")
)

# Nothing in these can violate the schema (no body, only free-form string parameters):
# schemathesis cannot generate a negative case for them.
NO_NEGATIVE = {
    "GET /api/v1/log",
    "GET /api/v1/log/publicKey",
    "GET /api/v2/checkpoint",
    "GET /api/v2/tile/{path}",
    "GET /api/explorer/v1/trusted-root",
}
CASES = [
    pytest.param(op, mode, id=f"{op}-{mode.value}")
    for op in OPERATIONS
    for mode in GenerationMode
    if not (mode is GenerationMode.NEGATIVE and op in NO_NEGATIVE)
]


@pytest.fixture(scope="module")
def served_schema(instance: Instance) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{instance.url}/api/openapi.json")


def test_served_document_lists_the_operations(served_schema: schemathesis.BaseSchema) -> None:
    ops = sorted(
        f"{r.ok().method.upper()} {r.ok().path}" for r in served_schema.get_all_operations()
    )
    assert ops == OPERATIONS


@pytest.mark.parametrize(("operation", "mode"), CASES)
def test_rekor_api_never_answers_a_server_error(
    operation: str,
    mode: GenerationMode,
    served_schema: schemathesis.BaseSchema,
    instance: Instance,
) -> None:
    method, path = operation.split(" ", 1)
    op = served_schema[path][method]
    instance.errors.records.clear()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(op.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        response = case.call_and_validate(base_url=instance.url, checks=[not_a_server_error])
        assert response.status_code < 500
        assert instance.server_errors() == []

    run()
    instance.check_unchanged()


def test_logs_unchanged_after_schemathesis(instance: Instance) -> None:
    instance.check_unchanged()
    assert instance.verify_logs() == instance.roots
