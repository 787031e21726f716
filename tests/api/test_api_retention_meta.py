"""Retention metadata over HTTP: data categories of subjects (at creation and later), and trigger
events of subjects and records, each answering the stored due dates. Per endpoint: anonymous
(401), other scopes (403), unknown ids (404), bad input (422, never echoed), and the valid path
with its effect on the vault and its audit entry.

The suite's vault runs the shipped presets on a frozen clock at 2026-01-01T00:00Z; a due date is
the period after its event, to the midnight after the last day (vault.retention.periods)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, get_args

from canary import CANARY_PII
from fastapi.testclient import TestClient

from pseudovault.api.schemas.subjects import Event
from pseudovault.vault.retention.categories import TRIGGERS
from pseudovault.vault.vault import Vault

Auth = Callable[..., dict[str, str]]

FIELDS = {"name": "Kim Minji", "email": CANARY_PII, "order_ref": "ord-77", "amount": "129000"}
CATEGORIES = {"member": None, "payment": ["order_ref", "amount"]}
BANNED = {"kind": "email", "value": "banned.person@example.com"}


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


def _pointers(problem: dict[str, Any]) -> list[str]:
    return [error["pointer"] for error in problem["errors"]]


def _subject(vault: Vault, categories: dict[str, list[str] | None] | None = None) -> str:
    if categories is None:
        return vault.subjects.create(FIELDS)
    return vault.retention.create_subject(FIELDS, categories)


def _items(response: Any) -> dict[tuple[str, str], dict[str, Any]]:
    assert response.status_code == 200, response.text
    return {(item["kind"], item["category"]): item for item in response.json()["items"]}


class TestCreateSubjectWithCategories:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        body = {"fields": FIELDS, "categories": CATEGORIES}
        _assert_problem(client.post("/v1/subjects", json=body), 401)
        for scope in ("subjects:reveal", "admin", "restricted:read", "records:write"):
            _assert_problem(client.post("/v1/subjects", json=body, headers=auth(scope)), 403)
        assert vault.subjects.count() == 0

    def test_valid_gives_the_fields_their_categories(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        headers = auth("subjects:write")
        response = client.post("/v1/subjects", json={"fields": FIELDS, "categories": CATEGORIES}, headers=headers)
        assert response.status_code == 201, response.text
        subject_id = response.json()["subject_id"]
        assert response.json() == {"subject_id": subject_id}
        assert vault.subjects.read(subject_id) == FIELDS
        assert vault.retention.categories_of(subject_id) == {
            "member_data": ["*"],
            "payment_supply": ["amount", "order_ref"],
        }
        entry = _last_audit(vault, "retention.categorize")
        assert (entry.actor_kind, entry.actor_id, entry.targets) == ("api_key", _key_id(headers), (subject_id,))
        assert entry.detail == {"categories": 2, "added": 3}

    def test_without_categories_the_subject_has_none(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        for body in ({"fields": FIELDS}, {"fields": FIELDS, "categories": None}):
            response = client.post("/v1/subjects", json=body, headers=auth("subjects:write"))
            assert response.status_code == 201, response.text
            assert vault.retention.categories_of(response.json()["subject_id"]) == {}
        assert vault.audit.query(action="retention.categorize", limit=10) == []

    def test_an_unknown_category_names_the_field_and_creates_nothing(
        self, client: TestClient, auth: Auth, vault: Vault
    ) -> None:
        headers = auth("subjects:write")
        for categories, reason in (
            ({"member": None, "nonsense": None}, "unknown category 'nonsense'"),
            ({"fraudulent_transaction": None}, "is a category of anti-abuse records"),
        ):
            response = client.post("/v1/subjects", json={"fields": FIELDS, "categories": categories}, headers=headers)
            problem = _assert_problem(response, 422)
            assert _pointers(problem) == ["#/categories"], problem
            assert reason in problem["errors"][0]["detail"]
        assert vault.subjects.count() == 0 and vault.subjects.count_tombstones() == 0

    def test_malformed_categories_are_refused_without_echo(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        headers = auth("subjects:write")
        for categories in ({}, {"member": []}, {"member": "email"}, {"member": [CANARY_PII]}, {"Member": None},
                           ["member"], "member", {"member": [1]}):
            response = client.post("/v1/subjects", json={"fields": FIELDS, "categories": categories}, headers=headers)
            problem = _assert_problem(response, 422)
            assert all(p.startswith("#/categories") for p in _pointers(problem)), (categories, problem)
        assert vault.subjects.count() == 0


class TestGetSubjectCategories:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id = _subject(vault, CATEGORIES)
        url = f"/v1/subjects/{subject_id}/categories"
        _assert_problem(client.get(url), 401)
        for scope in ("subjects:reveal", "admin", "restricted:read", "records:write"):
            _assert_problem(client.get(url, headers=auth(scope)), 403)

    def test_valid(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        headers = auth("subjects:write")
        subject_id = _subject(vault, CATEGORIES)
        response = client.get(f"/v1/subjects/{subject_id}/categories", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "subject_id": subject_id,
            "categories": {"member_data": ["*"], "payment_supply": ["amount", "order_ref"]},
        }
        assert CANARY_PII not in response.text
        plain = _subject(vault)
        assert client.get(f"/v1/subjects/{plain}/categories", headers=headers).json() == {
            "subject_id": plain,
            "categories": {},
        }

    def test_unknown_and_shredded_subjects_are_404(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        headers = auth("subjects:write")
        subject_id = _subject(vault, CATEGORIES)
        vault.subjects.shred(subject_id)
        for sid in (subject_id, str(uuid.uuid4())):
            problem = _assert_problem(client.get(f"/v1/subjects/{sid}/categories", headers=headers), 404)
            assert problem["detail"] == "subject not found"
        problem = _assert_problem(client.get("/v1/subjects/not-a-uuid/categories", headers=headers), 422)
        assert problem["errors"][0]["location"] == "path"


class TestCategorizeSubject:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id = _subject(vault)
        url = f"/v1/subjects/{subject_id}/categories"
        _assert_problem(client.post(url, json={"categories": CATEGORIES}), 401)
        for scope in ("subjects:reveal", "admin", "restricted:read", "records:write"):
            _assert_problem(client.post(url, json={"categories": CATEGORIES}, headers=auth(scope)), 403)
        assert vault.retention.categories_of(subject_id) == {}

    def test_valid_answers_the_items_and_adds_to_what_the_subject_has(
        self, client: TestClient, auth: Auth, vault: Vault
    ) -> None:
        headers = auth("subjects:write")
        subject_id = _subject(vault)
        url = f"/v1/subjects/{subject_id}/categories"
        first = _items(client.post(url, json={"categories": {"payment": ["order_ref"], "access_log": None}}, headers=headers))
        assert sorted(first) == [("subject_category", "access_log"), ("subject_category", "payment_supply")]
        payment = first[("subject_category", "payment_supply")]
        assert (payment["target_id"], payment["stage"], payment["action"], payment["state"]) == (
            subject_id, "period", "shred_subject", "pending"
        )
        assert payment["due_at"] is None and payment["trigger_at"] is None  # no payment yet
        access = first[("subject_category", "access_log")]  # 3 months from collection (the subject's creation)
        assert (access["trigger_at"], access["due_at"]) == ("2026-01-01T00:00:00Z", "2026-04-01T15:00:00Z")
        entry = _last_audit(vault, "retention.categorize")
        assert (entry.actor_id, entry.targets, entry.detail) == (_key_id(headers), (subject_id,), {"categories": 2, "added": 2})

        second = _items(client.post(url, json={"categories": {"payment_supply": ["amount"]}}, headers=headers))
        assert sorted(second) == sorted(first)
        assert vault.retention.categories_of(subject_id) == {
            "access_log": ["*"],
            "payment_supply": ["amount", "order_ref"],
        }

    def test_unknown_subject_is_404(self, client: TestClient, auth: Auth) -> None:
        response = client.post(
            f"/v1/subjects/{uuid.uuid4()}/categories", json={"categories": CATEGORIES}, headers=auth("subjects:write")
        )
        assert _assert_problem(response, 404)["detail"] == "subject not found"

    def test_bad_categories_are_422_and_change_nothing(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        headers = auth("subjects:write")
        subject_id = _subject(vault, {"member": None})
        url = f"/v1/subjects/{subject_id}/categories"
        for categories in ({"payment": None, "nonsense": None}, {"bad_usage_rejoin": None}):
            problem = _assert_problem(client.post(url, json={"categories": categories}, headers=headers), 422)
            assert _pointers(problem) == ["#/categories"], problem
        for body in ({}, {"categories": {}}, {"categories": None}, {"categories": {"payment": [CANARY_PII]}},
                     {"categories": CATEGORIES, "extra": 1}):
            _assert_problem(client.post(url, json=body, headers=headers), 422)
        assert vault.retention.categories_of(subject_id) == {"member_data": ["*"]}


class TestSubjectEvents:
    def test_the_events_are_the_retention_triggers(self) -> None:
        assert get_args(Event) == TRIGGERS

    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id = _subject(vault, CATEGORIES)
        url = f"/v1/subjects/{subject_id}/events"
        _assert_problem(client.post(url, json={"event": "payment"}), 401)
        for scope in ("subjects:reveal", "admin", "restricted:read", "records:write"):
            _assert_problem(client.post(url, json={"event": "payment"}, headers=auth(scope)), 403)
        assert vault.audit.query(action="retention.event", limit=10) == []

    def test_a_payment_starts_the_payment_period(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        headers = auth("subjects:write")
        subject_id = _subject(vault, CATEGORIES)
        url = f"/v1/subjects/{subject_id}/events"
        items = _items(client.post(url, json={"event": "payment", "at": "2025-12-15T10:00:00+09:00"}, headers=headers))
        payment = items[("subject_category", "payment_supply")]
        assert (payment["trigger_at"], payment["due_at"]) == ("2025-12-15T01:00:00Z", "2030-12-15T15:00:00Z")
        assert items[("subject_category", "member_data")]["due_at"] is None  # runs from a withdrawal
        entry = _last_audit(vault, "retention.event")
        assert (entry.actor_id, entry.targets, entry.detail) == (
            _key_id(headers), (subject_id,), {"target_kind": "subject", "event": "payment"}
        )
        # recorded again, the latest occurrence counts; without `at`, it is now
        items = _items(client.post(url, json={"event": "payment"}, headers=headers))
        payment = items[("subject_category", "payment_supply")]
        assert (payment["trigger_at"], payment["due_at"]) == ("2026-01-01T00:00:00Z", "2031-01-01T15:00:00Z")

    def test_a_withdrawal_moves_the_categories_to_separate_storage(
        self, client: TestClient, auth: Auth, vault: Vault
    ) -> None:
        subject_id = _subject(vault, CATEGORIES)
        response = client.post(f"/v1/subjects/{subject_id}/events", json={"event": "withdrawal"}, headers=auth("subjects:write"))
        items = _items(response)
        assert CANARY_PII not in response.text
        for category in ("member_data", "payment_supply"):
            moved = items[("subject_category", category)]
            assert (moved["stage"], moved["action"], moved["state"], moved["outcome"]) == (
                "withdrawal", "separate", "done", "separated"
            )
            assert items[("separated", category)]["action"] == "destroy"
        assert sorted(v.category for v in vault.separate.list(subject_id)) == ["member_data", "payment_supply"]
        assert not vault.subjects.exists(subject_id)  # nothing of it was left outside separate storage

    def test_unknown_subject_is_404(self, client: TestClient, auth: Auth) -> None:
        response = client.post(
            f"/v1/subjects/{uuid.uuid4()}/events", json={"event": "payment"}, headers=auth("subjects:write")
        )
        assert _assert_problem(response, 404)["detail"] == "subject not found"

    def test_bad_events_and_times_are_422(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        headers = auth("subjects:write")
        subject_id = _subject(vault, CATEGORIES)
        url = f"/v1/subjects/{subject_id}/events"
        for body, pointer in (
            ({}, "#/event"),
            ({"event": "signup"}, "#/event"),
            ({"event": CANARY_PII}, "#/event"),
            ({"event": "payment", "at": "2026-01-01T00:00:01Z"}, "#/at"),  # in the future (service)
            ({"event": "payment", "at": "9999-12-31T23:59:59-14:00"}, "#/at"),
            ({"event": "payment", "at": "2025-12-15T10:00:00"}, "#/at"),  # no offset
            ({"event": "payment", "at": 1765792800}, "#/at"),
            ({"event": "payment", "at": "1765792800"}, "#/at"),
            ({"event": "payment", "at": "1969-12-31T23:59:59Z"}, "#/at"),
            ({"event": "payment", "at": "0001-01-01T00:00:00+14:00"}, "#/at"),
            ({"event": "payment", "at": "yesterday"}, "#/at"),
            ({"event": "payment", "extra": 1}, "#/*"),  # an unknown name is the caller's: not quoted
        ):
            problem = _assert_problem(client.post(url, json=body, headers=headers), 422)
            assert _pointers(problem) == [pointer], (body, problem)
        assert vault.audit.query(action="retention.event", limit=10) == []
        # 1970 is allowed; its five years have run, so recording it destroys the payment data at once
        backdated = {"event": "payment", "at": "1970-01-01T00:00:00Z"}
        assert _assert_problem(client.post(url, json=backdated, headers=headers), 409)["type"].endswith("/event_destroys_data")
        assert client.post(url, json={**backdated, "confirm": True}, headers=headers).status_code == 200


class TestEventPreviews:
    """Finding 9: a backdated event shows what it destroys, and destroys only when confirmed."""

    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id = _subject(vault, CATEGORIES)
        record_id = TestRecordEvents()._record(client, auth)
        for url, allowed, body in (
            (f"/v1/subjects/{subject_id}/events/preview", "subjects:write", {"event": "withdrawal"}),
            (f"/v1/records/{record_id}/events/preview", "records:write", {"event": "fraud_confirmed"}),
        ):
            _assert_problem(client.post(url, json=body), 401)
            for scope in ("subjects:write", "subjects:reveal", "admin", "restricted:read", "records:write", "records:read"):
                if scope != allowed:
                    _assert_problem(client.post(url, json=body, headers=auth(scope)), 403)

    def test_a_backdated_withdrawal_is_previewed_refused_then_confirmed(
        self, client: TestClient, auth: Auth, vault: Vault
    ) -> None:
        headers = auth("subjects:write")
        subject_id = _subject(vault, CATEGORIES)
        before = [i.as_dict() for i in vault.retention.items(subject_id)]
        body = {"event": "withdrawal", "at": "2024-06-01T00:00:00Z"}
        response = client.post(f"/v1/subjects/{subject_id}/events/preview", json=body, headers=headers)
        assert response.status_code == 200, response.text
        preview = response.json()
        assert (preview["target_kind"], preview["target_id"], preview["event"], preview["destroys"]) == (
            "subject", subject_id, "withdrawal", True
        )
        assert preview["at"] == "2024-06-01T00:00:00Z"
        effects = {(e["category"], e["effect"]) for e in preview["due_now"]}
        # the member data's year after the withdrawal has run; the payment data waits for its payment
        assert effects == {("member_data", "destroy"), ("payment_supply", "separate")}
        assert CANARY_PII not in response.text
        assert [i.as_dict() for i in vault.retention.items(subject_id)] == before
        assert vault.audit.query(action="retention.event", limit=10) == []

        refused = _assert_problem(client.post(f"/v1/subjects/{subject_id}/events", json=body, headers=headers), 409)
        assert refused["type"].endswith("/event_destroys_data")
        assert {(e["category"], e["effect"]) for e in refused["due_now"]} == effects
        assert vault.subjects.read(subject_id) == FIELDS and vault.audit.query(action="retention.event", limit=10) == []
        bad = {**body, "confirm": "yes"}
        assert _pointers(_assert_problem(client.post(f"/v1/subjects/{subject_id}/events", json=bad, headers=headers), 422)) == ["#/confirm"]

        items = _items(client.post(f"/v1/subjects/{subject_id}/events", json={**body, "confirm": True}, headers=headers))
        assert items[("subject_category", "member_data")]["outcome"] == "expired"
        assert [v.category for v in vault.separate.list(subject_id)] == ["payment_supply"]
        entry = _last_audit(vault, "retention.event")
        assert entry.detail == {"target_kind": "subject", "event": "withdrawal", "due_now": 2, "destroys": 1}

    def test_a_record_event_preview_and_its_404_and_422(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        headers = auth("records:write")
        record_id = TestRecordEvents()._record(client, auth)
        url = f"/v1/records/{record_id}/events/preview"
        preview = client.post(url, json={"event": "fraud_confirmed", "at": "2022-01-01T00:00:00Z"}, headers=headers).json()
        assert preview["destroys"] is True and [e["target_id"] for e in preview["due_now"]] == [record_id]
        later = client.post(url, json={"event": "fraud_confirmed"}, headers=headers).json()
        assert later["destroys"] is False and later["due_now"] == [] and later["items"][0]["due_at"] == "2029-01-01T00:00:00Z"  # its own expiry caps it
        assert vault.records.get(record_id) is not None
        _assert_problem(client.post(f"/v1/records/{uuid.uuid4()}/events/preview", json={"event": "fraud_confirmed"},
                                    headers=headers), 404)
        for body in ({}, {"event": "banned"}, {"event": "fraud_confirmed", "at": "2026-02-01T00:00:00Z"},
                     {"event": "fraud_confirmed", "confirm": True}):
            _assert_problem(client.post(url, json=body, headers=headers), 422)
        assert vault.audit.query(action="retention.event", limit=10) == []


class TestRecordEvents:
    def _record(self, client: TestClient, auth: Auth, **extra: Any) -> str:
        body = {"identifiers": [BANNED], "category": "fraudulent_transaction", "reason_code": "chargeback", **extra}
        response = client.post("/v1/records", json=body, headers=auth("records:write"))
        assert response.status_code == 201, response.text
        return str(response.json()["record_id"])

    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        record_id = self._record(client, auth)
        url = f"/v1/records/{record_id}/events"
        _assert_problem(client.post(url, json={"event": "fraud_confirmed"}), 401)
        for scope in ("subjects:write", "records:read", "admin", "restricted:read"):
            _assert_problem(client.post(url, json={"event": "fraud_confirmed"}, headers=auth(scope)), 403)
        assert vault.audit.query(action="retention.event", limit=10) == []

    def test_the_period_runs_from_the_event_and_never_past_the_expiry(
        self, client: TestClient, auth: Auth, vault: Vault
    ) -> None:
        headers = auth("records:write")
        record_id = self._record(client, auth)
        url = f"/v1/records/{record_id}/events"
        (item,) = client.post(url, json={"event": "fraud_confirmed", "at": "2025-12-01T00:00:00Z"}, headers=headers).json()["items"]
        assert (item["kind"], item["target_id"], item["category"], item["action"]) == (
            "record", record_id, "fraudulent_transaction", "delete_record"
        )
        assert (item["trigger_at"], item["due_at"]) == ("2025-12-01T00:00:00Z", "2028-12-01T15:00:00Z")
        entry = _last_audit(vault, "retention.event")
        assert (entry.actor_id, entry.targets, entry.detail) == (
            _key_id(headers), (record_id,), {"target_kind": "record", "event": "fraud_confirmed"}
        )

        # a record's own expiry (given in the body as an ISO 8601 string) caps its due date
        capped = self._record(client, auth, expires_at="2027-06-01T00:00:00Z")
        assert vault.records.get(capped).expires_at.isoformat() == "2027-06-01T00:00:00+00:00"  # type: ignore[union-attr]
        response = client.post(f"/v1/records/{capped}/events", json={"event": "fraud_confirmed"}, headers=headers)
        (item,) = response.json()["items"]
        assert (item["trigger_at"], item["due_at"]) == ("2026-01-01T00:00:00Z", "2027-06-01T00:00:00Z")

    def test_unknown_record_is_404(self, client: TestClient, auth: Auth) -> None:
        response = client.post(
            f"/v1/records/{uuid.uuid4()}/events", json={"event": "fraud_confirmed"}, headers=auth("records:write")
        )
        assert _assert_problem(response, 404)["detail"] == "record not found"

    def test_bad_events_and_times_are_422(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        headers = auth("records:write")
        url = f"/v1/records/{self._record(client, auth)}/events"
        for body, pointer in (
            ({"event": "banned"}, "#/event"),
            ({"event": "fraud_confirmed", "at": "2026-02-01T00:00:00Z"}, "#/at"),
            ({"event": "fraud_confirmed", "at": "0001-01-01T00:00:00+14:00"}, "#/at"),
        ):
            problem = _assert_problem(client.post(url, json=body, headers=headers), 422)
            assert _pointers(problem) == [pointer], (body, problem)
        problem = _assert_problem(client.post("/v1/records/not-a-uuid/events", json={"event": "payment"}, headers=headers), 422)
        assert problem["errors"][0]["location"] == "path"
        assert vault.audit.query(action="retention.event", limit=10) == []
