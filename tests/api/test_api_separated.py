"""Separate (restricted) storage over HTTP: only ``restricted:read`` lists and reads it, every read
needs a purpose that is audited, and separated data is out of the subject (reveal, listing) and a
separated record out of checks and record listings.

The data gets there the way the retention tests put it there: a subject with a payment-category
field withdraws (the field moves at once), or asks for erasure (member data is destroyed, the
payment field is kept apart). Records move under a policy with the ``restrict`` action, applied by
a sweep. The canary PII is a separated value: it may appear in a read, and nowhere else."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from canary import CANARY_PII
from fastapi.testclient import TestClient

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.retention.policies import PolicySet
from pseudovault.vault.retention.policy_file import parse_policies, shipped_presets
from pseudovault.vault.vault import Vault

if TYPE_CHECKING:
    from conftest import StoreUrls

Auth = Callable[..., dict[str, str]]

T0 = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
#: every scope but the one this storage needs
OTHER_SCOPES = ("subjects:reveal", "admin", "subjects:write", "records:read", "records:write", "erasure", "checks")

#: the presets, with bad-usage records moved to separate storage at the end of their period
RESTRICT_BAD_USAGE = """
[policies.bad_usage_rejoin]
period = "1y"
trigger = "withdrawal"
basis = "Internal policy: kept apart for disputes after the ban ends"
action = "restrict"
restricted_period = "2y"
on_erasure = "retain"
"""

FIELDS = {"name": "Kim Minji", "email": "kim.minji@example.com", "order_ref": CANARY_PII, "amount": "129000"}
PAYMENT = {"payment": ["order_ref", "amount"]}
BANNED = ("email", "rude.member@example.com")
#: the payment the separated fields record: they are kept five years from it (to the midnight after)
PAID_AT = datetime(2025, 12, 15, 10, 0, tzinfo=UTC)


def _policies() -> PolicySet:
    return parse_policies(RESTRICT_BAD_USAGE, source="test.toml", catalogue=shipped_presets())


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def vault(store_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock) -> Iterator[Vault]:
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock, retention_policies=_policies()) as v:
        yield v


def _withdrawn(vault: Vault, fields: dict[str, str] | None = None) -> tuple[str, str]:
    """A subject whose payment fields moved to separate storage when it withdrew: (subject, item)."""
    subject_id = vault.retention.create_subject(fields or FIELDS, PAYMENT)
    vault.retention.record_event("subject", subject_id, "payment", at=PAID_AT)
    vault.retention.record_event("subject", subject_id, "withdrawal")
    (item,) = vault.separate.list(subject_id)
    return subject_id, item.item_id


def _separated_record(vault: Vault, clock: FrozenClock) -> str:
    """A record with text, moved to separate storage by a sweep at the end of its period."""
    record_id = vault.records.create(
        [BANNED], category="bad_usage_rejoin", reason_code="bad_usage", reason=f"abusive chat by {CANARY_PII}",
        expires_at=T0 + timedelta(days=200),
    )
    clock.set(T0 + timedelta(days=200))
    assert vault.retention.sweeper.sweep().outcomes["restricted"] == 1
    return record_id


def _key_id(headers: dict[str, str]) -> str:
    return headers["Authorization"].split("_")[1]


def _last_audit(vault: Vault, action: str) -> Any:
    return vault.audit.query(action=action, limit=1000)[-1]


def _assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["request_id"] == response.headers["x-request-id"]
    assert CANARY_PII not in response.text
    return dict(body)


def _purpose_errors(problem: dict[str, Any]) -> bool:
    return any(error["pointer"] == "#/purpose" for error in problem["errors"])


class TestListSeparated:
    def test_anonymous_and_other_scopes(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        _withdrawn(vault)
        _assert_problem(client.get("/v1/separated"), 401)
        for scope in OTHER_SCOPES:
            _assert_problem(client.get("/v1/separated", headers=auth(scope)), 403)
        _assert_problem(client.get("/v1/separated", headers=auth(*OTHER_SCOPES)), 403)

    def test_lists_names_categories_and_dates_never_values(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, item_id = _withdrawn(vault)
        response = client.get("/v1/separated", headers=auth("restricted:read"))
        assert response.status_code == 200, response.text
        assert response.json() == {
            "items": [
                {
                    "item_id": item_id,
                    "origin_id": subject_id,
                    "category": "payment_supply",
                    "reason_code": "withdrawal",
                    "created_at": "2026-01-15T10:00:00Z",
                    "fields": ["amount", "order_ref"],
                    # five years from the payment (15 December 2025), to the midnight after
                    "due_at": "2030-12-15T15:00:00Z",
                }
            ]
        }
        assert CANARY_PII not in response.text and "129000" not in response.text

    def test_by_subject_and_limit(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        first, first_item = _withdrawn(vault)
        second, second_item = _withdrawn(vault, {"order_ref": "ord-2", "amount": "1"})
        headers = auth("restricted:read")

        def ids(query: str) -> list[str]:
            response = client.get(f"/v1/separated{query}", headers=headers)
            assert response.status_code == 200, response.text
            return [item["item_id"] for item in response.json()["items"]]

        assert sorted(ids("")) == sorted([first_item, second_item])
        assert ids(f"?subject_id={first}") == [first_item]
        assert ids(f"?subject_id={second}&limit=5") == [second_item]
        assert ids(f"?subject_id={uuid.uuid4()}") == []
        assert len(ids("?limit=1")) == 1

    def test_invalid_query(self, client: TestClient, auth: Auth) -> None:
        headers = auth("restricted:read")
        for query, pointer in (
            ("?subject_id=not-a-uuid", "#/subject_id"),
            ("?limit=0", "#/limit"),
            ("?limit=1001", "#/limit"),
            ("?limit=ten", "#/limit"),
            ("?subject=abc", "#/*"),  # an unknown parameter is the caller's: not quoted
        ):
            problem = _assert_problem(client.get(f"/v1/separated{query}", headers=headers), 422)
            assert [error["pointer"] for error in problem["errors"]] == [pointer], query


class TestReadSeparated:
    def test_anonymous_and_other_scopes(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        _subject_id, item_id = _withdrawn(vault)
        url = f"/v1/separated/{item_id}/read"
        _assert_problem(client.post(url, json={"purpose": "court order 2026-1"}), 401)
        for scope in OTHER_SCOPES:
            _assert_problem(client.post(url, json={"purpose": "court order 2026-1"}, headers=auth(scope)), 403)
        assert vault.audit.query(action="separated.read", limit=10) == []

    def test_valid_read_is_audited_with_its_purpose(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, item_id = _withdrawn(vault)
        headers = auth("restricted:read")
        response = client.post(
            f"/v1/separated/{item_id}/read", json={"purpose": "Tax office request 2026-17"}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["values"] == {"order_ref": CANARY_PII, "amount": "129000"}
        assert (body["item_id"], body["origin_id"], body["category"]) == (item_id, subject_id, "payment_supply")
        assert body["fields"] == ["amount", "order_ref"] and body["due_at"] == "2030-12-15T15:00:00Z"
        assert response.headers["cache-control"] == "no-store"
        entry = _last_audit(vault, "separated.read")
        assert (entry.actor_kind, entry.actor_id, entry.purpose, entry.outcome) == (
            "api_key", _key_id(headers), "Tax office request 2026-17", "ok"
        )
        assert entry.targets == (item_id, subject_id) and entry.detail == {"fields": 2}

    def test_purpose_is_required(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        _subject_id, item_id = _withdrawn(vault)
        headers = auth("restricted:read")
        for body in ({}, {"purpose": ""}, {"purpose": "   "}, {"purpose": None}, {"purpose": 17},
                     {"purpose": "two\nlines"}, {"purpose": "x" * 201}):
            problem = _assert_problem(client.post(f"/v1/separated/{item_id}/read", json=body, headers=headers), 422)
            assert _purpose_errors(problem), (body, problem)
        problem = _assert_problem(
            client.post(f"/v1/separated/{item_id}/read", json={"purpose": "a", "extra": 1}, headers=headers), 422
        )
        assert [e["pointer"] for e in problem["errors"]] == ["#/*"]  # an unknown name is the caller's: not quoted
        assert vault.audit.query(action="separated.read", limit=10) == []

    def test_unknown_item_is_404_and_audited(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        _withdrawn(vault)
        headers = auth("restricted:read")
        missing = str(uuid.uuid4())
        problem = _assert_problem(
            client.post(f"/v1/separated/{missing}/read", json={"purpose": "court order 2026-2"}, headers=headers), 404
        )
        assert problem["detail"] == "separated item not found"
        entry = _last_audit(vault, "separated.read")
        assert (entry.outcome, entry.targets, entry.purpose, entry.actor_id) == (
            "not_found", (missing,), "court order 2026-2", _key_id(headers)
        )
        problem = _assert_problem(
            client.post("/v1/separated/not-a-uuid/read", json={"purpose": "court order"}, headers=headers), 422
        )
        assert problem["errors"][0]["location"] == "path"

    def test_a_destroyed_item_is_404(self, client: TestClient, auth: Auth, vault: Vault, clock: FrozenClock) -> None:
        _subject_id, item_id = _withdrawn(vault)
        clock.set(datetime(2030, 12, 15, 15, tzinfo=UTC))  # its due date: midnight in Seoul, the presets' zone
        assert vault.retention.sweeper.sweep().applied == 1
        headers = auth("restricted:read")
        response = client.post(f"/v1/separated/{item_id}/read", json={"purpose": "court order"}, headers=headers)
        _assert_problem(response, 404)
        assert client.get("/v1/separated", headers=headers).json() == {"items": []}


class TestReadSeparatedRecord:
    def test_anonymous_and_other_scopes(self, client: TestClient, auth: Auth, vault: Vault, clock: FrozenClock) -> None:
        record_id = _separated_record(vault, clock)
        url = f"/v1/separated/records/{record_id}/read"
        _assert_problem(client.post(url, json={"purpose": "court order 2026-44"}), 401)
        for scope in OTHER_SCOPES:
            _assert_problem(client.post(url, json={"purpose": "court order 2026-44"}, headers=auth(scope)), 403)

    def test_valid_read_is_audited_with_its_purpose(
        self, client: TestClient, auth: Auth, vault: Vault, clock: FrozenClock
    ) -> None:
        record_id = _separated_record(vault, clock)
        headers = auth("restricted:read")
        response = client.post(
            f"/v1/separated/records/{record_id}/read", json={"purpose": "court order 2026-44"}, headers=headers
        )
        assert response.status_code == 200, response.text
        assert response.json() == {
            "record_id": record_id,
            "category": "bad_usage_rejoin",
            "reason": f"abusive chat by {CANARY_PII}",
            "evidence": None,
            "notes": None,
            "available": True,
        }
        entry = _last_audit(vault, "separated.read_record")
        assert (entry.actor_id, entry.purpose, entry.targets, entry.detail) == (
            _key_id(headers), "court order 2026-44", (record_id,), {"fields": 1}
        )

    def test_purpose_is_required(self, client: TestClient, auth: Auth, vault: Vault, clock: FrozenClock) -> None:
        record_id = _separated_record(vault, clock)
        headers = auth("restricted:read")
        for body in ({}, {"purpose": ""}, {"purpose": " "}, {"purpose": "tab\there"}):
            response = client.post(f"/v1/separated/records/{record_id}/read", json=body, headers=headers)
            assert _purpose_errors(_assert_problem(response, 422)), body
        assert vault.audit.query(action="separated.read_record", limit=10) == []

    def test_unknown_record_is_404_and_a_record_not_separated_is_409(
        self, client: TestClient, auth: Auth, vault: Vault
    ) -> None:
        headers = auth("restricted:read")
        missing = str(uuid.uuid4())
        response = client.post(f"/v1/separated/records/{missing}/read", json={"purpose": "court order"}, headers=headers)
        assert _assert_problem(response, 404)["detail"] == "record not found"
        assert _last_audit(vault, "separated.read_record").outcome == "not_found"
        live = vault.records.create([BANNED], category="bad_usage_rejoin", reason_code="bad_usage", reason="spam")
        response = client.post(f"/v1/separated/records/{live}/read", json={"purpose": "court order"}, headers=headers)
        assert "not in separate storage" in _assert_problem(response, 409)["detail"]


class TestSeparatedDataIsOutOfTheSubject:
    def test_withdrawal_over_the_api_moves_the_payment_fields_out_of_reveal_and_listing(
        self, client: TestClient, auth: Auth, vault: Vault
    ) -> None:
        writer = auth("subjects:write")
        created = client.post("/v1/subjects", json={"fields": FIELDS, "categories": PAYMENT}, headers=writer)
        assert created.status_code == 201, created.text
        subject_id = created.json()["subject_id"]
        for event in ({"event": "payment", "at": "2025-12-15T10:00:00Z"}, {"event": "withdrawal"}):
            response = client.post(f"/v1/subjects/{subject_id}/events", json=event, headers=writer)
            assert response.status_code == 200, response.text
        separated = [i for i in response.json()["items"] if i["kind"] == "separated"]
        assert [(i["category"], i["action"], i["state"]) for i in separated] == [("payment_supply", "destroy", "pending")]
        item_id = separated[0]["target_id"]

        # the subject keeps its member fields only: the payment fields are not revealed or listed
        revealed = client.post(
            f"/v1/subjects/{subject_id}/reveal", json={"purpose": "support ticket 9"}, headers=auth("subjects:reveal")
        )
        assert revealed.json()["fields"] == {"name": "Kim Minji", "email": "kim.minji@example.com"}
        assert CANARY_PII not in revealed.text
        listed = client.get("/v1/subjects", headers=writer).json()["items"]
        assert [(s["subject_id"], s["fields"]) for s in listed] == [(subject_id, ["email", "name"])]
        response = client.post(
            f"/v1/subjects/{subject_id}/reveal", json={"purpose": "x", "fields": ["order_ref"]},
            headers=auth("subjects:reveal"),
        )
        assert response.status_code == 200 and response.json()["fields"] == {}  # asked for, and absent

        # the separated item is what restricted:read lists and reads
        reader = auth("restricted:read")
        listing = client.get(f"/v1/separated?subject_id={subject_id}", headers=reader).json()["items"]
        assert [i["item_id"] for i in listing] == [item_id]
        read = client.post(f"/v1/separated/{item_id}/read", json={"purpose": "court order 7"}, headers=reader)
        assert read.json()["values"] == {"order_ref": CANARY_PII, "amount": "129000"}

    def test_after_erasure_only_the_payment_fields_are_kept_apart(
        self, client: TestClient, auth: Auth, vault: Vault
    ) -> None:
        subject_id = vault.retention.create_subject(FIELDS, {"member": None, **PAYMENT})
        vault.retention.record_event("subject", subject_id, "payment", at=T0)
        vault.erasure.request(subject_id, request_id="ER-2026-0001")

        reveal = client.post(
            f"/v1/subjects/{subject_id}/reveal", json={"purpose": "support"}, headers=auth("subjects:reveal")
        )
        _assert_problem(reveal, 404)
        assert client.get("/v1/subjects", headers=auth("subjects:write")).json()["items"] == []
        reader = auth("restricted:read")
        (item,) = client.get(f"/v1/separated?subject_id={subject_id}", headers=reader).json()["items"]
        assert (item["category"], item["reason_code"], item["fields"]) == ("payment_supply", "erasure", ["amount", "order_ref"])
        read = client.post(f"/v1/separated/{item['item_id']}/read", json={"purpose": "tax audit"}, headers=reader)
        assert read.json()["values"] == {"order_ref": CANARY_PII, "amount": "129000"}

    def test_a_separated_record_is_out_of_checks_listings_and_reveal(
        self, client: TestClient, auth: Auth, vault: Vault, clock: FrozenClock
    ) -> None:
        check = {"identifiers": [{"kind": BANNED[0], "value": BANNED[1]}]}
        record_id = vault.records.create([BANNED], category="bad_usage_rejoin", reason_code="bad_usage",
                                          reason="abusive chat", expires_at=T0 + timedelta(days=200))
        assert client.post("/v1/checks", json=check, headers=auth("checks")).json()["decision"] == "deny"
        clock.set(T0 + timedelta(days=200))
        assert vault.retention.sweeper.sweep().outcomes["restricted"] == 1

        assert client.post("/v1/checks", json=check, headers=auth("checks")).json()["decision"] == "allow"
        records = client.get("/v1/records", headers=auth("records:read")).json()["items"]
        assert records == []
        reveal = client.post(
            f"/v1/records/{record_id}/reveal", json={"purpose": "curious"}, headers=auth("subjects:reveal")
        )
        _assert_problem(reveal, 409)
        response = client.post(
            f"/v1/separated/records/{record_id}/read", json={"purpose": "court order 3"}, headers=auth("restricted:read")
        )
        assert response.json()["reason"] == "abusive chat"
