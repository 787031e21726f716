"""OpenTelemetry over OTLP/HTTP, to a real receiver: with ``PSEUDOVAULT_OTEL_ENDPOINT`` set, the
requests (named by their route templates) and the SQL statements of the stores arrive as spans,
the HTTP server's metrics as metrics, and nothing of what was sent: no identifier, no field
value, no token. Without it, nothing is installed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from pydantic import ValidationError

from pseudovault.api.app import create_app
from pseudovault.api.ratelimit import TokenBucketLimiter
from pseudovault.api.settings import ApiSettings
from pseudovault.vault.vault import Vault

CANARY_EMAIL = "otel.canary.person@example.com"
CANARY_NAME = "Canary Telemetry Person"


class Receiver:
    """An OTLP/HTTP collector that keeps what it is sent, per path."""

    def __init__(self) -> None:
        self.received: dict[str, list[bytes]] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.received.setdefault(self.path, []).append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self) -> list[Any]:
        out = []
        for body in self.received.get("/v1/traces", []):
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    out.extend(scope.spans)
        return out


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    collector = Receiver()
    yield collector
    collector.server.shutdown()


def test_traces_and_metrics_reach_the_collector_without_personal_data(
    vault: Vault, receiver: Receiver, tmp_path: Path
) -> None:
    settings = ApiSettings(home=tmp_path / "home", otel_endpoint=receiver.url, rate_limit_burst=1000)
    app = create_app(settings, vault=vault, limiter=TokenBucketLimiter(1000, 1000))
    _info, secret = vault.apikeys.create("otel", ["subjects:write", "subjects:reveal", "records:write", "checks"])
    token = secret.get_secret_value()
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        assert app.state.telemetry is not None
        created = client.post("/v1/subjects", headers=headers, json={"fields": {"email": CANARY_EMAIL, "name": CANARY_NAME}})
        assert created.status_code == 201
        subject_id = created.json()["subject_id"]
        revealed = client.post(f"/v1/subjects/{subject_id}/reveal", headers=headers, json={"purpose": "ticket T-1"})
        assert revealed.json()["fields"]["name"] == CANARY_NAME
        record = {"identifiers": [{"kind": "email", "value": CANARY_EMAIL}], "category": "fraudulent_transaction",
                  "reason_code": "chargeback_fraud", "reason": CANARY_NAME}
        assert client.post("/v1/records", headers=headers, json=record).status_code == 201
        check = client.post("/v1/checks", headers=headers, json={"identifiers": [{"kind": "email", "value": CANARY_EMAIL}]})
        assert check.json()["decision"] == "deny"
        assert client.post("/v1/checks", headers=headers, json={"identifiers": []}).status_code == 422
        assert client.get("/healthz").status_code == 200
    # the app's shutdown flushed both

    spans = receiver.spans()
    names = {span.name for span in spans}
    assert {"POST /v1/subjects", "POST /v1/subjects/{subject_id}/reveal", "POST /v1/records", "POST /v1/checks"} <= names, names
    assert not [name for name in names if "healthz" in name]
    statements = [span for span in spans if any(a.key == "db.system" or a.key == "db.system.name" for a in span.attributes)]
    assert statements, "no span of the stores' SQL"
    # the check's lookup runs outside SQLAlchemy: a span of its own, inside the request's
    (lookup,) = [span for span in spans if span.name == "pseudovault.checks.lookup"]
    assert [span.name for span in spans if span.span_id == lookup.parent_span_id] == ["POST /v1/checks"]
    attributes = {a.key: a.value for a in lookup.attributes}
    assert attributes["db.system"].string_value == vault.data_engine.dialect.name
    assert "record_identifiers" in attributes["db.statement"].string_value
    assert attributes["pseudovault.check.pseudonyms"].int_value >= 1
    assert vault.checks.lookup_span is None, "the app's shutdown took the lookup spans off"
    assert any(subject_id in str(span.attributes) for span in spans if span.name.startswith("POST /v1/subjects/"))
    everything = b"".join(body for bodies in receiver.received.values() for body in bodies)
    assert receiver.received.get("/v1/metrics"), "no metrics arrived"
    assert b"http.server" in b"".join(receiver.received["/v1/metrics"])
    for secret_text in (CANARY_EMAIL, CANARY_NAME, CANARY_EMAIL.split("@")[0], token, token[15:], "Bearer"):
        assert secret_text.encode() not in everything, secret_text


def test_without_an_endpoint_nothing_is_installed(vault: Vault, tmp_path: Path) -> None:
    app = create_app(ApiSettings(home=tmp_path / "home"), vault=vault, limiter=TokenBucketLimiter(1000, 1000))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert app.state.telemetry is None
        assert not getattr(app, "_is_instrumented_by_opentelemetry", False)


@pytest.mark.parametrize("endpoint", ["ftp://collector:4318", "collector:4318", "http://collector:4318?x=1", ""])
def test_an_endpoint_must_be_an_http_url(endpoint: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        ApiSettings(home=tmp_path / "home", otel_endpoint=endpoint)
