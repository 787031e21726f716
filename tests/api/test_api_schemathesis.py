"""Schemathesis against the app's own OpenAPI document: every operation, with data that fits the
schema and data that does not, sent with a key holding every scope. No answer may be a 5xx, and
every answer must conform to the document (status code, content type, headers, body schema);
invalid data must be refused with a 4xx.

Bounded: ``EXAMPLES`` per operation and mode, no deadline, no example database; the operations on
one subject also run against a subject that exists, so their 2xx answers are checked too."""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from pseudovault.vault.vault import Vault

EXAMPLES = 8  # per operation and mode: 72 operations x 2 modes x 2 engines keep it at ~30 s a run
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


# a body over the size limit (413) is a rejection of invalid data too
# (and the API key is sent by the test itself, so schemathesis must not generate its header)
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"with-security-parameters": False},
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
            }
        },
    }
)


def _run(operation: Any, mode: GenerationMode, headers: dict[str, str], **fixed: Any) -> None:
    checks = CHECKS + ([negative_data_rejection] if mode == GenerationMode.NEGATIVE else [])

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    def run(case: Any) -> None:
        response = case.call(headers=dict(headers))
        case.validate_response(response, checks=checks)

    run()


def test_schemathesis_finds_no_5xx_and_no_schema_violation(
    app: FastAPI, client: TestClient, all_scopes: dict[str, str], vault: Vault
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 14
    existing = vault.subjects.create({"email": "kim@example.com", "name": "Kim"})
    for operation in operations:
        _run(operation, GenerationMode.POSITIVE, all_scopes)
        raw = operation.definition.raw
        if raw.get("parameters") or raw.get("requestBody"):  # else there is nothing to make invalid
            _run(operation, GenerationMode.NEGATIVE, all_scopes)
        if "{subject_id}" in operation.path and operation.method.upper() != "DELETE":
            _run(operation, GenerationMode.POSITIVE, all_scopes, path_parameters={"subject_id": existing})
    assert vault.audit.verify().ok
