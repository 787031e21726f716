"""Subject endpoints, a class per endpoint: anonymous (401), missing scope (403), not existing
(404), valid, and what each writes to the audit log. The canary PII travels through all of them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from canary import CANARY_PII
from fastapi.testclient import TestClient

from pseudovault.vault.vault import Vault

Auth = Callable[..., dict[str, str]]


def _create(client: TestClient, auth: Auth, fields: dict[str, str] | None = None) -> str:
    response = client.post(
        "/v1/subjects", json={"fields": fields or {"email": CANARY_PII}}, headers=auth("subjects:write")
    )
    assert response.status_code == 201, response.json()
    return str(response.json()["subject_id"])


def _key_id(headers: dict[str, str]) -> str:
    return headers["Authorization"].split("_")[1]


def _last_audit(vault: Vault, action: str | None = None) -> Any:
    return vault.audit.query(action=action, limit=1000)[-1]


def _assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["type"].startswith("https://pseudovault.dev/problems/")
    assert body["request_id"] == response.headers["x-request-id"]
    assert CANARY_PII not in response.text
    return dict(body)


class TestCreateSubject:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth) -> None:
        _assert_problem(client.post("/v1/subjects", json={"fields": {"email": CANARY_PII}}), 401)
        for scope in ("subjects:reveal", "erasure", "admin", "checks"):
            response = client.post("/v1/subjects", json={"fields": {"email": CANARY_PII}}, headers=auth(scope))
            _assert_problem(response, 403)

    def test_valid_is_audited_with_the_key_as_actor(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        headers = auth("subjects:write")
        response = client.post(
            "/v1/subjects", json={"fields": {"email": CANARY_PII, "name": "Kim Minji"}}, headers=headers
        )
        assert response.status_code == 201
        subject_id = response.json()["subject_id"]
        assert vault.subjects.read(subject_id) == {"email": CANARY_PII, "name": "Kim Minji"}
        entry = _last_audit(vault, "subject.create")
        assert (entry.action, entry.actor_kind, entry.actor_id) == ("subject.create", "api_key", _key_id(headers))
        assert entry.targets == (subject_id,) and entry.client == "testclient"
        assert entry.detail == {"fields": 2}

    def test_invalid_field_name_is_not_echoed(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        response = client.post("/v1/subjects", json={"fields": {CANARY_PII: "x"}}, headers=auth("subjects:write"))
        body = _assert_problem(response, 422)
        assert body["errors"][0]["pointer"].startswith("#/fields/*")
        assert vault.subjects.count() == 0


class TestVerifySubjectField:
    """Finding 7: a password is stored one-way (Argon2id) and can only be verified."""

    PASSWORD = "Tr0ub4dor&3 horse"  # noqa: S105 - a test value

    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth) -> None:
        body = {"field": "password", "value": self.PASSWORD}
        _assert_problem(client.post(f"/v1/subjects/{uuid.uuid4()}/verify", json=body), 401)
        subject_id = _create(client, auth)
        for scope in ("subjects:write", "erasure", "admin", "records:read", "checks"):
            _assert_problem(client.post(f"/v1/subjects/{subject_id}/verify", json=body, headers=auth(scope)), 403)

    def test_stored_one_way_verified_never_revealed(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id = _create(client, auth, {"email": CANARY_PII, "password": self.PASSWORD})
        headers = auth("subjects:reveal")
        revealed = client.post(f"/v1/subjects/{subject_id}/reveal", json={"purpose": "support case 8"}, headers=headers)
        assert revealed.json()["fields"] == {"email": CANARY_PII}
        url = f"/v1/subjects/{subject_id}/verify"
        for value, match in ((self.PASSWORD, True), ("guess", False)):
            response = client.post(url, json={"field": "password", "value": value}, headers=headers)
            assert response.status_code == 200, response.text
            assert response.json() == {"subject_id": subject_id, "field": "password", "match": match}
            assert response.headers["cache-control"] == "no-store"
            entry = _last_audit(vault, "subject.verify")
            assert (entry.actor_id, entry.detail) == (_key_id(headers), {"field": "password", "match": match})
        assert self.PASSWORD not in str([e.as_dict() for e in vault.audit.query(limit=1000)])

    def test_bad_input_and_not_existing(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id = _create(client, auth, {"email": CANARY_PII})
        headers = auth("subjects:reveal")
        url = f"/v1/subjects/{subject_id}/verify"
        for body in ({}, {"field": "password"}, {"field": "password", "value": ""}, {"field": "email", "value": CANARY_PII},
                     {"field": "Password", "value": "x"}, {"field": "password", "value": "x", "extra": 1}):
            _assert_problem(client.post(url, json=body, headers=headers), 422)
        missing = client.post(f"/v1/subjects/{uuid.uuid4()}/verify", json={"field": "password", "value": "x"}, headers=headers)
        _assert_problem(missing, 404)
        # a password-like field that is not declared one-way is refused when stored
        refused = client.post("/v1/subjects", json={"fields": {"login_password": "hunter2"}}, headers=auth("subjects:write"))
        problem = _assert_problem(refused, 422)
        assert "hunter2" not in refused.text and "one-way" in problem["errors"][0]["detail"]


class TestRevealSubject:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth) -> None:
        _assert_problem(client.post(f"/v1/subjects/{uuid.uuid4()}/reveal", json={"purpose": "case 1"}), 401)
        subject_id = _create(client, auth)
        for scope in ("subjects:write", "erasure", "admin", "records:read"):
            response = client.post(f"/v1/subjects/{subject_id}/reveal", json={"purpose": "case 1"}, headers=auth(scope))
            _assert_problem(response, 403)

    def test_not_existing(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        headers = auth("subjects:reveal")
        missing = str(uuid.uuid4())
        body = _assert_problem(
            client.post(f"/v1/subjects/{missing}/reveal", json={"purpose": "case 1"}, headers=headers), 404
        )
        assert body["detail"] == "subject not found"
        entry = _last_audit(vault)
        assert (entry.action, entry.outcome, entry.actor_id) == ("subject.reveal", "not_found", _key_id(headers))

    def test_valid_with_a_purpose(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id = _create(client, auth, {"email": CANARY_PII, "name": "Kim"})
        headers = auth("subjects:reveal")
        response = client.post(
            f"/v1/subjects/{subject_id}/reveal",
            json={"purpose": "chargeback case 4411", "fields": ["email"]},
            headers=headers,
        )
        assert response.status_code == 200
        assert response.json() == {"subject_id": subject_id, "fields": {"email": CANARY_PII}}
        assert response.headers["cache-control"] == "no-store"
        entry = _last_audit(vault)
        assert (entry.action, entry.purpose, entry.actor_id) == (
            "subject.reveal",
            "chargeback case 4411",
            _key_id(headers),
        )
        assert entry.detail == {"fields": 1}

    def test_purpose_is_required(self, client: TestClient, auth: Auth) -> None:
        subject_id = _create(client, auth)
        headers = auth("subjects:reveal")
        for body in ({}, {"purpose": ""}, {"purpose": "   "}, {"purpose": None}, {"fields": ["email"]}):
            response = client.post(f"/v1/subjects/{subject_id}/reveal", json=body, headers=headers)
            problem = _assert_problem(response, 422)
            assert any(error["pointer"] == "#/purpose" for error in problem["errors"]), problem

    def test_a_shredded_subject_answers_like_one_that_never_existed(self, client: TestClient, auth: Auth) -> None:
        subject_id = _create(client, auth)
        assert client.delete(f"/v1/subjects/{subject_id}", headers=auth("erasure")).status_code == 200
        headers = auth("subjects:reveal")
        shredded = client.post(f"/v1/subjects/{subject_id}/reveal", json={"purpose": "case 1"}, headers=headers)
        never = client.post(f"/v1/subjects/{uuid.uuid4()}/reveal", json={"purpose": "case 1"}, headers=headers)

        def shape(response: Any) -> Any:
            body = response.json()
            return (
                response.status_code,
                response.headers["content-type"],
                {k: v for k, v in body.items() if k not in ("instance", "request_id")},
            )

        assert shape(shredded) == shape(never)
        assert shredded.status_code == 404


class TestUpdateSubject:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth) -> None:
        _assert_problem(client.patch(f"/v1/subjects/{uuid.uuid4()}", json={"fields": {"name": "x"}}), 401)
        subject_id = _create(client, auth)
        for scope in ("subjects:reveal", "erasure", "admin"):
            response = client.patch(f"/v1/subjects/{subject_id}", json={"fields": {"name": "x"}}, headers=auth(scope))
            _assert_problem(response, 403)

    def test_not_existing(self, client: TestClient, auth: Auth) -> None:
        response = client.patch(
            f"/v1/subjects/{uuid.uuid4()}", json={"fields": {"name": "x"}}, headers=auth("subjects:write")
        )
        _assert_problem(response, 404)

    def test_valid(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id = _create(client, auth, {"email": "old@example.com", "name": "Kim"})
        headers = auth("subjects:write")
        response = client.patch(
            f"/v1/subjects/{subject_id}", json={"fields": {"email": CANARY_PII, "name": None}}, headers=headers
        )
        assert response.status_code == 200
        assert response.json() == {"subject_id": subject_id, "fields_set": ["email"], "fields_deleted": ["name"]}
        assert vault.subjects.read(subject_id) == {"email": CANARY_PII}
        entry = _last_audit(vault, "subject.update")
        assert (entry.action, entry.actor_id) == ("subject.update", _key_id(headers))
        assert entry.detail == {"fields_set": 1, "fields_deleted": 1}

    def test_shredded(self, client: TestClient, auth: Auth) -> None:
        subject_id = _create(client, auth)
        client.delete(f"/v1/subjects/{subject_id}", headers=auth("erasure"))
        response = client.patch(
            f"/v1/subjects/{subject_id}", json={"fields": {"name": "x"}}, headers=auth("subjects:write")
        )
        _assert_problem(response, 404)


class TestShredSubject:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        _assert_problem(client.delete(f"/v1/subjects/{uuid.uuid4()}"), 401)
        subject_id = _create(client, auth)
        for scope in ("subjects:write", "subjects:reveal", "admin"):
            _assert_problem(client.delete(f"/v1/subjects/{subject_id}", headers=auth(scope)), 403)
        assert vault.subjects.exists(subject_id)

    def test_not_existing(self, client: TestClient, auth: Auth) -> None:
        _assert_problem(client.delete(f"/v1/subjects/{uuid.uuid4()}", headers=auth("erasure")), 404)

    def test_valid_and_idempotent(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id = _create(client, auth)
        headers = auth("erasure")
        first = client.delete(f"/v1/subjects/{subject_id}?reason=withdrawal", headers=headers)
        assert first.status_code == 200
        assert first.json()["already"] is False and first.json()["subject_id"] == subject_id
        assert not vault.subjects.exists(subject_id)
        entry = _last_audit(vault)
        assert (entry.action, entry.actor_id) == ("subject.shred", _key_id(headers))
        assert entry.detail == {"reason": "withdrawal", "already": False}
        again = client.delete(f"/v1/subjects/{subject_id}", headers=headers)
        assert again.status_code == 200
        assert again.json()["already"] is True and again.json()["shredded_at"] == first.json()["shredded_at"]
        metrics = client.get("/metrics").text
        assert 'pseudovault_shreds_total{outcome="shredded"} 1.0' in metrics
        assert 'pseudovault_shreds_total{outcome="already_shredded"} 1.0' in metrics

    def test_reason_must_be_a_code(self, client: TestClient, auth: Auth) -> None:
        subject_id = _create(client, auth)
        response = client.delete(f"/v1/subjects/{subject_id}", params={"reason": CANARY_PII}, headers=auth("erasure"))
        _assert_problem(response, 422)


class TestListSubjects:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth) -> None:
        _assert_problem(client.get("/v1/subjects"), 401)
        for scope in ("subjects:reveal", "erasure", "admin", "checks"):
            _assert_problem(client.get("/v1/subjects", headers=auth(scope)), 403)

    def test_valid_pages_with_a_cursor_and_shows_no_values(self, client: TestClient, auth: Auth) -> None:
        created = sorted(_create(client, auth, {"email": CANARY_PII, "name": "Kim"}) for _ in range(3))
        headers = auth("subjects:write")
        first = client.get("/v1/subjects", params={"limit": 2}, headers=headers).json()
        assert [item["subject_id"] for item in first["items"]] == created[:2]
        assert first["items"][0]["fields"] == ["email", "name"]
        assert first["next_cursor"] == created[1]
        second = client.get("/v1/subjects", params={"limit": 2, "after": first["next_cursor"]}, headers=headers).json()
        assert [item["subject_id"] for item in second["items"]] == created[2:]
        assert second["next_cursor"] is None
        assert CANARY_PII not in str(first) + str(second)
        _assert_problem(client.get("/v1/subjects", params={"after": "nope"}, headers=headers), 422)
