"""Ban check endpoints, a class per endpoint: anonymous (401), missing scope (403), valid; hits
and misses alike in shape and status; invalid identifiers answered without their value; batches
equal to singles, audited as counts; the rate limit on the oracle. (A check names no resource in
its path, so there is no 404: an unknown domain simply has no records.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from api_support import ManualTime
from canary import CANARY_PII
from fastapi.testclient import TestClient

from pseudovault.api.app import create_app
from pseudovault.api.ratelimit import TokenBucketLimiter
from pseudovault.api.settings import ApiSettings
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.vault import Vault

Auth = Callable[..., dict[str, str]]

BANNED = [("email", "banned.person@example.com"), ("phone", "010-1234-5678")]


def _ban(vault: Vault, identifiers: list[tuple[str, str]] | None = None, **options: Any) -> str:
    options.setdefault("category", "fraudulent_transaction")
    options.setdefault("reason_code", "chargeback")
    return vault.records.create(identifiers or BANNED, **options)


def _body(*pairs: tuple[str, str], domain: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"identifiers": [{"kind": k, "value": v} for k, v in pairs]}
    if domain is not None:
        body["domain"] = domain
    return body


def _shape(value: Any) -> Any:
    """The JSON key structure of ``value`` (keys and types, not values; a list by its first item)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return ["list"]
    return type(value).__name__


def _assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert CANARY_PII not in response.text
    return dict(response.json())


def _decisions_metric(client: TestClient, decision: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'pseudovault_check_decisions_total{{decision="{decision}"}}'):
            return float(line.split()[-1])
    return 0.0


