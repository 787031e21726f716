"""Record endpoints, a class per endpoint: anonymous (401), missing scope (403), not existing
(404), valid; identifiers only ever in bodies, never echoed; pagination; the audited reveal. The
canary PII travels through them as an identifier and as record text."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from canary import CANARY_PII
from fastapi.testclient import TestClient

from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.vault import Vault

Auth = Callable[..., dict[str, str]]

NOT_READERS = ("checks", "records:write", "subjects:reveal", "admin")
NOT_WRITERS = ("checks", "records:read", "subjects:write", "admin")


def _ban(vault: Vault, identifiers: list[tuple[str, str]] | None = None, **options: Any) -> str:
    options.setdefault("category", "fraudulent_transaction")
    options.setdefault("reason_code", "chargeback")
    return vault.records.create(identifiers or [("email", CANARY_PII)], **options)


def _key_id(headers: dict[str, str]) -> str:
    return headers["Authorization"].split("_")[1]


def _assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert CANARY_PII not in response.text
    return dict(response.json())


def _check(client: TestClient, auth: Auth, kind: str, value: str) -> str:
    response = client.post("/v1/checks", json={"identifiers": [{"kind": kind, "value": value}]}, headers=auth("checks"))
    assert response.status_code == 200
    return str(response.json()["decision"])


CREATE = {
    "identifiers": [{"kind": "email", "value": CANARY_PII}, {"kind": "phone", "value": "010-1234-5678"}],
    "category": "fraudulent_transaction",
    "reason_code": "chargeback",
    "reason": f"chargeback ring around {CANARY_PII}",
    "severity": "critical",
    "external_ref": "case-4411",
}


class TestCreateRecord:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        _assert_problem(client.post("/v1/records", json=CREATE), 401)
        for scope in NOT_WRITERS:
            _assert_problem(client.post("/v1/records", json=CREATE, headers=auth(scope)), 403)
        assert vault.records.count() == 0

    def test_valid(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        headers = auth("records:write")
        response = client.post("/v1/records", json=CREATE, headers=headers)
        assert response.status_code == 201, response.text
        body = response.json()
        assert CANARY_PII not in response.text
        assert body["category"] == "fraudulent_transaction" and body["severity"] == "critical"
        assert body["identifier_kinds"] == {"email": 1, "phone": 1} and body["text_fields"] == ["reason"]
        assert body["status"] == "active" and body["source"] == "api" and body["expires_at"] is not None
        entry = vault.audit.query(action="record.create", limit=10)[-1]
        assert (entry.actor_kind, entry.actor_id, entry.targets) == ("api_key", _key_id(headers), (body["record_id"],))
        assert _check(client, auth, "phone", "+821012345678") == "deny"
        duplicate = client.post("/v1/records", json=CREATE, headers=headers)
        assert _assert_problem(duplicate, 409)["detail"].endswith(body["record_id"])

    def test_invalid_identifier_is_not_echoed_and_nothing_is_written(
        self, client: TestClient, auth: Auth, vault: Vault
    ) -> None:
        body = dict(CREATE, identifiers=[{"kind": "email", "value": "ok@example.com"}, {"kind": "phone", "value": CANARY_PII}])
        problem = _assert_problem(client.post("/v1/records", json=body, headers=auth("records:write")), 422)
        assert problem["errors"][0]["pointer"] == "#/identifiers/1/value" and "phone" in problem["errors"][0]["detail"]
        unknown_category = dict(CREATE, category="member_data")
        _assert_problem(client.post("/v1/records", json=unknown_category, headers=auth("records:write")), 422)
        assert vault.records.count() == 0

    def test_unknown_subject_is_404(self, client: TestClient, auth: Auth) -> None:
        body = dict(CREATE, subject_id=str(uuid.uuid4()))
        assert _assert_problem(client.post("/v1/records", json=body, headers=auth("records:write")), 404)["detail"] == (
            "subject not found"
        )


class TestGetRecord:
    def test_anonymous_missing_scope_not_existing_and_valid(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        record_id = _ban(vault, reason="secret text")
        _assert_problem(client.get(f"/v1/records/{record_id}"), 401)
        for scope in NOT_READERS:
            _assert_problem(client.get(f"/v1/records/{record_id}", headers=auth(scope)), 403)
        headers = auth("records:read")
        _assert_problem(client.get(f"/v1/records/{uuid.uuid4()}", headers=headers), 404)
        _assert_problem(client.get("/v1/records/not-a-uuid", headers=headers), 422)
        response = client.get(f"/v1/records/{record_id}", headers=headers)
        assert response.status_code == 200
        assert response.json()["record_id"] == record_id and "secret text" not in response.text
        assert "pseudonyms" not in response.json()


class TestFindRecords:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth) -> None:
        body = {"identifier": {"kind": "email", "value": CANARY_PII}}
        _assert_problem(client.post("/v1/records/find", json=body), 401)
        for scope in NOT_READERS:
            _assert_problem(client.post("/v1/records/find", json=body, headers=auth(scope)), 403)

    def test_find_by_identifier_in_the_body(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        first = _ban(vault)
        second = _ban(vault, [("email", CANARY_PII.upper()), ("ip", "192.0.2.1")])
        vault.records.revoke(second, reason_code="false_positive")
        _ban(vault, [("email", "other@example.com")])
        headers = auth("records:read")
        response = client.post("/v1/records/find", json={"identifier": {"kind": "email", "value": CANARY_PII}}, headers=headers)
        assert response.status_code == 200 and CANARY_PII not in response.text
        found = sorted((r["record_id"], r["status"]) for r in response.json()["items"])
        assert found == sorted([(first, "active"), (second, "revoked")])
        missing = client.post("/v1/records/find", json={"identifier": {"kind": "phone", "value": "010-0000-0000"}}, headers=headers)
        assert missing.json() == {"items": []}
        entry = vault.audit.query(action="record.find", limit=10)[-1]
        assert entry.actor_id == _key_id(headers) and entry.detail == {"kind": "phone", "results": 0}

    def test_never_accepts_the_identifier_in_the_query_string(self, client: TestClient, auth: Auth) -> None:
        headers = auth("records:read")
        body = {"identifier": {"kind": "email", "value": "x@example.com"}}
        for url in (
            f"/v1/records/find?kind=email&value={CANARY_PII}",
            f"/v1/records/find?identifier={CANARY_PII}",
        ):
            _assert_problem(client.post(url, json=body, headers=headers), 422)
            _assert_problem(client.get(url, headers=headers), 422)
        _assert_problem(client.get(f"/v1/records?email={CANARY_PII}", headers=headers), 422)

    def test_invalid_identifier(self, client: TestClient, auth: Auth) -> None:
        body = {"identifier": {"kind": "ip", "value": CANARY_PII}}
        problem = _assert_problem(client.post("/v1/records/find", json=body, headers=auth("records:read")), 422)
        assert problem["errors"][0]["pointer"] == "#/identifier" and "ip" in problem["errors"][0]["detail"]


class TestListRecords:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth) -> None:
        _assert_problem(client.get("/v1/records"), 401)
        for scope in NOT_READERS:
            _assert_problem(client.get("/v1/records", headers=auth(scope)), 403)

    def test_pagination_walks_every_record_exactly_once(
        self, client: TestClient, auth: Auth, vault: Vault, clock: FrozenClock
    ) -> None:
        created = []
        for i in range(7):
            created.append(_ban(vault, [("device_id", f"device-{i}")]))
            if i % 3 == 0:
                clock.advance(timedelta(seconds=1))  # some share a creation time, some do not
        headers = auth("records:read")
        seen: list[str] = []
        url: str | None = "/v1/records?limit=3"
        pages = 0
        while url is not None:
            response = client.get(url, headers=headers)
            assert response.status_code == 200, response.text
            page = response.json()
            seen.extend(item["record_id"] for item in page["items"])
            url = page["next"]
            pages += 1
            assert pages <= 4
        assert sorted(seen) == sorted(created) and len(seen) == len(set(seen)) == 7
        assert pages == 3

    def test_filters_and_cursors(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        revoked = sorted(_ban(vault, [("device_id", f"r{i}")]) for i in range(3))  # one creation time: id order
        for record_id in revoked:
            vault.records.revoke(record_id, reason_code="false_positive")
        active = _ban(vault, [("device_id", "a")], category="unauthorized_registration")
        headers = auth("records:read")
        first = client.get("/v1/records?status=revoked&limit=2", headers=headers).json()
        assert [i["record_id"] for i in first["items"]] == revoked[:2]
        assert first["next"].startswith("/v1/records?status=revoked&limit=2&cursor=")
        second = client.get(first["next"], headers=headers).json()
        assert [i["record_id"] for i in second["items"]] == revoked[2:] and second["next"] is None
        by_category = client.get("/v1/records?category=unauthorized_registration", headers=headers).json()
        assert [i["record_id"] for i in by_category["items"]] == [active]
        other_filters = client.get(f"/v1/records?status=active&cursor={first['next_cursor']}", headers=headers)
        assert _assert_problem(other_filters, 422)["errors"][0]["pointer"] == "#/cursor"
        for cursor in ("garbage", "eyJ2IjoxfQ", CANARY_PII):
            _assert_problem(client.get("/v1/records", params={"cursor": cursor}, headers=headers), 422)
        _assert_problem(client.get("/v1/records?status=banned", headers=headers), 422)
        _assert_problem(client.get("/v1/records?category=no_such_category", headers=headers), 422)


class TestUpdateRecord:
    def test_anonymous_missing_scope_and_not_existing(self, client: TestClient, auth: Auth) -> None:
        url = f"/v1/records/{uuid.uuid4()}"
        _assert_problem(client.patch(url, json={"severity": "low"}), 401)
        for scope in NOT_WRITERS:
            _assert_problem(client.patch(url, json={"severity": "low"}, headers=auth(scope)), 403)
        _assert_problem(client.patch(url, json={"severity": "low"}, headers=auth("records:write")), 404)

    def test_severity_notes_and_review(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        record_id = _ban(vault)
        headers = auth("records:write")
        response = client.patch(
            f"/v1/records/{record_id}", json={"severity": "medium", "notes": f"about {CANARY_PII}"}, headers=headers
        )
        assert response.status_code == 200 and CANARY_PII not in response.text
        assert response.json()["severity"] == "medium" and response.json()["text_fields"] == ["notes"]
        response = client.patch(
            f"/v1/records/{record_id}", json={"status": "under_review", "status_reason_code": "appeal"}, headers=headers
        )
        assert response.json()["status"] == "under_review" and response.json()["status_reason_code"] == "appeal"
        assert _check(client, auth, "email", CANARY_PII) == "review"
        entry = vault.audit.query(action="record.set_status", limit=10)[-1]
        assert entry.actor_id == _key_id(headers) and entry.detail == {"from": "active", "to": "under_review", "reason": "appeal"}
        for body in ({}, {"status": "active"}, {"status_reason_code": "x"}, {"status": "revoked", "status_reason_code": "x"}):
            _assert_problem(client.patch(f"/v1/records/{record_id}", json=body, headers=headers), 422)

    def test_a_revoked_record_cannot_change(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        record_id = _ban(vault)
        vault.records.revoke(record_id, reason_code="false_positive")
        response = client.patch(f"/v1/records/{record_id}", json={"severity": "low"}, headers=auth("records:write"))
        _assert_problem(response, 409)


class TestRevokeRecord:
    def test_anonymous_missing_scope_and_not_existing(self, client: TestClient, auth: Auth) -> None:
        url = f"/v1/records/{uuid.uuid4()}/revoke"
        _assert_problem(client.post(url, json={"reason_code": "false_positive"}), 401)
        for scope in NOT_WRITERS:
            _assert_problem(client.post(url, json={"reason_code": "false_positive"}, headers=auth(scope)), 403)
        _assert_problem(client.post(url, json={"reason_code": "false_positive"}, headers=auth("records:write")), 404)

    def test_valid_and_the_record_no_longer_matches(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        record_id = _ban(vault)
        assert _check(client, auth, "email", CANARY_PII) == "deny"
        headers = auth("records:write")
        response = client.post(f"/v1/records/{record_id}/revoke", json={"reason_code": "false_positive"}, headers=headers)
        assert response.status_code == 200 and response.json()["status"] == "revoked"
        assert _check(client, auth, "email", CANARY_PII) == "allow"
        again = client.post(f"/v1/records/{record_id}/revoke", json={"reason_code": "false_positive"}, headers=headers)
        assert again.status_code == 200
        entry = vault.audit.query(action="record.revoke", limit=10)[-1]
        assert entry.actor_id == _key_id(headers) and entry.detail == {"reason": "false_positive", "already": True}
        _assert_problem(client.post(f"/v1/records/{record_id}/revoke", json={}, headers=headers), 422)


class TestRevealRecord:
    def test_anonymous_missing_scope_and_not_existing(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        record_id = _ban(vault, reason="text")
        url = f"/v1/records/{record_id}/reveal"
        _assert_problem(client.post(url, json={"purpose": "case 1"}), 401)
        for scope in ("checks", "records:read", "records:write", "subjects:write", "admin"):
            _assert_problem(client.post(url, json={"purpose": "case 1"}, headers=auth(scope)), 403)
        headers = auth("subjects:reveal")
        _assert_problem(client.post(f"/v1/records/{uuid.uuid4()}/reveal", json={"purpose": "case 1"}, headers=headers), 404)

    def test_needs_a_purpose_and_is_audited_with_the_key(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        record_id = _ban(vault, reason="chargeback ring", evidence="order 991 disputed")
        headers = auth("subjects:reveal")
        url = f"/v1/records/{record_id}/reveal"
        for body in ({}, {"purpose": ""}, {"purpose": "  "}, {"purpose": None}):
            problem = _assert_problem(client.post(url, json=body, headers=headers), 422)
            assert any(error["pointer"] == "#/purpose" for error in problem["errors"])
        assert vault.audit.query(action="record.reveal", limit=10) == []
        response = client.post(url, json={"purpose": "appeal review, case 4411"}, headers=headers)
        assert response.status_code == 200
        assert response.json() == {
            "record_id": record_id,
            "reason": "chargeback ring",
            "evidence": "order 991 disputed",
            "notes": None,
            "available": True,
        }
        entry = vault.audit.query(action="record.reveal", limit=10)[-1]
        assert (entry.actor_kind, entry.actor_id, entry.purpose, entry.targets) == (
            "api_key",
            _key_id(headers),
            "appeal review, case 4411",
            (record_id,),
        )
        assert entry.detail == {"fields": 2}
