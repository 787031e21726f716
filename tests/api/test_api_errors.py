"""Problem details (RFC 9457) for every kind of bad request, and for server faults: the right
status, ``application/problem+json``, a field location and reason for validation errors, never
the value sent, and no 5xx for any input."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from canary import CANARY_PII
from fastapi.testclient import TestClient

from pseudovault.keys.errors import DecryptionError
from pseudovault.vault.errors import UnavailableError
from pseudovault.vault.vault import Vault

Auth = Callable[..., dict[str, str]]
LIMIT = 64 * 1024  # api_settings.max_body_bytes in conftest
_JSON = {"Content-Type": "application/json"}


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) <= {"type", "title", "status", "detail", "instance", "request_id", "errors"}
    assert body["status"] == status
    assert body["type"].startswith("https://pseudovault.dev/problems/")
    assert body["instance"] == f"urn:pseudovault:request:{body['request_id']}"
    assert CANARY_PII not in response.text and CANARY_PII.encode().hex() not in response.text
    return dict(body)


@pytest.fixture
def subject(vault: Vault) -> str:
    return vault.subjects.create({"email": CANARY_PII})


def _reveal(client: TestClient, subject: str, headers: dict[str, str], **kwargs: Any) -> Any:
    return client.post(f"/v1/subjects/{subject}/reveal", headers=headers, **kwargs)


def test_malformed_json(client: TestClient, auth: Auth, subject: str) -> None:
    headers = {**auth("subjects:reveal"), "Content-Type": "application/json"}
    malformed = (
        b'{"purpose": "' + CANARY_PII.encode(),
        b"{,}",
        b"\xff\xfe" + CANARY_PII.encode(),
        b"nul",
        b"R\x00\x0eP\x06",  # valid UTF-8 that the JSON parser would take for UTF-16
        json.dumps({"purpose": CANARY_PII}).encode("utf-16"),
    )
    for raw in malformed:
        body = _problem(_reveal(client, subject, headers, content=raw), 422)
        assert body["errors"][0]["code"] == "json_invalid" and body["errors"][0]["pointer"] == "#"


def test_wrong_types(client: TestClient, auth: Auth, subject: str) -> None:
    headers = auth("subjects:reveal")
    cases = [
        ({"purpose": 5}, "#/purpose", "string_type"),
        ({"purpose": "case", "fields": CANARY_PII}, "#/fields", "list_type"),
        ({"purpose": "case", "fields": [CANARY_PII]}, "#/fields/0", "string_pattern_mismatch"),
        ({"purpose": ["case"]}, "#/purpose", "string_type"),
        ([CANARY_PII], "#", "model_attributes_type"),
    ]
    for payload, pointer, code in cases:
        body = _problem(_reveal(client, subject, headers, json=payload), 422)
        assert {"location": "body", "pointer": pointer, "code": code} in [
            {k: e[k] for k in ("location", "pointer", "code")} for e in body["errors"]
        ], body
        assert all(error["detail"] for error in body["errors"])


def test_a_number_is_not_a_string(client: TestClient, auth: Auth) -> None:
    response = client.post("/v1/subjects", json={"fields": {"age": 42}}, headers=auth("subjects:write"))
    assert _problem(response, 422)["errors"][0]["pointer"] == "#/fields/*"  # a field name the caller chose is not quoted


def test_unknown_fields_and_query_parameters(client: TestClient, auth: Auth, subject: str) -> None:
    body = _problem(
        _reveal(client, subject, auth("subjects:reveal"), json={"purpose": "case", "reason": CANARY_PII}), 422
    )
    assert body["errors"] == [
        {
            "location": "body",
            "pointer": "#/reason",
            "detail": "Extra inputs are not permitted",
            "code": "extra_forbidden",
        }
    ]
    body = _problem(_reveal(client, subject, auth("subjects:reveal"), json={"purpose": "case", CANARY_PII: 1}), 422)
    assert body["errors"][0]["pointer"] == "#/*"
    body = _problem(
        client.get("/v1/subjects", params={"limt": "5", CANARY_PII: "x"}, headers=auth("subjects:write")), 422
    )
    assert sorted(e["pointer"] for e in body["errors"]) == ["#/*", "#/*"]  # unknown names are the caller's: not quoted
    assert {e["location"] for e in body["errors"]} == {"query"}


def test_invalid_path_and_query_values(client: TestClient, auth: Auth) -> None:
    body = _problem(
        client.post(f"/v1/subjects/{CANARY_PII}/reveal", json={"purpose": "x"}, headers=auth("subjects:reveal")), 422
    )
    assert body["errors"][0]["location"] == "path" and body["errors"][0]["pointer"] == "#/subject_id"
    _problem(client.get("/v1/subjects", params={"limit": "0"}, headers=auth("subjects:write")), 422)
    _problem(client.get("/v1/subjects", params={"limit": CANARY_PII}, headers=auth("subjects:write")), 422)
    _problem(client.get("/v1/audit", params={"since": "2026-01-01T00:00:00"}, headers=auth("admin")), 422)


def test_domain_validation_is_a_422_naming_the_field(client: TestClient, auth: Auth, subject: str) -> None:
    # the schema lets a purpose with a control character through; the vault refuses it
    body = _problem(_reveal(client, subject, auth("subjects:reveal"), json={"purpose": "case\u0007" + CANARY_PII}), 422)
    assert body["errors"] == [
        {
            "location": None,
            "pointer": "#/purpose",
            "detail": "must be one line of printable characters",
            "code": "invalid_input",
        }
    ]


def test_oversized_bodies_with_and_without_content_length(client: TestClient, auth: Auth, vault: Vault) -> None:
    headers = auth("subjects:write")
    big = {"fields": {"note": CANARY_PII + "x" * LIMIT}}
    body = _problem(client.post("/v1/subjects", json=big, headers=headers), 413)
    assert str(LIMIT) in body["detail"]

    def chunks() -> Iterator[bytes]:
        yield b'{"fields": {"note": "'
        for _ in range(LIMIT // 1024 + 2):
            yield b"x" * 1024
        yield b'"}}'

    response = client.post("/v1/subjects", content=chunks(), headers={**headers, "Content-Type": "application/json"})
    _problem(response, 413)
    assert vault.subjects.count() == 0
    # a declared length over the limit is refused before authentication, the body unread
    _problem(client.post("/v1/subjects", content=b"{}", headers={"Content-Length": str(LIMIT + 1)}), 413)


def test_unsupported_media_type(client: TestClient, auth: Auth, subject: str) -> None:
    headers = auth("subjects:reveal")
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        extra = {"Content-Type": content_type} if content_type else {}
        response = _reveal(client, subject, {**headers, **extra}, content=b'{"purpose": "case"}')
        if content_type is None:
            # httpx adds no Content-Type for raw content: a body without one is refused too
            assert "content-type" not in response.request.headers
        _problem(response, 415)
    assert (
        _reveal(
            client, subject, {**headers, "Content-Type": "application/merge-patch+json"}, content=b'{"purpose": "case"}'
        ).status_code
        == 200
    )


def test_unknown_routes_and_methods_are_problems(client: TestClient, auth: Auth) -> None:
    _problem(client.get(f"/v1/nothing/{CANARY_PII}"), 404)
    response = client.put("/v1/subjects", headers=auth("subjects:write"))
    _problem(response, 405)
    assert response.headers["allow"]


def test_a_server_fault_is_an_opaque_500(
    client: TestClient, auth: Auth, vault: Vault, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(fields: Any) -> str:
        raise RuntimeError(f"something about {CANARY_PII}")

    monkeypatch.setattr(vault.subjects, "create", broken)
    response = client.post("/v1/subjects", json={"fields": {"email": CANARY_PII}}, headers=auth("subjects:write"))
    body = _problem(response, 500)
    assert body["detail"] is None and body["type"].endswith("/internal_error")
    assert "RuntimeError" not in response.text and "Traceback" not in response.text
    assert any("RuntimeError at" in record.getMessage() for record in caplog.records)


def test_data_that_does_not_decrypt_is_a_500_without_detail(
    client: TestClient, auth: Auth, vault: Vault, subject: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def undecryptable(*args: Any, **kwargs: Any) -> Any:
        raise DecryptionError()

    monkeypatch.setattr(vault.subjects, "read", undecryptable)
    body = _problem(_reveal(client, subject, auth("subjects:reveal"), json={"purpose": "case"}), 500)
    assert body["type"].endswith("/stored_data_unreadable") and body["detail"] is None


def test_an_unavailable_store_is_a_503(client: TestClient, vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    def down() -> Any:
        raise UnavailableError("the data store cannot be reached (OperationalError)")

    monkeypatch.setattr(vault, "readiness", down)
    body = _problem(client.get("/readyz"), 503)
    assert "data store" in body["detail"]


def test_no_input_makes_a_5xx(client: TestClient, auth: Auth, subject: str) -> None:
    headers = auth("subjects:write", "subjects:reveal", "erasure", "admin")
    weird: list[Any] = [
        None,
        0,
        -1,
        1e308,
        True,
        "",
        "\x00",
        "\ud800",
        CANARY_PII,
        [],
        {},
        [[[]]],
        {"": ""},
        "a" * 5000,
    ]
    targets = [
        ("POST", "/v1/subjects"),
        ("PATCH", f"/v1/subjects/{subject}"),
        ("POST", f"/v1/subjects/{uuid.uuid4()}/reveal"),
    ]
    for method, path in targets:
        for value in weird:
            for payload in (
                value,
                {"fields": value},
                {"fields": {"email": value}},
                {"purpose": value, "fields": value},
            ):
                # ASCII-escaped, so that lone surrogates travel as the JSON escapes a client may send
                raw = json.dumps(payload).encode()
                response = client.request(method, path, content=raw, headers={**headers, **_JSON})
                assert response.status_code < 500, (method, path, payload, response.text[:300])
                assert CANARY_PII not in response.text
    for query in ({"limit": "1e3"}, {"after": "\x00"}, {"cursor": "-1"}, {"since": "yesterday"}, {"action": "x" * 300}):
        for path in ("/v1/subjects", "/v1/audit"):
            response = client.get(path, params=query, headers=headers)
            assert response.status_code < 500, (path, query)


def test_the_names_an_error_may_quote_are_those_the_openapi_document_declares(app: Any) -> None:
    """A pointer quotes a key only when the API declares that name; the server reads the names
    from its routes (about 1 ms) instead of building its OpenAPI document (about 0.2 s) on its
    first invalid request. The two must agree, name for name."""
    from pseudovault.api.errors import declared_names
    from pseudovault.api.openapi import route_declared_names

    from_routes = route_declared_names(app)
    assert app.state.declared_names == from_routes == declared_names(app.openapi())
    assert {"fields", "purpose", "identifiers", "signups"} <= from_routes  # bodies, through their models
    assert "reason" in from_routes and CANARY_PII not in from_routes


def test_a_query_parameter_given_twice_is_refused(client: TestClient, auth: Auth) -> None:
    """``until=a&until=b``: which one was meant? A parameter that takes one value, given more
    than once (even empty), is a 422 naming it, not the last value silently taken."""
    headers = auth("admin")
    for query in ("until=&until=2026-01-01T00:00:00Z", "limit=5&limit=6", "limit=5&limit=5"):
        body = _problem(client.get(f"/v1/audit?{query}", headers=headers), 422)
        name = query.split("=", 1)[0]
        assert body["errors"] == [
            {
                "location": "query",
                "pointer": f"#/{name}",
                "detail": "Given more than once; this parameter takes one value",
                "code": "multiple_values",
            }
        ], body
    assert client.get("/v1/audit?limit=5&until=2026-01-01T00:00:00Z", headers=headers).status_code == 200


def test_only_a_list_parameter_takes_many_values() -> None:
    from typing import Annotated, Optional

    from fastapi import Query

    from pseudovault.api.auth import _takes_many

    typing_union = Optional[list[int]]  # noqa: UP045 - typing.Union, as older annotations spell it
    assert _takes_many(list[str]) and _takes_many(typing_union) and _takes_many(Annotated[tuple[str, ...], Query()])
    assert _takes_many(list[str] | None)
    singles = (str, int, Optional[str], str | None, Annotated[int, Query()], dict[str, str])  # noqa: UP045
    assert not any(_takes_many(t) for t in singles)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"fields": {"email": "a@example.com"}, "fields": {"email": "b@example.com"}}',
        b'{"fields": {"email": "a@example.com", "email": "b@example.com"}}',
    ],
    ids=["top level", "nested"],
)
def test_a_name_given_twice_in_a_body_is_refused(client: TestClient, auth: Auth, vault: Vault, raw: bytes) -> None:
    """A parser keeps one of two values given under one name (which one depends on the parser: a
    gateway in front may have read the other); the API takes neither, and writes nothing."""
    headers = {**auth("subjects:write"), "Content-Type": "application/json"}
    body = _problem(client.post("/v1/subjects", content=raw, headers=headers), 422)
    assert body["errors"] == [
        {"location": "body", "pointer": "#", "detail": "An object gives a name twice", "code": "duplicate_name"}
    ]
    assert vault.subjects.count() == 0
    fine = client.post("/v1/subjects", content=b'{"fields": {"email": "a@example.com"}}', headers=headers)
    assert fine.status_code == 201
