"""Request ids, the access log (one PII-free JSON line per request, route templates only),
Prometheus metrics, liveness and readiness, and the app's own checks of its routes."""

from __future__ import annotations

import gc
import json
import logging
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from canary import CANARY_PII
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from hypothesis import example, given
from hypothesis import strategies as st

from pseudovault.api.app import create_app
from pseudovault.api.logs import JsonFormatter
from pseudovault.api.routers import ROUTERS
from pseudovault.api.settings import ApiSettings
from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.vault import Vault

if TYPE_CHECKING:
    from conftest import StoreUrls

Auth = Callable[..., dict[str, str]]


def _access(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "pseudovault.api.access"]


def test_request_ids_are_echoed_or_made(client: TestClient) -> None:
    given = "2f1c7d0e-6a4b-4c1e-9f3a-0b8d5e7a9c21"
    assert client.get("/healthz", headers={"X-Request-ID": given}).headers["x-request-id"] == given
    for unsafe in (CANARY_PII, "x" * 100, "short"):
        made = client.get("/healthz", headers={"X-Request-ID": unsafe}).headers["x-request-id"]
        assert made != unsafe and len(made) == 32
    problem = client.get("/v1/subjects", headers={"X-Request-ID": given})
    assert problem.json()["request_id"] == given
    # one request id and one Cache-Control on every answer, whatever the route set
    answer = client.get("/healthz", headers={"X-Request-ID": given})
    raw = [name.lower() for name, _ in answer.headers.raw]
    assert raw.count(b"x-request-id") == 1 and raw.count(b"cache-control") == 1
    assert answer.headers["cache-control"] == "no-store"
    made = {client.get("/healthz").headers["x-request-id"] for _ in range(20)}
    assert len(made) == 20 and all(len(m) == 32 and int(m, 16) >= 0 for m in made)


def test_startup_moves_what_it_built_out_of_the_collectors_reach(client: TestClient) -> None:
    """After startup the long-lived objects are frozen (gc.freeze): a full collection under load
    walks only what requests made, not the whole process (a stall of ~100 ms otherwise)."""
    assert client.get("/healthz").status_code == 200
    assert gc.get_freeze_count() > 10_000


def test_one_pii_free_access_line_per_request(
    client: TestClient, auth: Auth, vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    subject_id = vault.subjects.create({"email": CANARY_PII})
    headers = auth("subjects:reveal")
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        response = client.post(
            f"/v1/subjects/{subject_id}/reveal",
            json={"purpose": "case 7"},
            headers={**headers, "X-Request-ID": "ab" * 16},
        )
        assert CANARY_PII in response.text  # the reveal itself returns the PII...
        client.post(f"/v1/subjects/{CANARY_PII}/reveal", json={"purpose": CANARY_PII}, headers=headers)
        client.get(f"/nowhere/{CANARY_PII}")
    lines = _access(caplog)
    assert len(lines) == 3
    first = lines[0].__dict__
    assert {k: first[k] for k in ("request_id", "method", "route", "status", "key_id")} == {
        "request_id": "ab" * 16,
        "method": "POST",
        "route": "/v1/subjects/{subject_id}/reveal",
        "status": 200,
        "key_id": headers["Authorization"].split("_")[1],
    }
    assert first["duration_ms"] >= 0
    assert [r.__dict__["route"] for r in lines[1:]] == ["/v1/subjects/{subject_id}/reveal", "<unmatched>"]
    formatter = JsonFormatter()
    for record in caplog.records:  # ...but no log line does
        line = formatter.format(record)
        assert (CANARY_PII not in line and subject_id not in line) or record.name != "pseudovault.api.access"
        assert CANARY_PII not in line


def test_the_json_formatter_writes_exceptions_by_class_and_place_only() -> None:
    try:
        raise ValueError(f"bad value {CANARY_PII}")
    except ValueError:
        record = logging.LogRecord("api.x", logging.ERROR, __file__, 1, "failed %s", ("id-1",), sys.exc_info())
    record.request_id = "r1"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed id-1" and line["request_id"] == "r1" and line["level"] == "error"
    assert line["exception"].startswith("ValueError at test_api_operability.py:")
    assert CANARY_PII not in json.dumps(line)


@given(st.lists(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False), min_size=1, max_size=20))
@example([1_700_000_001.37])  # a fraction just under .370: datetime rounds it to the microsecond first
@example([1_700_000_000.9999996, 1_700_000_001.0, 1_700_000_000.0005])  # rounding into the next second
def test_the_json_formatters_timestamps_are_datetimes_own(instants: list[float]) -> None:
    """The formatter makes each second's text once and adds the milliseconds: the same ``ts`` as
    ``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")``, in any order."""
    formatter = JsonFormatter()
    for created in instants:
        record = logging.LogRecord("api.x", logging.INFO, __file__, 1, "m", (), None)
        record.created = created
        expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert json.loads(formatter.format(record))["ts"] == expected


