"""Per-key rate limits: the 429 arrives once the burst is spent, at the configured rate after
that, with the right Retry-After, and never for another key. Time is moved, never slept. The
Redis limiter runs against the local Redis (required in CI)."""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_support import ManualTime
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from pseudovault.api.app import create_app, limiter_from_settings
from pseudovault.api.ratelimit import (
    NoRateLimit,
    RedisRateLimiter,
    TokenBucketLimiter,
    retry_after_header,
)
from pseudovault.api.settings import ApiSettings
from pseudovault.vault.errors import UnavailableError
from pseudovault.vault.vault import Vault


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert [retry_after_header(s) for s in (0.0, 0.01, 0.5, 1.0, 1.0000001, 2.5, 59.99)] == [
        "1",
        "1",
        "1",
        "1",
        "2",
        "3",
        "60",
    ]


def test_the_bucket_allows_the_burst_then_the_rate() -> None:
    time = ManualTime()
    limiter = TokenBucketLimiter(rate=2, burst=3, clock=time)
    assert [limiter.acquire("a").allowed for _ in range(4)] == [True, True, True, False]
    refused = limiter.acquire("a")
    assert not refused.allowed and refused.retry_after == pytest.approx(0.5)
    time.advance(0.5)
    assert limiter.acquire("a").allowed and not limiter.acquire("a").allowed
    time.advance(100)  # never more than the burst
    assert [limiter.acquire("a").allowed for _ in range(4)] == [True, True, True, False]
    assert limiter.acquire("b").allowed, "another key has its own bucket"
    assert not limiter.acquire("a", cost=4).allowed and limiter.acquire("a", cost=4).retry_after == math.inf


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(st.floats(0, 2), st.integers(1, 3)), min_size=1, max_size=60))
def test_never_more_than_burst_plus_rate_times_elapsed(steps: list[tuple[float, int]]) -> None:
    time = ManualTime()
    limiter = TokenBucketLimiter(rate=1.5, burst=4, clock=time)
    start, spent = time.now, 0
    for advance, cost in steps:
        time.advance(advance)
        decision = limiter.acquire("k", cost=cost)
        if decision.allowed:
            spent += cost
        else:
            assert decision.retry_after > 0
        assert spent <= 4 + 1.5 * (time.now - start) + 1e-9


def test_invalid_limits_are_refused_at_construction() -> None:
    for rate, burst in ((0, 1), (-1, 1), (math.inf, 1), (1, 0), (1, 1.5)):
        with pytest.raises(ValueError):
            TokenBucketLimiter(rate=rate, burst=burst)  # type: ignore[arg-type]


def test_settings_choose_the_limiter(tmp_path: Any) -> None:
    assert isinstance(limiter_from_settings(ApiSettings(home=tmp_path, rate_limit_per_second=0)), NoRateLimit)
    local = limiter_from_settings(ApiSettings(home=tmp_path, rate_limit_per_second=7, rate_limit_burst=9))
    assert isinstance(local, TokenBucketLimiter) and (local.rate, local.burst) == (7, 9)
    with pytest.raises(ValueError):
        ApiSettings(home=tmp_path, rate_limit_url="http://example.com")  # type: ignore[arg-type]


@pytest.fixture
def strict_client(vault: Vault, api_settings: ApiSettings, limiter_time: ManualTime) -> Iterator[TestClient]:
    limiter = TokenBucketLimiter(rate=0.4, burst=3, clock=limiter_time)
    with TestClient(create_app(api_settings, vault=vault, limiter=limiter)) as client:
        yield client


def test_the_api_answers_429_with_retry_after_and_other_keys_are_unaffected(
    strict_client: TestClient, auth: Callable[..., dict[str, str]], limiter_time: ManualTime
) -> None:
    first, second = auth("subjects:write"), auth("subjects:write")
    assert [strict_client.get("/v1/subjects", headers=first).status_code for _ in range(3)] == [200, 200, 200]
    refused = strict_client.get("/v1/subjects", headers=first)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "3"  # one token at 0.4/s: 2.5 s, rounded up
    assert refused.json()["type"].endswith("/rate_limited")
    assert strict_client.get("/v1/subjects", headers=second).status_code == 200
    limiter_time.advance(2.4)
    assert strict_client.get("/v1/subjects", headers=first).headers["retry-after"] == "1"
    limiter_time.advance(0.1)
    assert strict_client.get("/v1/subjects", headers=first).status_code == 200
    # at the configured rate from then on: one request per 2.5 s, so 4 in 10.5 s
    allowed = 0
    for _ in range(42):
        limiter_time.advance(0.25)
        allowed += strict_client.get("/v1/subjects", headers=first).status_code == 200
    assert allowed == 4
    metrics = strict_client.get("/metrics").text
    assert 'route="/v1/subjects",status="429"' in metrics


def test_unauthenticated_and_forbidden_requests_spend_no_tokens(
    strict_client: TestClient, auth: Callable[..., dict[str, str]]
) -> None:
    headers = auth("subjects:reveal")
    for _ in range(5):
        assert strict_client.get("/v1/subjects", headers=headers).status_code == 403
    for _ in range(5):
        assert strict_client.get("/v1/subjects").status_code == 401


# --- Redis --------------------------------------------------------------------------------




def _redis_limiter(url: str, time: ManualTime, prefix: str, **kwargs: Any) -> RedisRateLimiter:
    return RedisRateLimiter(url, kwargs.pop("rate", 2), kwargs.pop("burst", 3), clock=time, prefix=prefix, **kwargs)


