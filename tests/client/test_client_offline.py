"""The client without a server: the synchronous client is exactly the asynchronous one unasynced,
retries never do a thing twice, problem answers become typed errors, reprs hold no PII or token,
and receipts verify offline."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_support import CLIENT
from pseudovault_client import AsyncClient, Client, RetryPolicy, models, verify_receipt
from pseudovault_client.errors import (
    Conflict,
    Held,
    NotFound,
    RateLimited,
    TransportError,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)

from pseudovault.keys.signing import SigningKey
from pseudovault.vault.retention.receipts import sign_receipt

CANARY = "canary.pii@example.com"
FAST = RetryPolicy(retries=3, backoff=0.0)


def _regenerate_module() -> Any:
    spec = importlib.util.spec_from_file_location("regenerate", CLIENT / "tools" / "regenerate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sync_client_is_the_async_client_unasynced() -> None:
    source = (CLIENT / "pseudovault_client" / "_async_client.py").read_text(encoding="utf-8")
    committed = (CLIENT / "pseudovault_client" / "_sync_client.py").read_text(encoding="utf-8")
    assert _regenerate_module().sync_source(source) == committed, "run clients/python/tools/regenerate.py"


def _problem(status: int, code: str, **extra: Any) -> httpx.Response:
    body = {"type": f"https://pseudovault.dev/problems/{code}", "title": "t", "status": status, "detail": code,
            "instance": "urn:pseudovault:request:r1", "request_id": "r1", **extra}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


RECORD = {
    "record_id": "6f1c2a9e-3b7d-4e8a-9c41-5d2f0b8e7a13", "domain": "default", "category": "fraudulent_transaction",
    "reason_code": "chargeback_fraud", "severity": "high", "status": "active", "status_reason_code": None,
    "source": "api", "external_ref": None, "subject_id": None, "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z", "expires_at": None, "review_at": None, "text_fields": [],
    "identifier_kinds": {"email": 1}, "identifiers": 1, "lookup_versions": [1],
}


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> Client:
    http = httpx.Client(base_url="https://vault.test", transport=httpx.MockTransport(handler))
    return Client("https://vault.test", token="pvk_aaaaaaaaaa_" + "s" * 43, http=http, retry=FAST)


def _record_create() -> dict[str, Any]:
    return {"identifiers": [{"kind": "email", "value": CANARY}], "category": "fraudulent_transaction",
            "reason_code": "chargeback_fraud"}


def test_a_create_is_retried_with_the_same_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return _problem(503, "unavailable")
        if len(seen) == 2:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(201, json=RECORD)

    with _client(handler) as client:
        record = client.records.create(_record_create())
    assert record.record_id == RECORD["record_id"] and len(seen) == 3
    keys = {request.headers["Idempotency-Key"] for request in seen}
    assert len(keys) == 1 and len(keys.pop()) == 32
    assert all(request.headers["Authorization"].startswith("Bearer pvk_") for request in seen)
    assert CANARY not in str(seen[0].url)  # identifiers travel in bodies, never URLs


def test_what_could_be_done_twice_is_not_retried_after_it_was_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/reveal"):
            return _problem(503, "unavailable")
        raise httpx.ReadTimeout("slow", request=request)

    with _client(handler) as client:
        with pytest.raises(Unavailable) as refused:
            client.records.reveal("6f1c2a9e-3b7d-4e8a-9c41-5d2f0b8e7a13", purpose="case 4411")
        assert refused.value.request_id == "r1" and refused.value.code == "unavailable"
        assert len(seen) == 1
        with pytest.raises(TransportError):
            client.keys.rotate()
        assert len(seen) == 2
        with pytest.raises(TransportError):  # a read is retried: four attempts in all
            client.keys.status()
        assert len(seen) == 6


def test_a_connection_never_made_and_a_rate_limit_are_retried_for_anything() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            raise httpx.ConnectError("refused", request=request)
        if len(seen) == 2:
            return httpx.Response(429, json={"type": "https://pseudovault.dev/problems/rate_limited", "status": 429},
                                  headers={"Retry-After": "0"})
        return httpx.Response(200, json={"subject_id": "s", "revealed_at": "2026-01-01T00:00:00Z", "fields": {"email": CANARY}})

    with _client(handler) as client:
        revealed = client.subjects.reveal("0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10", purpose="ticket 1")
    assert revealed.fields == {"email": CANARY} and len(seen) == 3
    assert CANARY not in repr(revealed) and "***" in repr(revealed)


def test_a_rate_limit_that_lasts_raises_with_retry_after() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429, json={"type": "https://pseudovault.dev/problems/rate_limited", "title": "Too Many Requests",
                       "status": 429, "request_id": "r9"}, headers={"Retry-After": "0"})

    with _client(handler) as client, pytest.raises(RateLimited) as limited:
        client.checks.check({"email": CANARY})
    assert limited.value.retry_after == 0.0 and limited.value.status == 429
    assert CANARY not in str(limited.value)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (_problem(401, "unauthorized"), Unauthorized),
        (_problem(404, "not_found"), NotFound),
        (_problem(409, "conflict"), Conflict),
        (_problem(409, "held", hold_id="h-1"), Held),
        (_problem(422, "invalid_input", errors=[{"pointer": "#/fields/email", "detail": "too long"}]), ValidationFailed),
    ],
)
def test_problem_answers_are_typed_errors(answer: httpx.Response, error: type[Exception]) -> None:
    with _client(lambda _request: answer) as client, pytest.raises(error) as raised:
        client.subjects.shred("0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10")
    if error is Held:
        assert raised.value.hold_id == "h-1"  # type: ignore[attr-defined]
    if error is ValidationFailed:
        assert raised.value.errors == [{"pointer": "#/fields/email", "detail": "too long"}]  # type: ignore[attr-defined]
        assert "#/fields/email too long" in str(raised.value)


def test_a_bad_body_is_refused_before_anything_is_sent() -> None:
    seen: list[httpx.Request] = []
    with _client(lambda request: seen.append(request) or httpx.Response(500)) as client:
        with pytest.raises(ValueError):
            client.subjects.create({"fields": {"Not A Name": "x"}})
        with pytest.raises(ValueError):
            client.checks.check([{"kind": "email", "value": ""}])
    assert seen == []


def test_reprs_hold_no_personal_data_and_no_token() -> None:
    token = "pvk_aaaaaaaaaa_" + "S" * 43
    client = Client("https://vault.test", token=token)
    assert token not in repr(client) and "S" * 43 not in repr(vars(client))
    client.close()
    created = models.SubjectCreate(fields={"email": CANARY})
    identifier = models.Identifier(kind="email", value=CANARY)
    record = models.RecordCreate.model_validate({**_record_create(), "reason": CANARY, "notes": CANARY})
    issued = models.ApiKeyIssued.model_validate(
        {"key_id": "aaaaaaaaaa", "name": "n", "scopes": ["checks"], "created_at": "2026-01-01T00:00:00Z",
         "last_used_at": None, "expires_at": None, "rotated_at": None, "previous_valid_until": None,
         "revoked_at": None, "active": True, "token": token}
    )
    for shown in (created, identifier, record, issued, models.CheckRequest(identifiers=[identifier])):
        assert CANARY not in repr(shown) and token not in repr(shown) and CANARY not in str(shown), repr(shown)
    assert "kind='email'" in repr(identifier)  # what is not personal data is shown


def test_the_async_client_retries_the_same_way() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return _problem(503, "unavailable")
        return httpx.Response(201, json=RECORD)

    async def run() -> models.RecordOut:
        http = httpx.AsyncClient(base_url="https://vault.test", transport=httpx.MockTransport(handler))
        async with AsyncClient("https://vault.test", token="t", http=http, retry=FAST) as client:
            return await client.records.create(_record_create(), idempotency_key="ticket-7")

    assert asyncio.run(run()).status == "active"
    assert [request.headers["Idempotency-Key"] for request in seen] == ["ticket-7", "ticket-7"]


def _receipt(key: SigningKey) -> bytes:
    body = {"type": "pseudovault.erasure_receipt", "version": 1, "request_id": "ticket-1",
            "subject_id": "0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10", "completed_at": "2026-01-01T00:00:00.000000Z"}
    return sign_receipt(body, key)


def test_a_receipt_verifies_offline_and_any_change_fails(tmp_path: Path) -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    document = _receipt(key)
    checked = verify_receipt(document)
    assert checked.ok and checked.key_id == key.key_id and checked.body and checked.body["request_id"] == "ticket-1"
    assert verify_receipt(document, pin=key.public_key_bytes()).pinned
    assert verify_receipt(document, pin=key.public_key_bytes().hex()).ok
    assert verify_receipt(document, pin=other.public_key_bytes()).reason == "signed with a public key other than the pinned one"
    spaced = document.replace(b'","', b'", "', 1)
    assert verify_receipt(spaced).reason == "not in canonical form: the file was altered"
    parsed = json.loads(document)
    parsed["receipt"]["request_id"] = "ticket-2"
    forged = json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    assert verify_receipt(forged).reason == "the signature does not verify"
    assert verify_receipt(b"\xff").reason == "not a JSON document"


def test_the_client_builds_as_a_distribution_of_its_own(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys
    import zipfile

    source = tmp_path / "source"  # a copy: the build leaves nothing in the checkout
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--disable-pip-version-check",
         "--wheel-dir", str(tmp_path), str(source)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = tmp_path.glob("pseudovault_client-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ("__init__", "models", "errors", "receipts", "_base", "_model", "_async_client", "_sync_client"):
        assert f"pseudovault_client/{module}.py" in names
    assert "pseudovault_client/py.typed" in names
    assert not [name for name in names if name.startswith(("pseudovault/", "tools/"))]
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    requires = sorted(line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:"))
    assert requires == ["cryptography>=42; extra == \"verify\"", "httpx>=0.27", "pydantic>=2.6"], requires


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), ("-5", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("soon", None), ("", None)],
)
def test_retry_after_in_seconds_or_as_a_date(header: str, seconds: float | None) -> None:
    from pseudovault_client._base import retry_after

    assert retry_after(httpx.Response(429, headers={"Retry-After": header})) == seconds


@pytest.mark.parametrize("url", ["http://vault.internal:8000", "http://10.0.0.5", "ftp://vault.example"])
def test_a_token_is_never_sent_in_the_clear_across_a_network(url: str) -> None:
    with pytest.raises(ValueError, match="refusing to send the API token"):
        Client(url, token="pvk_aaaaaaaaaa_" + "s" * 43)
    with pytest.raises(ValueError, match="refusing to send the API token"):
        AsyncClient(url, token="pvk_aaaaaaaaaa_" + "s" * 43)
    Client(url, token="pvk_aaaaaaaaaa_" + "s" * 43, insecure_http=True).close()  # the caller's explicit choice
    Client(url).close()  # no token, nothing to leak (health and readiness probes)


@pytest.mark.parametrize("url", ["https://vault.example", "http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"])
def test_https_and_this_machine_take_a_token(url: str) -> None:
    Client(url, token="pvk_aaaaaaaaaa_" + "s" * 43).close()
