"""Fixtures of the API tests: an app over the suite's ``vault`` (SQLite and PostgreSQL), a test
client, API keys of any scopes, and a manual clock for the rate limiter.

Every test that builds the app also proves, when it ends, that the canary PII reached no audit
row (the suite-wide log canary of tests/conftest.py covers log records).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_support import ManualTime
from canary import CANARY_PII
from sqlalchemy import text

warnings.filterwarnings("ignore", message=".*httpx.*starlette.testclient.*")
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pseudovault.api.app import create_app
from pseudovault.api.ratelimit import TokenBucketLimiter
from pseudovault.api.settings import ApiSettings
from pseudovault.vault.apikeys import SCOPES
from pseudovault.vault.vault import Vault

__all__ = ["KeyFactory", "audit_text"]

KeyFactory = Callable[..., str]


def audit_text(vault: Vault) -> str:
    """Every column of every audit row and checkpoint, as text."""
    parts = []
    with vault.data_engine.connect() as connection:
        for table in ("audit_entries", "audit_checkpoints", "audit_head"):
            for row in connection.execute(text(f"SELECT * FROM {table}")):
                parts.append(json.dumps([str(v) if not isinstance(v, bytes) else v.hex() for v in row]))
    return "\n".join(parts)


@pytest.fixture(autouse=True)
def _quiet_test_client() -> Iterator[None]:
    """The test client (httpx) logs every URL it requests, and some tests put the canary in a
    URL on purpose: that is the client's log, not the server's, so it is kept out of the canary
    check. The server's own logs stay at DEBUG."""
    client_log = logging.getLogger("httpx")
    previous = client_log.level
    client_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        client_log.setLevel(previous)


@pytest.fixture
def api_settings(tmp_path: Any) -> ApiSettings:
    # a generous rate limit: the rate limit tests build their own limiter
    return ApiSettings(
        home=tmp_path / "home", max_body_bytes=64 * 1024, rate_limit_per_second=1000, rate_limit_burst=10_000
    )


@pytest.fixture
def limiter_time() -> ManualTime:
    return ManualTime()


@pytest.fixture
def limiter(api_settings: ApiSettings, limiter_time: ManualTime) -> TokenBucketLimiter:
    return TokenBucketLimiter(api_settings.rate_limit_per_second, api_settings.rate_limit_burst, clock=limiter_time)


@pytest.fixture
def app(vault: Vault, api_settings: ApiSettings, limiter: TokenBucketLimiter) -> Iterator[FastAPI]:
    yield create_app(api_settings, vault=vault, limiter=limiter)
    assert CANARY_PII not in audit_text(vault), "canary PII reached the audit log"


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=True) as test_client:
        yield test_client


@pytest.fixture
def make_key(vault: Vault) -> KeyFactory:
    """``make_key("subjects:write", ...)`` -> a token holding those scopes."""

    def make(*scopes: str, name: str = "test") -> str:
        _info, token = vault.apikeys.create(name, scopes)
        return token.get_secret_value()

    return make


@pytest.fixture
def auth(make_key: KeyFactory) -> Callable[..., dict[str, str]]:
    """``auth("admin")`` -> headers with a fresh key holding those scopes."""

    def headers(*scopes: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_key(*scopes)}"}

    return headers


@pytest.fixture
def all_scopes(auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth(*SCOPES)