def test_the_redis_limiter_is_one_bucket_shared_by_every_worker(redis_url: str) -> None:
    time = ManualTime()
    prefix = f"pseudovault-test:{secrets.token_hex(4)}:"
    worker_1, worker_2 = _redis_limiter(redis_url, time, prefix), _redis_limiter(redis_url, time, prefix)
    try:
        assert [w.acquire("a").allowed for w in (worker_1, worker_2, worker_1)] == [True, True, True]
        refused = worker_2.acquire("a")
        assert not refused.allowed and refused.retry_after == pytest.approx(0.5)
        assert worker_1.acquire("b").allowed, "another key has its own bucket"
        time.advance(0.5)
        assert worker_2.acquire("a").allowed and not worker_1.acquire("a").allowed
        time.advance(100)
        assert [worker_1.acquire("a").allowed for _ in range(4)] == [True, True, True, False]
    finally:
        import redis

        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()
        worker_1.close()
        worker_2.close()


def test_the_api_with_the_redis_limiter(
    vault: Vault, api_settings: ApiSettings, redis_url: str, auth: Callable[..., dict[str, str]]
) -> None:
    time = ManualTime()
    limiter = _redis_limiter(redis_url, time, f"pseudovault-test:{secrets.token_hex(4)}:", rate=1, burst=2)
    try:
        with TestClient(create_app(api_settings, vault=vault, limiter=limiter)) as client:
            headers = auth("subjects:write")
            assert [client.get("/v1/subjects", headers=headers).status_code for _ in range(3)] == [200, 200, 429]
            time.advance(1)
            assert client.get("/v1/subjects", headers=headers).status_code == 200
    finally:
        limiter.close()


def test_an_unreachable_redis_refuses_with_503(
    vault: Vault, api_settings: ApiSettings, auth: Callable[..., dict[str, str]]
) -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", 1, 2, socket_timeout=0.2)
    with pytest.raises(UnavailableError):
        limiter.acquire("a")
    with TestClient(create_app(api_settings, vault=vault, limiter=limiter)) as client:
        response = client.get("/v1/subjects", headers=auth("subjects:write"))
        assert response.status_code == 503 and response.headers["content-type"] == "application/problem+json"
    limiter.close()


# --- checks are charged per identifier ---------------------------------------------------------


def _ids(kind: str, n: int, start: int = 0) -> list[dict[str, str]]:
    values = {"email": "u{}@example.com", "phone": "+8210{:08d}", "device_id": "device-{:06d}"}
    return [{"kind": kind, "value": values[kind].format(start + i)} for i in range(n)]


@pytest.fixture
def ten_token_client(vault: Vault, api_settings: ApiSettings, limiter_time: ManualTime) -> Iterator[TestClient]:
    limiter = TokenBucketLimiter(rate=1, burst=10, clock=limiter_time)
    with TestClient(create_app(api_settings, vault=vault, limiter=limiter)) as client:
        yield client


def test_a_check_costs_one_token_per_distinct_identifier(
    ten_token_client: TestClient, auth: Callable[..., dict[str, str]]
) -> None:
    headers = auth("checks")
    four = {"identifiers": _ids("email", 2) + _ids("phone", 2)}
    assert [ten_token_client.post("/v1/checks", json=four, headers=headers).status_code for _ in range(2)] == [200, 200]
    # 8 of 10 tokens spent: a check of three identifiers does not fit, one of two does
    assert ten_token_client.post("/v1/checks", json={"identifiers": _ids("email", 3)}, headers=headers).status_code == 429
    repeated = {"identifiers": _ids("email", 1) * 2}  # the same identifier twice is one lookup
    assert ten_token_client.post("/v1/checks", json=repeated, headers=headers).status_code == 200


def test_a_batch_costs_its_distinct_identifiers_when_that_is_more_than_its_signups(
    ten_token_client: TestClient, auth: Callable[..., dict[str, str]]
) -> None:
    headers = auth("checks")
    batch = {"signups": [{"identifiers": _ids("email", 2, start=2 * i) + _ids("phone", 2, start=2 * i)} for i in range(3)]}
    response = ten_token_client.post("/v1/checks/batch", json=batch, headers=headers)
    assert response.status_code == 422  # 12 tokens: more than the bucket ever holds
    [error] = response.json()["errors"]
    assert error["code"] == "batch_over_rate_limit" and error["pointer"] == "#/signups"
    two = {"signups": batch["signups"][:2]}
    assert ten_token_client.post("/v1/checks/batch", json=two, headers=headers).status_code == 200  # 8 tokens
    assert ten_token_client.post("/v1/checks/batch", json=two, headers=headers).status_code == 429


def test_a_signup_holds_a_handful_of_identifiers_of_one_kind(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    headers = auth("checks")
    assert client.post("/v1/checks", json={"identifiers": _ids("email", 4)}, headers=headers).status_code == 200
    single = client.post("/v1/checks", json={"identifiers": _ids("email", 5)}, headers=headers)
    assert single.status_code == 422
    [error] = single.json()["errors"]
    assert error["code"] == "too_many_of_kind" and error["pointer"] == "#/identifiers"
    batch = {"signups": [{"identifiers": _ids("email", 1)}, {"identifiers": _ids("phone", 5)}]}
    refused = client.post("/v1/checks/batch", json=batch, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "#/signups/1/identifiers"