class TestCheck:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth) -> None:
        _assert_problem(client.post("/v1/checks", json=_body(("email", CANARY_PII))), 401)
        for scope in ("records:read", "records:write", "subjects:reveal", "admin"):
            _assert_problem(client.post("/v1/checks", json=_body(("email", CANARY_PII)), headers=auth(scope)), 403)

    def test_hit_and_miss_have_the_same_shape_and_status(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        record_id = _ban(vault)
        headers = auth("checks")
        hit = client.post("/v1/checks", json=_body(("email", "Banned.Person@EXAMPLE.com"), ("ip", "192.0.2.1")), headers=headers)
        miss = client.post("/v1/checks", json=_body(("email", "someone.else@example.com"), ("ip", "192.0.2.1")), headers=headers)
        assert hit.status_code == miss.status_code == 200
        assert hit.headers["content-type"] == miss.headers["content-type"] == "application/json"
        assert _shape(hit.json()) == _shape(miss.json())
        assert hit.json() == {
            "decision": "deny",
            "matches": [
                {
                    "record_id": record_id,
                    "category": "fraudulent_transaction",
                    "reason_code": "chargeback",
                    "severity": "high",
                    "status": "active",
                    "matched_kinds": ["email"],
                    "match": "exact",
                }
            ],
            "checked_kinds": ["email", "ip"],
        }
        assert miss.json() == {"decision": "allow", "matches": [], "checked_kinds": ["email", "ip"]}
        assert "banned.person" not in hit.text and "example.com" not in hit.text

    def test_a_phone_in_another_format_matches(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        _ban(vault)
        response = client.post("/v1/checks", json=_body(("phone", "+82 10-1234-5678")), headers=auth("checks"))
        assert response.json()["decision"] == "deny"

    def test_revoked_and_expired_records_do_not_match(
        self, client: TestClient, auth: Auth, vault: Vault, clock: FrozenClock
    ) -> None:
        revoked = _ban(vault, [("email", "revoked@example.com")])
        vault.records.revoke(revoked, reason_code="false_positive")
        _ban(vault, [("email", "expiring@example.com")], expires_at=clock.now() + timedelta(days=1))
        headers = auth("checks")
        assert client.post("/v1/checks", json=_body(("email", "expiring@example.com")), headers=headers).json()[
            "decision"
        ] == "deny"
        clock.advance(timedelta(days=2))
        for email in ("revoked@example.com", "expiring@example.com"):
            response = client.post("/v1/checks", json=_body(("email", email)), headers=headers)
            assert response.status_code == 200 and response.json()["matches"] == []

    def test_domains_are_separate(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        _ban(vault, [("email", "tenant@example.com")], domain="tenant-a")
        headers = auth("checks")
        assert client.post("/v1/checks", json=_body(("email", "tenant@example.com")), headers=headers).json()[
            "decision"
        ] == "allow"
        assert client.post(
            "/v1/checks", json=_body(("email", "tenant@example.com"), domain="tenant-a"), headers=headers
        ).json()["decision"] == "deny"

    def test_invalid_identifier_names_kind_and_index_never_the_value(
        self, client: TestClient, auth: Auth, vault: Vault
    ) -> None:
        headers = auth("checks")
        response = client.post("/v1/checks", json=_body(("email", "ok@example.com"), ("phone", CANARY_PII)), headers=headers)
        problem = _assert_problem(response, 422)
        [error] = problem["errors"]
        assert error["pointer"] == "#/identifiers/1/value" and "phone" in error["detail"]
        for body in (
            _body(("email", CANARY_PII + "@@")),
            _body(("ip", CANARY_PII)),
            {"identifiers": [{"kind": CANARY_PII, "value": "x"}]},
            {"identifiers": [{"kind": "email", "value": CANARY_PII, "extra": CANARY_PII}]},
            {"identifiers": []},
            {"identifiers": [{"kind": "email", "value": "ok@example.com"}], "domain": CANARY_PII},
        ):
            _assert_problem(client.post("/v1/checks", json=body, headers=headers), 422)

    def test_counted_in_metrics_and_not_audited(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        _ban(vault)
        headers = auth("checks")
        entries = len(vault.audit.query(limit=1000))
        before = _decisions_metric(client, "deny"), _decisions_metric(client, "allow")
        client.post("/v1/checks", json=_body(("email", "banned.person@example.com")), headers=headers)
        client.post("/v1/checks", json=_body(("email", "nobody@example.com")), headers=headers)
        client.post("/v1/checks", json=_body(("email", "nobody2@example.com")), headers=headers)
        assert (_decisions_metric(client, "deny"), _decisions_metric(client, "allow")) == (before[0] + 1, before[1] + 2)
        assert len(vault.audit.query(limit=1000)) == entries


class TestCheckBatch:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth) -> None:
        body = {"signups": [_body(("email", CANARY_PII))]}
        _assert_problem(client.post("/v1/checks/batch", json=body), 401)
        for scope in ("records:read", "records:write", "erasure", "admin"):
            _assert_problem(client.post("/v1/checks/batch", json=body, headers=auth(scope)), 403)

    def test_batch_equals_singles_and_is_audited_as_counts(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        _ban(vault)
        _ban(vault, [("ip", "198.51.100.7")], severity="medium", reason_code="abuse")
        _ban(vault, [("email", "paypal@example.com")])
        signups = [
            _body(("email", "banned.person@example.com")),
            _body(("email", "fresh@example.com"), ("phone", "+82 10 9999 0000")),
            _body(("ip", "198.51.100.7"), ("phone", "01012345678")),
            _body(("email", "pаypal@example.com")),  # a Cyrillic "а": a look-alike
            _body(("device_id", "dev-42")),
        ]
        headers = auth("checks")
        batch = client.post("/v1/checks/batch", json={"signups": signups}, headers=headers)
        assert batch.status_code == 200
        singles = [client.post("/v1/checks", json=signup, headers=headers).json() for signup in signups]
        assert batch.json() == {"decisions": singles}
        assert [d["decision"] for d in singles] == ["deny", "allow", "deny", "review", "allow"]
        entry = vault.audit.query(action="check.batch", limit=10)[-1]
        assert (entry.actor_kind, entry.actor_id) == ("api_key", headers["Authorization"].split("_")[1])
        assert entry.targets == ()
        assert entry.detail == {"signups": 5, "identifiers": 7, "allow": 2, "review": 1, "deny": 2}

    def test_invalid_identifier_names_signup_item_and_kind(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        signups = [_body(("email", "a@example.com")), _body(("email", "b@example.com"), ("phone", CANARY_PII))]
        problem = _assert_problem(client.post("/v1/checks/batch", json={"signups": signups}, headers=auth("checks")), 422)
        [error] = problem["errors"]
        assert error["pointer"] == "#/signups/1/identifiers/1/value" and "phone" in error["detail"]
        assert vault.audit.query(action="check.batch", limit=10) == []

    def test_limits(self, vault: Vault, api_settings: ApiSettings, make_key: Callable[..., str]) -> None:
        settings = api_settings.model_copy(update={"check_batch_max": 3, "check_batch_max_ids": 4})
        headers = {"Authorization": f"Bearer {make_key('checks')}"}
        with TestClient(create_app(settings, vault=vault)) as client:
            four = {"signups": [_body(("device_id", f"d{i}")) for i in range(4)]}
            problem = _assert_problem(client.post("/v1/checks/batch", json=four, headers=headers), 422)
            assert problem["errors"][0]["pointer"] == "#/signups"
            many_ids = {"signups": [_body(*[("device_id", f"d{i}{j}") for j in range(3)]) for i in range(2)]}
            _assert_problem(client.post("/v1/checks/batch", json=many_ids, headers=headers), 422)
            ok = {"signups": [_body(("device_id", "d1"), ("device_id", "d2")), _body(("device_id", "d3"))]}
            assert client.post("/v1/checks/batch", json=ok, headers=headers).status_code == 200


class TestCheckRateLimit:
    def _client(self, vault: Vault, api_settings: ApiSettings, time: ManualTime, burst: int) -> TestClient:
        limiter = TokenBucketLimiter(rate=2, burst=burst, clock=time)
        return TestClient(create_app(api_settings, vault=vault, limiter=limiter))

    def test_429_with_retry_after_after_the_burst_and_other_keys_unaffected(
        self, vault: Vault, api_settings: ApiSettings, make_key: Callable[..., str]
    ) -> None:
        time = ManualTime()
        one, other = ({"Authorization": f"Bearer {make_key('checks')}"} for _ in range(2))
        body = _body(("email", "someone@example.com"))
        with self._client(vault, api_settings, time, burst=3) as client:
            assert [client.post("/v1/checks", json=body, headers=one).status_code for _ in range(3)] == [200] * 3
            refused = client.post("/v1/checks", json=body, headers=one)
            _assert_problem(refused, 429)
            assert refused.headers["retry-after"] == "1"
            assert client.post("/v1/checks", json=body, headers=other).status_code == 200
            time.advance(0.5)  # rate 2/s: one token back
            assert client.post("/v1/checks", json=body, headers=one).status_code == 200
            assert client.post("/v1/checks", json=body, headers=one).status_code == 429

    def test_a_batch_costs_its_size(self, vault: Vault, api_settings: ApiSettings, make_key: Callable[..., str]) -> None:
        time = ManualTime()
        headers = {"Authorization": f"Bearer {make_key('checks')}"}

        def batch(size: int) -> dict[str, Any]:
            return {"signups": [_body(("device_id", f"d{i}")) for i in range(size)]}

        with self._client(vault, api_settings, time, burst=5) as client:
            assert client.post("/v1/checks/batch", json=batch(3), headers=headers).status_code == 200
            assert client.post("/v1/checks", json=_body(("device_id", "x")), headers=headers).status_code == 200
            refused = client.post("/v1/checks/batch", json=batch(4), headers=headers)
            _assert_problem(refused, 429)
            assert refused.headers["retry-after"] == "2"  # 3 more tokens at 2 per second
            time.advance(10)
            problem = _assert_problem(client.post("/v1/checks/batch", json=batch(6), headers=headers), 422)
            assert problem["errors"][0]["code"] == "batch_over_rate_limit"


def test_a_checks_key_cannot_read_or_list_records(client: TestClient, auth: Auth, vault: Vault) -> None:
    record_id = _ban(vault)
    headers = auth("checks")
    for method, url, body in (
        ("GET", "/v1/records", None),
        ("GET", f"/v1/records/{record_id}", None),
        ("POST", "/v1/records/find", {"identifier": {"kind": "email", "value": "banned.person@example.com"}}),
        ("POST", f"/v1/records/{record_id}/reveal", {"purpose": "curious"}),
    ):
        _assert_problem(client.request(method, url, json=body, headers=headers), 403)