def test_metrics_count_requests_per_route_template_and_status(client: TestClient, auth: Auth, vault: Vault) -> None:
    subject_id = vault.subjects.create({"name": "Kim"})
    headers = auth("subjects:write")
    client.patch(f"/v1/subjects/{subject_id}", json={"fields": {"name": "Lee"}}, headers=headers)
    client.patch(f"/v1/subjects/{subject_id}", json={"fields": {"name": "Park"}}, headers=headers)
    client.get("/v1/subjects")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'pseudovault_http_requests_total{method="PATCH",route="/v1/subjects/{subject_id}",status="200"} 2.0' in text
    assert 'pseudovault_http_requests_total{method="GET",route="/v1/subjects",status="401"} 1.0' in text
    assert (
        'pseudovault_http_request_duration_seconds_count{method="PATCH",route="/v1/subjects/{subject_id}"} 2.0' in text
    )
    assert "pseudovault_check_decisions_total" in text and "pseudovault_shreds_total" in text
    assert subject_id not in text


def _lookup_versions(client: TestClient) -> float:
    found = re.search(r"^pseudovault_lookup_key_versions_enabled (\S+)$", client.get("/metrics").text, re.MULTILINE)
    assert found is not None, "the lookup key versions gauge is not in /metrics"
    return float(found.group(1))


def test_metrics_show_the_lookup_key_versions_checks_use(
    client: TestClient, vault: Vault, store_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    """Each enabled lookup key version adds its pseudonyms to every check: the gauge an operator
    alerts on follows versions another process enables and disables within the lookup keys'
    refresh interval."""
    assert _lookup_versions(client) == 1.0
    with Vault.open(provider, store_urls.data, store_urls.keys, clock=clock) as other:
        other.lookup.rotate()
        other.lookup.rotate()
        assert _lookup_versions(client) == 1.0  # this worker's keys, read under their bound
        clock.advance(vault.lookup.refresh_interval)
        assert _lookup_versions(client) == 3.0
        other.lookup.disable(1)
        clock.advance(vault.lookup.refresh_interval)
        assert _lookup_versions(client) == 2.0


def test_liveness_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"data_store": "ok", "key_store": "ok", "key_provider": "ok", "rate_limiter": "ok"},
    }


def test_readiness_fails_when_a_store_is_gone(
    vault: Vault, api_settings: ApiSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import create_engine

    url = vault.data_engine.url
    if url.get_backend_name() == "sqlite":
        gone = create_engine("sqlite:////nonexistent-dir/data.sqlite3")
    else:
        gone = create_engine(url.set(port=1), connect_args={"connect_timeout": 2})
    with TestClient(create_app(api_settings, vault=vault)) as client:
        monkeypatch.setattr(vault, "data_engine", gone)
        response = client.get("/readyz")
    gone.dispose()
    assert response.status_code == 503 and response.json()["detail"].startswith("the data store cannot be reached")


def test_a_root_key_provider_that_goes_away_is_503_with_retry_after_and_comes_back(
    vault: Vault, api_settings: ApiSettings, auth: Callable[..., dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pseudovault.keys.errors import ProviderUnavailableError

    with TestClient(create_app(api_settings, vault=vault)) as client:
        headers = auth("subjects:write")
        vault.cache.clear()  # the next request needs the provider to unwrap the epoch key

        def down(*_args: object, **_kwargs: object) -> None:
            raise ProviderUnavailableError("AWS KMS cannot be used now (ThrottlingException)")

        monkeypatch.setattr(vault.provider, "unwrap", down)
        created = client.post("/v1/subjects", json={"fields": {"email": CANARY_PII}}, headers=headers)
        assert created.status_code == 503 and created.headers["Retry-After"] == "5"
        assert created.json()["detail"] == "the root key provider cannot be reached"
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.headers["Retry-After"] == "5"
        assert vault.subjects.count() == 0
        monkeypatch.undo()
        again = client.post("/v1/subjects", json={"fields": {"email": CANARY_PII}}, headers=headers)
        assert again.status_code == 201
        assert client.get("/readyz").status_code == 200


def test_the_app_refuses_a_route_without_a_declared_scope(
    vault: Vault, api_settings: ApiSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pseudovault.api.auth import ApiRoute

    stray = APIRouter(prefix="/v1/stray", route_class=ApiRoute)

    @stray.get("")
    def open_to_all() -> dict[str, str]:
        return {}

    monkeypatch.setattr("pseudovault.api.app.ROUTERS", (*ROUTERS, stray))
    with pytest.raises(TypeError, match="requires no API key"):
        create_app(api_settings, vault=vault)
    plain = APIRouter(prefix="/v1/plain")

    @plain.get("")
    def plain_route() -> dict[str, str]:
        return {}

    monkeypatch.setattr("pseudovault.api.app.ROUTERS", (*ROUTERS, plain))
    with pytest.raises(TypeError, match="route_class=ApiRoute"):
        create_app(api_settings, vault=vault)


def test_openapi_documents_problems_scopes_and_examples(app: FastAPI) -> None:
    schema = app.openapi()
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    reveal = schema["paths"]["/v1/subjects/{subject_id}/reveal"]["post"]
    assert reveal["x-required-scopes"] == ["subjects:reveal"] and reveal["security"] == [{"apiKey": []}]
    for status in ("401", "403", "404", "413", "415", "422", "429", "500", "503"):
        assert reveal["responses"][status]["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    assert schema["paths"]["/healthz"]["get"]["security"] == []
    assert "examples" in json.dumps(schema["components"]["schemas"]["RevealRequest"])
    assert "HTTPValidationError" not in json.dumps(schema)
    for path, item in schema["paths"].items():
        for operation in item.values():
            assert operation.get("description"), path
