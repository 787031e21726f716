"""The check's fast path (api.fastcheck) answers exactly as the route does: each request is sent
twice, first while the key is not cached (the route answers, and caches the key), then while it is
(the fast path answers, or hands over to the route); status, body (but the request id) and headers
that matter are the same, and so is what each charged to the rate limiter."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pseudovault.api import fastcheck
from pseudovault.vault.vault import Vault

BANNED = "banned.person@example.com"

REQUESTS: list[tuple[str, Any]] = [
    ("a hit", {"identifiers": [{"kind": "email", "value": BANNED.upper()}]}),
    ("a miss", {"identifiers": [{"kind": "email", "value": "someone@example.com"}, {"kind": "phone", "value": "010-2222-3333"}]}),
    ("another domain", {"identifiers": [{"kind": "email", "value": BANNED}], "domain": "shop-b"}),
    ("an invalid identifier", {"identifiers": [{"kind": "phone", "value": "not a phone number"}]}),
    ("an unknown field", {"identifiers": [{"kind": "email", "value": BANNED}], "extra": 1}),
    ("a number for a string", {"identifiers": [{"kind": "email", "value": 12345}]}),
    ("no identifiers", {"identifiers": []}),
    ("an unknown kind", {"identifiers": [{"kind": "shoe_size", "value": "44"}]}),
    ("too many of a kind", {"identifiers": [{"kind": "email", "value": f"u{n}@example.com"} for n in range(5)]}),
    ("not JSON", "{not json"),
    ("an IPv6 address (colons in a value)", {"identifiers": [{"kind": "ip", "value": "2001:db8::1"}]}),
    ("a name given twice", '{"identifiers": [{"kind": "email", "value": "a@example.com"}], "identifiers": []}'),
    ("a nested name given twice", '{"identifiers": [{"kind": "email", "value": "someone@example.com", "value": "%s"}]}' % BANNED),
    ("nested too deep", "[" * 20_000 + "]" * 20_000),
    ("a JSON array", [1, 2]),
]


def _comparable(answer: Any) -> tuple[int, Any, dict[str, str]]:
    body = answer.json() if answer.content else None
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in ("instance", "request_id")}
    headers = {k: answer.headers[k] for k in ("content-type", "retry-after", "www-authenticate", "cache-control") if k in answer.headers}
    return answer.status_code, body, headers


@pytest.mark.parametrize(("what", "body"), REQUESTS, ids=[r[0] for r in REQUESTS])
def test_the_fast_path_answers_as_the_route_does(
    what: str, body: Any, app: FastAPI, vault: Vault, make_key: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    vault.records.create([("email", BANNED)], category="fraudulent_transaction", reason_code="fraud")
    fast: list[int] = []  # checks the fast path ran (it runs the route's own check function)
    original = fastcheck.run_single_check

    async def spy(*args: Any, **kwargs: Any) -> Any:
        fast.append(1)
        return await original(*args, **kwargs)

    monkeypatch.setattr(fastcheck, "run_single_check", spy)
    raw = body if isinstance(body, str) else json.dumps(body)
    answers = []
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {make_key('checks')}", "Content-Type": "application/json"}
        for _ in range(2):  # cold: the route (which caches the key); warm: the fast path
            answers.append(client.post("/v1/checks", content=raw, headers=headers))
        metrics = client.get("/metrics").text
    assert _comparable(answers[0]) == _comparable(answers[1]), what
    if answers[0].status_code == 200:
        assert len(fast) == 1, "the second check was answered by the fast path"
        assert 'pseudovault_http_requests_total{method="POST",route="/v1/checks",status="200"} 2.0' in metrics


def test_the_fast_path_charges_the_limiter_as_the_route_does(
    vault: Vault, api_settings: Any, make_key: Callable[..., str]
) -> None:
    from api_support import ManualTime

    from pseudovault.api.app import create_app
    from pseudovault.api.ratelimit import TokenBucketLimiter

    limiter = TokenBucketLimiter(1, 5, clock=ManualTime())
    app = create_app(api_settings, vault=vault, limiter=limiter)
    three = {"identifiers": [{"kind": "email", "value": f"u{n}@example.com"} for n in range(3)]}
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {make_key('checks')}"}
        assert client.post("/v1/checks", json=three, headers=headers).status_code == 200  # route: 3 tokens
        refused = client.post("/v1/checks", json=three, headers=headers)  # fast path: 2 left, 3 asked
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert refused.headers["content-type"] == "application/problem+json"
        one = {"identifiers": [{"kind": "email", "value": "u9@example.com"}]}
        assert client.post("/v1/checks", json=one, headers=headers).status_code == 200
        assert client.post("/v1/checks", json=one, headers=headers).status_code == 200
        assert client.post("/v1/checks", json=one, headers=headers).status_code == 429  # 5 taken in all


def test_other_callers_and_paths_go_to_the_route(app: FastAPI, make_key: Callable[..., str]) -> None:
    body = {"identifiers": [{"kind": "email", "value": "a@example.com"}]}
    with TestClient(app) as client:
        admin = {"Authorization": f"Bearer {make_key('admin')}"}
        for _ in range(2):
            assert client.post("/v1/checks", json=body, headers=admin).status_code == 403
        checks = {"Authorization": f"Bearer {make_key('checks')}"}
        client.post("/v1/checks", json=body, headers=checks)
        assert client.post("/v1/checks?x=1", json=body, headers=checks).status_code == 422  # unknown parameter
        assert client.post("/v1/checks", content=b"{}", headers={**checks, "Content-Type": "text/plain"}).status_code == 415
        assert client.post("/v1/checks", json=body).status_code == 401


def test_an_answer_without_matches_is_the_decisions_own_json() -> None:
    """Answers with no match reuse their body per checked kinds; it must be what the decision
    itself serializes to, and answers with matches are never taken from that store."""
    from pseudovault.api.routers.checks import decision_response
    from pseudovault.vault.checks.decisions import Decision, Match

    for kinds in [("email",), ("email", "ip", "phone"), ("custom:handle", "device_id")]:
        decision = Decision("allow", (), kinds)
        for _ in range(2):  # the first builds the body, the second reuses it
            response = decision_response(decision)
            assert json.loads(response.body) == decision.as_dict()
            assert response.media_type == "application/json"
    match = Match("rec-1", "fraudulent_transaction", "fraud", "high", "active", ("email",), "exact")
    hit = Decision("deny", (match,), ("email",))
    assert json.loads(decision_response(hit).body) == hit.as_dict()
    assert json.loads(decision_response(Decision("allow", (), ("email",))).body)["matches"] == []


def test_two_authorization_headers_are_refused_on_either_path(app: FastAPI, make_key: Callable[..., str]) -> None:
    """Two Authorization headers: which one did a proxy in front check? Neither is taken, even
    when both are valid and the first key is cached (the fast path hands over to the route)."""
    body = {"identifiers": [{"kind": "email", "value": "a@example.com"}]}
    checks, other = make_key("checks"), make_key("checks", "subjects:write")
    with TestClient(app) as client:
        assert client.post("/v1/checks", json=body, headers={"Authorization": f"Bearer {checks}"}).status_code == 200
        assert app.state.key_cache.get(checks) is not None  # cached now: the fast path would answer it
        for path, method in (("/v1/checks", "POST"), ("/v1/subjects", "GET")):
            for pair in ((checks, other), (checks, checks), (checks, "pvk_not_a_key")):
                response = client.request(
                    method,
                    path,
                    json=body if method == "POST" else None,
                    headers=[("Authorization", f"Bearer {pair[0]}"), ("Authorization", f"Bearer {pair[1]}")],
                )
                assert response.status_code == 401, (path, response.text)
                assert response.json()["detail"] == "send one Authorization header"
                assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]


def test_a_check_body_holds_no_object_but_its_identifiers() -> None:
    """The fast path tells a body that gives no name twice by its colons (api.fastcheck
    _may_name_twice): that holds while the request's only objects are itself and its
    identifiers, each refusing unknown names."""
    from pseudovault.api.schemas.checks import CheckRequest
    from pseudovault.api.schemas.identifiers import Identifier

    assert set(CheckRequest.model_fields) == {"identifiers", "domain"}
    assert CheckRequest.model_fields["identifiers"].annotation == list[Identifier]
    assert CheckRequest.model_fields["domain"].annotation is str
    assert set(Identifier.model_fields) == {"kind", "value"}
    assert all(field.annotation is str for field in Identifier.model_fields.values())
    assert CheckRequest.model_config.get("extra") == Identifier.model_config.get("extra") == "forbid"
