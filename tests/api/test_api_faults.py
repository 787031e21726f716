"""Faults the API answers without a 500: a limiter that is down, a lock held too long, a database
connection that is gone, and error bodies that quote nothing the caller chose."""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import URL, make_url

from pseudovault.api.app import create_app
from pseudovault.api.errors import install_error_handlers
from pseudovault.api.ratelimit import RedisRateLimiter
from pseudovault.api.settings import ApiSettings
from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.store.db import DbTimeouts
from pseudovault.vault.vault import Vault

Headers = Callable[..., dict[str, str]]


# --- readiness names the rate limiter ----------------------------------------------------------


def test_readiness_fails_while_the_rate_limiters_redis_is_unreachable(
    vault: Vault, api_settings: ApiSettings, redis_url: str
) -> None:
    up = RedisRateLimiter(redis_url, 100, 100, prefix=f"pseudovault-test:{secrets.token_hex(4)}:")
    with TestClient(create_app(api_settings, vault=vault, limiter=up)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["rate_limiter"] == "ok"
    down = RedisRateLimiter("redis://127.0.0.1:1/0", 100, 100, socket_timeout=0.2)
    with TestClient(create_app(api_settings, vault=vault, limiter=down)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.headers["Retry-After"]
    assert ready.headers["content-type"] == "application/problem+json"
    assert ready.json()["detail"].startswith("the rate limiter cannot be reached")


# --- error pointers quote no key the caller chose ------------------------------------------------


def test_a_validation_error_points_at_a_callers_key_without_quoting_it(client: TestClient, auth: Headers) -> None:
    chosen = "zq_" + secrets.token_hex(6)  # a key of the safe shape that the API does not declare
    response = client.post("/v1/subjects", json={"fields": {chosen: 12345}}, headers=auth("subjects:write"))
    assert response.status_code == 422
    assert chosen not in response.text
    assert {error["pointer"] for error in response.json()["errors"]} == {"#/fields/*"}


class _Things(BaseModel):
    fields: dict[str, str]


def test_a_domain_error_about_a_callers_field_does_not_quote_it() -> None:
    chosen = "zq_" + secrets.token_hex(6)

    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things")
    def things(body: _Things) -> None:  # the domain refuses one of the caller's fields
        raise InvalidInputError(f"fields.{next(iter(body.fields))}", "must be valid Unicode text")

    with TestClient(app) as client:
        response = client.post("/things", json={"fields": {chosen: "x"}})
    assert response.status_code == 422
    assert chosen not in response.text
    [error] = response.json()["errors"]
    assert error["pointer"] == "#/fields/*" and error["detail"] == "must be valid Unicode text"


# --- PostgreSQL: a lock held too long, connections terminated ------------------------------------


@pytest.fixture
def pg_vault(postgres_urls: object, clock: FrozenClock, provider: FakeKmsProvider) -> Iterator[Vault]:
    with Vault.create(
        provider,
        postgres_urls.data,  # type: ignore[attr-defined]
        postgres_urls.keys,  # type: ignore[attr-defined]
        clock=clock,
        db_timeouts=DbTimeouts(statement_ms=5_000, lock_ms=300),
    ) as vault:
        yield vault


def _connect(url: URL) -> psycopg.Connection:
    return psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True)


def _admin() -> psycopg.Connection:
    """A connection to the suite's own database, beside the test's data store."""
    return _connect(make_url(os.environ["PSEUDOVAULT_TEST_POSTGRES_URL"]))


def _terminate_backends(vault: Vault) -> int:
    database = vault.data_engine.url.database
    with _admin() as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return len(rows)


def test_a_write_blocked_by_a_lock_is_503_after_the_lock_timeout_and_writes_nothing(
    pg_vault: Vault, api_settings: ApiSettings
) -> None:
    _info, token = pg_vault.apikeys.create("faults", ["subjects:write"])
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
    with TestClient(create_app(api_settings, vault=pg_vault)) as client, _connect(pg_vault.data_engine.url) as locker:
        locker.autocommit = False
        locker.execute("LOCK TABLE subjects IN ACCESS EXCLUSIVE MODE")
        release = threading.Timer(8.0, locker.rollback)  # without a lock timeout the write waits for this
        release.start()
        started = time.monotonic()
        response = client.post("/v1/subjects", json={"fields": {"email": "someone@example.com"}}, headers=headers)
        waited = time.monotonic() - started
        release.cancel()
        locker.rollback()
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.json()["detail"] == "a store cannot be reached"
    assert waited < 5.0, "the lock timeout, not the lock holder, ended the wait"
    assert pg_vault.subjects.count() == 0
    with TestClient(create_app(api_settings, vault=pg_vault)) as client:
        again = client.post("/v1/subjects", json={"fields": {"email": "someone@example.com"}}, headers=headers)
    assert again.status_code == 201


def test_checks_reconnect_after_every_connection_was_terminated(pg_vault: Vault, api_settings: ApiSettings) -> None:
    pg_vault.records.create([("email", "banned@example.com")], category="fraudulent_transaction", reason_code="fraud")
    _info, token = pg_vault.apikeys.create("faults", ["checks"])
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
    body = {"identifiers": [{"kind": "email", "value": "banned@example.com"}]}
    with TestClient(create_app(api_settings, vault=pg_vault)) as client:
        # several checks at once: the check service keeps several connections
        barrier = threading.Barrier(6)

        def check() -> int:
            barrier.wait()
            return client.post("/v1/checks", json=body, headers=headers).status_code

        results: list[int] = []
        threads = [threading.Thread(target=lambda: results.append(check())) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [200] * 6
        assert _terminate_backends(pg_vault) >= 2
        after = [client.post("/v1/checks", json=body, headers=headers) for _ in range(6)]
    assert [r.status_code for r in after] == [200] * 6
    assert {r.json()["decision"] for r in after} == {"deny"}


def test_a_store_that_stays_down_is_503_for_a_check_never_500(pg_vault: Vault, api_settings: ApiSettings) -> None:
    pg_vault.records.create([("email", "banned@example.com")], category="fraudulent_transaction", reason_code="fraud")
    _info, token = pg_vault.apikeys.create("faults", ["checks"])
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
    body = {"identifiers": [{"kind": "email", "value": "banned@example.com"}]}
    with TestClient(create_app(api_settings, vault=pg_vault)) as client:
        assert client.post("/v1/checks", json=body, headers=headers).status_code == 200
        database = pg_vault.data_engine.url.database
        with _admin() as admin:
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            try:
                _terminate_backends(pg_vault)
                down = client.post("/v1/checks", json=body, headers=headers)
            finally:
                admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        assert down.status_code == 503 and down.headers["Retry-After"]
        assert down.headers["content-type"] == "application/problem+json"
        assert client.post("/v1/checks", json=body, headers=headers).status_code == 200


# --- a client that hangs up --------------------------------------------------------------------


def test_a_client_that_hangs_up_mid_body_is_recorded_as_499_not_as_a_server_error(
    app: FastAPI, auth: Headers, caplog: pytest.LogCaptureFixture
) -> None:
    token = auth("subjects:write")["Authorization"].encode()
    incoming = [{"type": "http.request", "body": b'{"fields": {"em', "more_body": True}, {"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/subjects",
        "raw_path": b"/v1/subjects",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"authorization", token), (b"content-type", b"application/json"), (b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    with TestClient(app) as client, caplog.at_level(logging.INFO):
        anyio.run(app, scope, receive, send)
        metrics = client.get("/metrics").text
    assert not [m for m in sent if m["type"] == "http.response.start"], "nobody is left to answer"
    assert 'route="/v1/subjects",status="499"' in metrics
    assert 'route="/v1/subjects",status="500"' not in metrics and 'route="/v1/subjects",status="400"' not in metrics
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# --- idempotent creates --------------------------------------------------------------------------


def test_a_create_sent_again_with_its_idempotency_key_creates_nothing_new(
    client: TestClient, vault: Vault, auth: Headers
) -> None:
    headers = {**auth("subjects:write"), "Idempotency-Key": "9b2f6c1e-retry-0001"}
    body = {"fields": {"email": "someone@example.com"}}
    first = client.post("/v1/subjects", json=body, headers=headers)
    again = client.post("/v1/subjects", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert vault.subjects.count() == 1
    assert len(vault.audit.query(action="subject.create")) == 1
    other = client.post("/v1/subjects", json={"fields": {"email": "other@example.com"}}, headers=headers)
    assert other.status_code == 422 and other.json()["errors"][0]["pointer"] == "#/Idempotency-Key"
    assert "someone" not in other.text and "other@" not in other.text
    without = client.post("/v1/subjects", json=body, headers=auth("subjects:write"))
    assert without.status_code == 201 and without.json() != first.json()  # no key: a new subject
    assert vault.subjects.count() == 2


def test_an_idempotency_key_is_per_api_key_and_with_categories_too(
    client: TestClient, vault: Vault, auth: Headers
) -> None:
    body = {"fields": {"email": "someone@example.com"}, "categories": {"member_data": None}}
    one = {**auth("subjects:write"), "Idempotency-Key": "shared-key-0001"}
    two = {**auth("subjects:write"), "Idempotency-Key": "shared-key-0001"}
    a1, a2 = (client.post("/v1/subjects", json=body, headers=one) for _ in range(2))
    b1 = client.post("/v1/subjects", json=body, headers=two)
    assert a1.json() == a2.json() != b1.json()
    assert vault.subjects.count() == 2
    assert vault.retention.categories_of(a1.json()["subject_id"]) == {"member_data": ["*"]}


def test_two_requests_with_one_key_at_the_same_moment_create_one_subject(
    client: TestClient, vault: Vault, auth: Headers
) -> None:
    headers = {**auth("subjects:write"), "Idempotency-Key": "concurrent-0001"}
    body = {"fields": {"email": "someone@example.com"}}
    barrier = threading.Barrier(4)
    answers: list[Any] = []

    def create() -> None:
        barrier.wait()
        answers.append(client.post("/v1/subjects", json=body, headers=headers))

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {r.status_code for r in answers} == {201}
    assert len({r.json()["subject_id"] for r in answers}) == 1
    assert vault.subjects.count() == 1


def test_a_malformed_idempotency_key_is_refused(client: TestClient, auth: Headers) -> None:
    headers = {**auth("subjects:write"), "Idempotency-Key": "short"}
    response = client.post("/v1/subjects", json={"fields": {"email": "x@example.com"}}, headers=headers)
    assert response.status_code == 422


def test_a_record_create_sent_again_with_its_idempotency_key_creates_nothing_new(
    client: TestClient, vault: Vault, auth: Headers
) -> None:
    headers = {**auth("records:write"), "Idempotency-Key": "record-retry-0001"}
    body = {
        "identifiers": [{"kind": "email", "value": "banned@example.com"}],
        "category": "fraudulent_transaction",
        "reason_code": "chargeback",
    }
    first = client.post("/v1/records", json=body, headers=headers)
    again = client.post("/v1/records", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["record_id"] == again.json()["record_id"]
    assert vault.records.count() == 1
    assert len(vault.audit.query(action="record.create")) == 1
    other = client.post("/v1/records", json={**body, "reason_code": "fraud"}, headers=headers)
    assert other.status_code == 422


_CREATES = [
    # path, scope, body (subject_id filled in), id field, audit action
    ("/v1/holds", "admin", {"target_kind": "subject", "reason_code": "litigation", "reference": "case-77"}, "hold_id",
     "hold.place"),
    ("/v1/rights/corrections", "subjects:write", {}, "request_id", "rights.request_open"),
    ("/v1/rights/restrictions", "subjects:write", {}, "request_id", "rights.request_open"),
    ("/v1/rights/provisions", "subjects:write",
     {"recipient": "Courier Co", "items": ["*"], "purpose": "delivery", "legal_basis": "contract", "retention": "P1Y"},
     "provision_id", "rights.provision"),
    ("/v1/rights/requests", "admin", {"kind": "access"}, "request_id", "rights.request_open"),
]


@pytest.mark.parametrize(("path", "scope", "extra", "id_field", "action"), _CREATES, ids=[c[0] for c in _CREATES])
def test_every_create_takes_an_idempotency_key(
    client: TestClient, vault: Vault, auth: Headers, path: str, scope: str, extra: dict[str, Any], id_field: str,
    action: str,
) -> None:
    subject_id = vault.subjects.create({"email": "someone@example.com"})
    target = "target_id" if path == "/v1/holds" else "subject_id"
    body = {**extra, target: subject_id}
    headers = {**auth(scope), "Idempotency-Key": f"retry-{secrets.token_hex(6)}"}
    first = client.post(path, json=body, headers=headers)
    again = client.post(path, json=body, headers=headers)
    assert first.status_code == again.status_code == 201, first.text
    assert first.json()[id_field] == again.json()[id_field]
    assert len(vault.audit.query(action=action)) == 1
    changed = {**body, "reference" if path != "/v1/rights/provisions" else "recipient": "another-ref"}
    other = client.post(path, json=changed, headers=headers)
    assert other.status_code == 422 and other.json()["errors"][0]["pointer"] == "#/Idempotency-Key"
    fresh = client.post(path, json=body, headers=auth(scope))  # no key: a new one
    assert fresh.status_code == 201 and fresh.json()[id_field] != first.json()[id_field]
    assert len(vault.audit.query(action=action)) == 2
