"""The check's fast path (api.fastcheck) answers exactly as the route does: each request is sent
twice, first while the key is not cached (the route answers, and caches the key), then while it is
(the fast path answers, or hands over to the route); status, body (but the request id) and headers
that matter are the same, and so is what each charged to the rate limiter. Listed requests first,
then generated bodies (Hypothesis), mostly valid, else with one fault each."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# --- generated bodies -------------------------------------------------------------------------

_KINDS = ["email", "phone", "ip", "device_id", "card_fingerprint", "national_id", "custom:handle", "shoe_size", "", "EMAIL"]
_VALUES = [
    BANNED,
    BANNED.upper(),
    "  " + BANNED + " ",
    "someone@example.com",
    "j0hnny@example.com",
    "010-1234-5678",
    "+82 10-1234-5678",
    "2001:db8::1",
    "::ffff:192.0.2.1",
    "64:ff9b::192.0.2.1",
    "192.0.2.300",
    "dev-0001",
    "DEV:0001",
    "",
]
#: pairs the route takes (hits, misses, the formats one identifier is typed in)
_GOOD = [
    ("email", BANNED),
    ("email", BANNED.upper()),
    ("email", "  " + BANNED + " "),
    ("email", "someone@example.com"),
    ("email", "j0hnny@example.com"),
    ("email", "b\u00e4nned.person@example.com"),
    ("phone", "010-1234-5678"),
    ("phone", "+82 10-1234-5678"),
    ("phone", "01099998888"),
    ("ip", "2001:db8::1"),
    ("ip", "::ffff:192.0.2.1"),
    ("ip", "64:ff9b::192.0.2.1"),
    ("ip", "192.0.2.7"),
    ("device_id", "dev-0001"),
    ("device_id", "DEV:0001"),
    ("custom:handle", "someone"),
]
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.just([]), st.just({}))


@st.composite
def _bodies(draw: st.DrawFn) -> str:
    """A check body as text: mostly one the route takes, else with one fault of those a fast path
    that reads its own bytes could take differently (a name given twice, an unknown or missing
    name, a wrong type, an invalid value or domain, a body cut short or with more after it); written with or without unicode escapes and
    spacing."""
    ascii_only = draw(st.booleans())
    space = draw(st.sampled_from(["", " ", "\n  "]))
    fault = draw(st.sampled_from([None] * 6 + ["identifier", "extra", "missing", "twice", "domain", "top", "not a list", "none", "cut"]))

    def obj(members: list[tuple[str, Any]]) -> str:
        return "{" + space + ("," + space).join(
            json.dumps(n, ensure_ascii=ascii_only) + ":" + space + (v if isinstance(v, _Raw) else json.dumps(v, ensure_ascii=ascii_only))
            for n, v in members
        ) + space + "}"

    count = 0 if fault == "none" else draw(st.integers(1, 4))
    faulty = draw(st.integers(0, max(count - 1, 0)))  # the identifier a fault of an identifier is in
    identifiers = []
    for n in range(count):
        kind, value = draw(st.sampled_from(_GOOD))
        if fault == "identifier" and n == faulty:
            kind = draw(st.one_of(st.sampled_from(_KINDS), _SCALARS))
            value = draw(st.one_of(st.sampled_from(_VALUES), st.text(max_size=12), _SCALARS))
        members: list[tuple[str, Any]] = [("kind", kind), ("value", value)]
        if n == faulty and fault in ("extra", "twice"):
            name = "extra" if fault == "extra" else draw(st.sampled_from(["kind", "value"]))
            members.append((name, draw(st.sampled_from(_VALUES))))
        if n == faulty and fault == "missing":
            members.pop(draw(st.integers(0, 1)))
        identifiers.append(obj(draw(st.permutations(members))))
    top: list[tuple[str, Any]] = [("identifiers", _Raw("[" + ("," + space).join(identifiers) + "]"))]
    if fault == "domain":
        top.append(("domain", draw(st.one_of(st.sampled_from(["Shop B", "", "a" * 70]), _SCALARS))))
    elif draw(st.booleans()):
        top.append(("domain", draw(st.sampled_from(["default", "shop-b"]))))
    if fault == "top":
        top.append((draw(st.sampled_from(["identifiers", "domain", "extra"])), draw(st.one_of(st.sampled_from(_VALUES), _SCALARS))))
    if fault == "not a list":
        top = [("identifiers", draw(_SCALARS))]
    body = obj(draw(st.permutations(top)))
    if fault == "cut":  # not JSON, or JSON with something after it
        body = body[: draw(st.integers(0, len(body) - 1))] if draw(st.booleans()) else body + draw(st.sampled_from(["}", " x", "[]"]))
    return body


class _Raw(str):
    """JSON text put into a body as it is."""


def test_generated_bodies_are_answered_alike_on_both_paths(
    app: FastAPI, vault: Vault, make_key: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Generated bodies: the route (its key not cached) and the fast path (cached) answer each
    one with the same status, body and headers; a 200 comes from the fast path."""
    vault.records.create([("email", BANNED), ("phone", "010-1234-5678")], category="fraudulent_transaction", reason_code="fraud")
    fast: list[int] = []
    original = fastcheck.run_single_check

    async def spy(*args: Any, **kwargs: Any) -> Any:
        fast.append(1)
        return await original(*args, **kwargs)

    monkeypatch.setattr(fastcheck, "run_single_check", spy)
    token = make_key("checks")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with TestClient(app) as client:

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
        @given(body=_bodies())
        def alike(body: str) -> None:
            app.state.key_cache.clear()  # the route answers, and caches the key
            by_route = client.post("/v1/checks", content=body.encode(), headers=headers)
            assert app.state.key_cache.get(token) is not None
            before = len(fast)
            by_fast = client.post("/v1/checks", content=body.encode(), headers=headers)
            assert _comparable(by_route) == _comparable(by_fast), body
            assert by_route.status_code != 500, body
            if by_fast.status_code == 200:
                assert len(fast) == before + 1, "a 200 came from the route"

        alike()
