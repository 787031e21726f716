"""Data-subject rights endpoints (/v1/rights), a class per resource: anonymous (401), every scope
but the right one (403), unknown ids (404), bad input (422), the valid path with its effect on the
vault, and the audit entries it writes. The subject's email is the canary PII, and its ban is on
that email: the access export is the one answer that may carry it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from canary import CANARY_PII
from fastapi.testclient import TestClient

from pseudovault.vault.apikeys import SCOPES
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.retention.rights import request_deadline
from pseudovault.vault.vault import Vault

Auth = Callable[..., dict[str, str]]

PHONE = "010-1234-5678"
BAN = {"identifiers": [{"kind": "email", "value": CANARY_PII}]}


# --- helpers ----------------------------------------------------------------------------------


def _member_with_ban(vault: Vault) -> tuple[str, str]:
    """A subject (member data; its phone also payment/supply data) and a ban on its email."""
    subject_id = vault.retention.create_subject(
        {"name": "Kim Minji", "email": CANARY_PII, "phone": PHONE}, {"member": None, "payment_supply": ["phone"]}
    )
    record_id = vault.records.create(
        [("email", CANARY_PII)],
        category="fraudulent_transaction",
        reason_code="fraud",
        reason="card testing",
        subject_id=subject_id,
    )
    return subject_id, record_id


def _key_id(headers: dict[str, str]) -> str:
    return headers["Authorization"].split("_")[1]


def _audit(vault: Vault, action: str) -> list[Any]:
    return vault.audit.query(action=action, limit=1000)


def _assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["type"].startswith("https://pseudovault.dev/problems/")
    assert CANARY_PII not in response.text
    return dict(body)


def _assert_guarded(client: TestClient, auth: Auth, method: str, url: str, scope: str, body: Any = None) -> None:
    """401 without a key, 403 with every scope but ``scope`` (the body is valid, so only the
    scope can be what is refused)."""
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    _assert_problem(client.request(method, url, **kwargs), 401)
    for other in SCOPES:
        if other != scope:
            response = client.request(method, url, headers=auth(other), **kwargs)
            problem = _assert_problem(response, 403)
            assert scope in problem["detail"]


def _decision(client: TestClient, auth: Auth) -> str:
    response = client.post("/v1/checks", json=BAN, headers=auth("checks"))
    assert response.status_code == 200
    return str(response.json()["decision"])


def _pointers(problem: dict[str, Any]) -> list[str]:
    return [error["pointer"] for error in problem["errors"]]


def _provision(client: TestClient, headers: dict[str, str], subject_id: str, **changes: Any) -> Any:
    body = {
        "subject_id": subject_id,
        "recipient": "Acme Payments",
        "items": ["email"],
        "purpose": "billing",
        "legal_basis": "contract",
        "retention": "5 years",
        **changes,
    }
    return client.post("/v1/rights/provisions", json=body, headers=headers)


# --- access export ----------------------------------------------------------------------------


class TestAccessExport:
    URL = "/v1/rights/access-export"

    def test_anonymous_and_every_other_scope(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, _ = _member_with_ban(vault)
        _assert_guarded(client, auth, "POST", self.URL, "subjects:reveal", {"subject_id": subject_id, "purpose": "REQ-1"})
        assert _audit(vault, "rights.access_export") == []

    def test_not_existing(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        headers = auth("subjects:reveal")
        missing = str(uuid.uuid4())
        problem = _assert_problem(client.post(self.URL, json={"subject_id": missing, "purpose": "REQ-1"}, headers=headers), 404)
        assert problem["detail"] == "subject not found"
        (entry,) = _audit(vault, "subject.reveal")
        assert (entry.outcome, entry.targets, entry.actor_id) == ("not_found", (missing,), _key_id(headers))
        assert _audit(vault, "rights.access_export") == []

    def test_a_shredded_subject_is_not_found(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, _ = _member_with_ban(vault)
        vault.subjects.shred(subject_id, "request")
        response = client.post(self.URL, json={"subject_id": subject_id, "purpose": "REQ-1"}, headers=auth("subjects:reveal"))
        _assert_problem(response, 404)

    def test_valid_holds_everything_completes_the_request_and_is_audited(
        self, client: TestClient, auth: Auth, vault: Vault
    ) -> None:
        subject_id, record_id = _member_with_ban(vault)
        provision = _provision(client, auth("subjects:write"), subject_id, items=["payment_supply"]).json()
        request = client.post(
            "/v1/rights/requests", json={"subject_id": subject_id, "kind": "access", "reference": "REQ-3"}, headers=auth("admin")
        ).json()
        headers = auth("subjects:reveal")
        response = client.post(
            self.URL,
            json={"subject_id": subject_id, "purpose": "access request REQ-3", "request_id": request["request_id"]},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        export = response.json()
        assert export["subject_id"] == subject_id
        assert export["fields"] == {"name": "Kim Minji", "email": CANARY_PII, "phone": PHONE}
        (record,) = export["records"]
        assert record["record_id"] == record_id and record["subject_id"] == subject_id
        assert record["category"] == "fraudulent_transaction" and record["identifier_kinds"] == {"email": 1}
        assert record["text"] == {"reason": "card testing", "evidence": None, "notes": None, "available": True}
        assert "pseudonyms" not in record
        categories = {c["category"]: c for c in export["categories"]}
        assert categories["payment_supply"]["fields"] == ["phone"]
        assert "Electronic Commerce" in categories["payment_supply"]["legal_basis"]
        assert categories["member_data"]["fields"] == ["*"]
        assert export["separate_storage"] == [] and export["restrictions"] == []
        assert export["provisions"] == [provision]
        (listed,) = export["requests"]
        assert listed["request_id"] == request["request_id"]
        # the export answered the access request
        (closed,) = vault.rights.requests(subject_id=subject_id)
        assert (closed.state, closed.outcome) == ("completed", "exported")
        (entry,) = _audit(vault, "rights.access_export")
        assert entry.purpose == "access request REQ-3" and entry.actor_id == _key_id(headers)
        assert entry.targets == (subject_id, request["request_id"])
        assert entry.detail == {"fields": 3, "records": 1, "provisions": 1}
        assert _audit(vault, "subject.reveal")[-1].purpose == "access request REQ-3"
        assert _audit(vault, "record.reveal")[-1].targets == (record_id,)
        # it cannot answer the same request twice
        again = client.post(
            self.URL,
            json={"subject_id": subject_id, "purpose": "again", "request_id": request["request_id"]},
            headers=headers,
        )
        _assert_problem(again, 409)

    def test_without_a_request_id_it_completes_every_open_access_request(
        self, client: TestClient, auth: Auth, vault: Vault
    ) -> None:
        subject_id, _ = _member_with_ban(vault)
        access = vault.rights.open_request(subject_id, "access")
        erasure = vault.rights.open_request(subject_id, "erasure")
        response = client.post(self.URL, json={"subject_id": subject_id, "purpose": "REQ-4"}, headers=auth("subjects:reveal"))
        assert response.status_code == 200
        states = {r.request_id: r.state for r in vault.rights.requests(subject_id=subject_id)}
        assert states == {access.request_id: "completed", erasure.request_id: "open"}

    def test_a_request_id_of_another_kind_or_subject_is_not_found(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, _ = _member_with_ban(vault)
        other = vault.subjects.create({"name": "Other"})
        wrong_kind = vault.rights.open_request(subject_id, "erasure")
        wrong_subject = vault.rights.open_request(other, "access")
        headers = auth("subjects:reveal")
        for request_id in (wrong_kind.request_id, wrong_subject.request_id, str(uuid.uuid4())):
            body = {"subject_id": subject_id, "purpose": "REQ-5", "request_id": request_id}
            problem = _assert_problem(client.post(self.URL, json=body, headers=headers), 404)
            assert problem["detail"] == "request not found"
        assert _audit(vault, "rights.access_export") == []
        assert {r.state for r in vault.rights.requests()} == {"open"}

    def test_invalid_input(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, _ = _member_with_ban(vault)
        headers = auth("subjects:reveal")
        cases: list[tuple[dict[str, Any], str]] = [
            ({"subject_id": subject_id}, "#/purpose"),
            ({"subject_id": subject_id, "purpose": ""}, "#/purpose"),
            ({"subject_id": subject_id, "purpose": "   "}, "#/purpose"),
            ({"subject_id": subject_id, "purpose": "x" * 201}, "#/purpose"),
            ({"subject_id": subject_id, "purpose": "two\nlines"}, "#/purpose"),
            ({"subject_id": CANARY_PII, "purpose": "REQ-1"}, "#/subject_id"),
            ({"purpose": "REQ-1"}, "#/subject_id"),
            ({"subject_id": subject_id, "purpose": "REQ-1", "request_id": "REQ-1"}, "#/request_id"),
            ({"subject_id": subject_id, "purpose": "REQ-1", "fields": ["email"]}, "#/fields"),
            ({"subject_id": subject_id, "purpose": 5}, "#/purpose"),
        ]
        for body, pointer in cases:
            problem = _assert_problem(client.post(self.URL, json=body, headers=headers), 422)
            assert pointer in _pointers(problem), (body, problem)
        assert _audit(vault, "rights.access_export") == []

    def test_a_restricted_subject_is_still_exported_and_names_its_restrictions(
        self, client: TestClient, auth: Auth, vault: Vault
    ) -> None:
        """The right of access holds while processing is restricted; the export says so."""
        subject_id, _ = _member_with_ban(vault)
        vault.rights.begin_correction(subject_id)
        vault.rights.restrict_processing(subject_id)
        response = client.post(self.URL, json={"subject_id": subject_id, "purpose": "REQ-6"}, headers=auth("subjects:reveal"))
        assert response.status_code == 200
        assert response.json()["restrictions"] == ["correction_pending", "restriction_request"]
        assert vault.rights.exportable([subject_id]) == set()


# --- corrections ------------------------------------------------------------------------------


class TestCorrections:
    def test_anonymous_and_every_other_scope(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, _ = _member_with_ban(vault)
        _assert_guarded(client, auth, "POST", "/v1/rights/corrections", "subjects:write", {"subject_id": subject_id})
        request_id = vault.rights.begin_correction(subject_id).request_id
        _assert_guarded(
            client, auth, "POST", f"/v1/rights/corrections/{request_id}/complete", "subjects:write", {"fields": {}}
        )
        _assert_guarded(client, auth, "POST", f"/v1/rights/corrections/{request_id}/reject", "subjects:write", {})
        assert vault.rights.requests(subject_id=subject_id)[0].state == "open"
        assert len(vault.rights.requests()) == 1

    def test_open_stops_matching_and_complete_applies_and_names_recipients(
        self, client: TestClient, auth: Auth, vault: Vault, clock: FrozenClock
    ) -> None:
        subject_id, _ = _member_with_ban(vault)
        assert _decision(client, auth) == "deny"
        headers = auth("subjects:write")
        received = (clock.now() - timedelta(days=2)).isoformat()
        opened = client.post(
            "/v1/rights/corrections",
            json={"subject_id": subject_id, "reference": "REQ-1", "received_at": received},
            headers=headers,
        )
        assert opened.status_code == 201, opened.text
        request = opened.json()
        assert (request["kind"], request["state"], request["reference"], request["overdue"]) == (
            "correction", "open", "REQ-1", False,
        )
        assert datetime.fromisoformat(request["received_at"]) == clock.now() - timedelta(days=2)
        # the receipt day is not counted; overdue from midnight after the tenth day, in the policies' zone
        zone = vault.retention.policies.zone
        assert datetime.fromisoformat(request["due_at"]) == request_deadline(clock.now() - timedelta(days=2), zone)
        assert datetime.fromisoformat(request["due_at"]).astimezone(zone).isoformat() == "2026-01-10T00:00:00+09:00"
        assert _decision(client, auth) == "allow"  # the ban is not used while the data is corrected
        (entry,) = _audit(vault, "rights.request_open")
        assert entry.actor_id == _key_id(headers) and entry.targets == (request["request_id"], subject_id)
        assert entry.detail == {"kind": "correction", "reference": "REQ-1"}

        def days_ago(days: int) -> str:  # provisions are listed by when they were provided
            return (clock.now() - timedelta(days=days)).isoformat()

        billing = _provision(client, headers, subject_id, items=["email"], provided_at=days_ago(3)).json()
        card = _provision(client, headers, subject_id, recipient="Card Network", items=["payment_supply"],
                          provided_at=days_ago(2)).json()  # the category that covers the phone
        _provision(client, headers, subject_id, recipient="Courier Co", items=["name"], purpose="delivery",
                   provided_at=days_ago(2))
        # while the data is being corrected it is provided to no one: a provision now is refused
        refused = _provision(client, headers, subject_id, recipient="Courier Co", items=["name"], purpose="delivery")
        assert _assert_problem(refused, 409)["reasons"] == ["correction_pending"]
        everything = _provision(
            client, headers, subject_id, recipient="Auditor", items=["*"], purpose="audit", provided_at=days_ago(1)
        ).json()
        url = f"/v1/rights/corrections/{request['request_id']}/complete"
        new_email = "minji.kim@example.com"
        done = client.post(url, json={"fields": {"email": new_email, "phone": None}}, headers=headers)
        assert done.status_code == 200, done.text
        result = done.json()
        assert CANARY_PII not in done.text and new_email not in done.text
        assert result["request_id"] == request["request_id"] and result["subject_id"] == subject_id
        assert result["fields_changed"] == ["email", "phone"]
        assert [n["recipient"] for n in result["notify"]] == ["Acme Payments", "Card Network", "Auditor"]
        assert [n["provision_id"] for n in result["notify"]] == [
            billing["provision_id"], card["provision_id"], everything["provision_id"],
        ]
        assert result["notify"][1]["items"] == ["payment_supply"]
        assert vault.subjects.read(subject_id) == {"name": "Kim Minji", "email": new_email}
        assert _decision(client, auth) == "deny"  # restriction lifted; the ban is on the old identifier
        (closed,) = vault.rights.requests(subject_id=subject_id)
        assert (closed.state, closed.outcome) == ("completed", "corrected")
        (entry,) = _audit(vault, "rights.correction")
        assert entry.actor_id == _key_id(headers) and entry.detail == {"fields": 2, "recipients": 3, "notifications": 3}
        pending = vault.rights.notifications(state="pending", subject_id=subject_id)
        assert [(n.recipient, n.cause) for n in pending] == [("Acme Payments", "correction"), ("Auditor", "correction"),
                                                             ("Card Network", "correction")]
        assert _audit(vault, "subject.update")[-1].detail == {"fields_set": 1, "fields_deleted": 1}
        _assert_problem(client.post(url, json={"fields": {}}, headers=headers), 409)

    def test_an_empty_correction_confirms_the_data(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, _ = _member_with_ban(vault)
        headers = auth("subjects:write")
        _provision(client, headers, subject_id, items=["*"])
        request_id = client.post("/v1/rights/corrections", json={"subject_id": subject_id}, headers=headers).json()["request_id"]
        done = client.post(f"/v1/rights/corrections/{request_id}/complete", json={"fields": {}}, headers=headers)
        assert done.json() == {"request_id": request_id, "subject_id": subject_id, "fields_changed": [], "notify": []}
        assert vault.rights.requests()[0].outcome == "confirmed"
        assert vault.subjects.read(subject_id)["email"] == CANARY_PII
        assert _decision(client, auth) == "deny"

    def test_reject_lifts_the_restriction_once_no_correction_is_pending(
        self, client: TestClient, auth: Auth, vault: Vault
    ) -> None:
        subject_id, _ = _member_with_ban(vault)
        headers = auth("subjects:write")
        first, second = (
            client.post("/v1/rights/corrections", json={"subject_id": subject_id}, headers=headers).json()["request_id"]
            for _ in range(2)
        )
        rejected = client.post(
            f"/v1/rights/corrections/{first}/reject", json={"reason_code": "not_inaccurate"}, headers=headers
        )
        assert rejected.status_code == 200
        assert (rejected.json()["state"], rejected.json()["outcome"]) == ("rejected", "not_inaccurate")
        assert _decision(client, auth) == "allow"  # the second is still pending
        without_body = client.post(f"/v1/rights/corrections/{second}/reject", headers=headers)
        assert without_body.status_code == 200 and without_body.json()["outcome"] == "rejected"
        assert _decision(client, auth) == "deny"
        closes = _audit(vault, "rights.request_close")
        assert [(e.detail["state"], e.detail["outcome"], e.actor_id) for e in closes] == [
            ("rejected", "not_inaccurate", _key_id(headers)),
            ("rejected", "rejected", _key_id(headers)),
        ]
        _assert_problem(client.post(f"/v1/rights/corrections/{first}/reject", headers=headers), 409)
        _assert_problem(client.post(f"/v1/rights/corrections/{first}/complete", json={"fields": {}}, headers=headers), 409)

    def test_not_existing(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, _ = _member_with_ban(vault)
        headers = auth("subjects:write")
        missing = str(uuid.uuid4())
        problem = _assert_problem(client.post("/v1/rights/corrections", json={"subject_id": missing}, headers=headers), 404)
        assert problem["detail"] == "subject not found"
        access = vault.rights.open_request(subject_id, "access").request_id  # not a correction
        for request_id in (missing, access):
            complete = client.post(f"/v1/rights/corrections/{request_id}/complete", json={"fields": {}}, headers=headers)
            assert _assert_problem(complete, 404)["detail"] == "correction request not found"
            reject = client.post(f"/v1/rights/corrections/{request_id}/reject", headers=headers)
            assert _assert_problem(reject, 404)["detail"] == "correction request not found"
        assert vault.rights.requests()[0].state == "open"

    def test_invalid_input(self, client: TestClient, auth: Auth, vault: Vault, clock: FrozenClock) -> None:
        subject_id, _ = _member_with_ban(vault)
        headers = auth("subjects:write")
        future = (clock.now() + timedelta(days=1)).isoformat()
        for body, pointer in [
            ({"subject_id": subject_id, "reference": CANARY_PII}, "#/reference"),
            ({"subject_id": subject_id, "received_at": future}, "#/received_at"),
            ({"subject_id": subject_id, "received_at": "2026-01-01T00:00:00"}, "#/received_at"),
            ({"subject_id": subject_id, "received_at": 1767225600}, "#/received_at"),
            ({"subject_id": subject_id, "received_at": "0001-01-01T00:00:00+14:00"}, "#/received_at"),
            ({"subject_id": subject_id, "kind": "access"}, "#/kind"),
            ({"subject_id": "not-a-uuid"}, "#/subject_id"),
        ]:
            problem = _assert_problem(client.post("/v1/rights/corrections", json=body, headers=headers), 422)
            assert pointer in _pointers(problem), (body, problem)
        assert vault.rights.requests() == []
        request_id = vault.rights.begin_correction(subject_id).request_id
        url = f"/v1/rights/corrections/{request_id}/complete"
        for body in ({}, {"fields": {CANARY_PII: "x"}}, {"fields": {"email": 5}}, {"fields": {"email": ""}}, {"fields": []}):
            _assert_problem(client.post(url, json=body, headers=headers), 422)
        for reason_code in ("Not-A-Code", CANARY_PII, ""):
            reject = client.post(f"/v1/rights/corrections/{request_id}/reject", json={"reason_code": reason_code}, headers=headers)
            _assert_problem(reject, 422)
        _assert_problem(client.post("/v1/rights/corrections/REQ-1/complete", json={"fields": {}}, headers=headers), 422)
        assert vault.subjects.read(subject_id, restricted="rights")["email"] == CANARY_PII
        assert vault.rights.requests()[0].state == "open"


# --- restrictions of processing ---------------------------------------------------------------


class TestRestrictions:
    def test_anonymous_and_every_other_scope(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, _ = _member_with_ban(vault)
        _assert_guarded(client, auth, "POST", "/v1/rights/restrictions", "subjects:write", {"subject_id": subject_id})
        vault.rights.restrict_processing(subject_id)
        _assert_guarded(client, auth, "DELETE", f"/v1/rights/restrictions/{subject_id}", "subjects:write")
        assert _decision(client, auth) == "allow"  # still restricted

    def test_restrict_stops_matching_until_lifted(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, record_id = _member_with_ban(vault)
        headers = auth("subjects:write")
        placed = client.post("/v1/rights/restrictions", json={"subject_id": subject_id, "reference": "REQ-2"}, headers=headers)
        assert placed.status_code == 201, placed.text
        request = placed.json()
        assert (request["kind"], request["state"], request["outcome"]) == ("restriction", "completed", "restricted")
        assert request["completed_at"] is not None and CANARY_PII not in placed.text
        assert _decision(client, auth) == "allow"
        assert vault.rights.exportable([subject_id]) == set()
        assert [e.detail["kind"] for e in _audit(vault, "rights.request_open")] == ["restriction"]
        assert _audit(vault, "rights.request_close")[-1].actor_id == _key_id(headers)

        lifted = client.delete(f"/v1/rights/restrictions/{subject_id}", headers=headers)
        assert lifted.status_code == 200
        assert lifted.json() == {"subject_id": subject_id, "lifted": True}
        checked = client.post("/v1/checks", json=BAN, headers=auth("checks")).json()
        assert checked["decision"] == "deny" and checked["matches"][0]["record_id"] == record_id
        assert vault.rights.exportable([subject_id]) == {subject_id}
        again = client.delete(f"/v1/rights/restrictions/{subject_id}", headers=headers)
        assert again.json() == {"subject_id": subject_id, "lifted": False}
        entries = _audit(vault, "rights.restriction_lift")
        assert [(e.targets, e.detail["lifted"], e.actor_id) for e in entries] == [
            ((subject_id,), True, _key_id(headers)),
            ((subject_id,), False, _key_id(headers)),
        ]

    def test_a_restricted_subject_is_revealed_only_for_a_legal_request(
        self, client: TestClient, auth: Auth, vault: Vault
    ) -> None:
        subject_id, record_id = _member_with_ban(vault)
        vault.rights.restrict_processing(subject_id, reference="REQ-2")
        reveal = auth("subjects:reveal")
        for url in (f"/v1/subjects/{subject_id}/reveal", f"/v1/records/{record_id}/reveal"):
            problem = _assert_problem(client.post(url, json={"purpose": "support ticket 7"}, headers=reveal), 409)
            assert problem["type"].endswith("/restricted") and problem["reasons"] == ["restriction_request"]
        provision = _provision(client, auth("subjects:write"), subject_id)
        assert _assert_problem(provision, 409)["reasons"] == ["restriction_request"]
        assert [e.outcome for e in _audit(vault, "subject.reveal")] == ["conflict"]
        assert [e.outcome for e in _audit(vault, "record.reveal")] == ["conflict"]

        legal = auth("subjects:reveal", "restricted:read")
        shown = client.post(f"/v1/subjects/{subject_id}/reveal", json={"purpose": "court order 2026-9"}, headers=legal)
        assert shown.status_code == 200 and shown.json()["fields"]["email"] == CANARY_PII
        entry = _audit(vault, "subject.reveal")[-1]
        assert (entry.purpose, entry.detail) == (
            "court order 2026-9", {"fields": 3, "restriction": "restriction_request", "read_as": "legal_request"}
        )
        text = client.post(f"/v1/records/{record_id}/reveal", json={"purpose": "court order 2026-9"}, headers=legal)
        assert text.status_code == 200 and text.json()["reason"] == "card testing"
        # restricted:read alone is not a reveal scope
        only_restricted = auth("restricted:read")
        _assert_problem(client.post(f"/v1/subjects/{subject_id}/reveal", json={"purpose": "x y"}, headers=only_restricted), 403)

        client.delete(f"/v1/rights/restrictions/{subject_id}", headers=auth("subjects:write"))
        again = client.post(f"/v1/subjects/{subject_id}/reveal", json={"purpose": "support ticket 7"}, headers=reveal)
        assert again.status_code == 200 and "restriction" not in _audit(vault, "subject.reveal")[-1].detail

    def test_lifting_leaves_a_pending_correction_restricted(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, _ = _member_with_ban(vault)
        vault.rights.begin_correction(subject_id)
        response = client.delete(f"/v1/rights/restrictions/{subject_id}", headers=auth("subjects:write"))
        assert response.json() == {"subject_id": subject_id, "lifted": False}
        assert _decision(client, auth) == "allow"

    def test_not_existing(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, _ = _member_with_ban(vault)
        headers = auth("subjects:write")
        missing = str(uuid.uuid4())
        _assert_problem(client.post("/v1/rights/restrictions", json={"subject_id": missing}, headers=headers), 404)
        _assert_problem(client.delete(f"/v1/rights/restrictions/{missing}", headers=headers), 404)
        vault.subjects.shred(subject_id, "request")
        _assert_problem(client.delete(f"/v1/rights/restrictions/{subject_id}", headers=headers), 404)
        assert _audit(vault, "rights.restriction_lift") == [] and vault.rights.requests() == []

    def test_invalid_input(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, _ = _member_with_ban(vault)
        headers = auth("subjects:write")
        for body in ({}, {"subject_id": subject_id, "reference": "two words"}, {"subject_id": subject_id, "extra": 1}):
            _assert_problem(client.post("/v1/rights/restrictions", json=body, headers=headers), 422)
        problem = _assert_problem(client.delete("/v1/rights/restrictions/not-a-uuid", headers=headers), 422)
        assert problem["errors"][0]["location"] == "path"
        _assert_problem(client.delete(f"/v1/rights/restrictions/{subject_id}?reason=x", headers=headers), 422)
        assert _decision(client, auth) == "deny"


# --- provisions -------------------------------------------------------------------------------


class TestProvisions:
    def test_anonymous_and_every_other_scope(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, _ = _member_with_ban(vault)
        body = {"subject_id": subject_id, "recipient": "Acme", "items": ["email"], "purpose": "billing",
                "legal_basis": "contract", "retention": "5 years"}
        _assert_guarded(client, auth, "POST", "/v1/rights/provisions", "subjects:write", body)
        _assert_guarded(client, auth, "GET", f"/v1/rights/provisions/{subject_id}", "subjects:write")
        assert vault.rights.provisions(subject_id) == []

    def test_valid_logs_and_lists_oldest_first(self, client: TestClient, auth: Auth, vault: Vault, clock: FrozenClock) -> None:
        subject_id, _ = _member_with_ban(vault)
        headers = auth("subjects:write")
        earlier = clock.now() - timedelta(days=30)
        later = _provision(client, headers, subject_id, items=["email", "payment_supply", "email"])
        assert later.status_code == 201, later.text
        first = _provision(
            client, headers, subject_id, recipient="Courier Co", items=["*"], purpose="delivery",
            legal_basis="PIPA Art. 17(1)1 (consent)", retention="1 month", provided_at=earlier.isoformat(),
        )
        assert first.status_code == 201
        assert later.json()["items"] == ["email", "payment_supply"] and later.json()["subject_id"] == subject_id
        listed = client.get(f"/v1/rights/provisions/{subject_id}", headers=headers)
        assert listed.status_code == 200
        assert listed.json() == {"items": [first.json(), later.json()]}
        assert [p.provision_id for p in vault.rights.provisions(subject_id)] == [
            first.json()["provision_id"], later.json()["provision_id"],
        ]
        assert CANARY_PII not in later.text + first.text + listed.text
        entries = _audit(vault, "rights.provision")
        assert [(e.targets, e.detail, e.actor_id) for e in entries] == [
            ((later.json()["provision_id"], subject_id), {"items": 2}, _key_id(headers)),
            ((first.json()["provision_id"], subject_id), {"items": 1}, _key_id(headers)),
        ]

    def test_not_existing(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, _ = _member_with_ban(vault)
        headers = auth("subjects:write")
        missing = str(uuid.uuid4())
        _assert_problem(_provision(client, headers, missing), 404)
        _assert_problem(client.get(f"/v1/rights/provisions/{missing}", headers=headers), 404)
        _provision(client, headers, subject_id)
        vault.erasure.request(subject_id)  # erasure deletes the provisions log with the subject
        _assert_problem(client.get(f"/v1/rights/provisions/{subject_id}", headers=headers), 404)

    def test_invalid_input(self, client: TestClient, auth: Auth, vault: Vault, clock: FrozenClock) -> None:
        subject_id, _ = _member_with_ban(vault)
        headers = auth("subjects:write")
        for change, pointer in [
            ({"items": []}, "#/items"),
            ({"items": "email"}, "#/items"),
            ({"items": ["E-mail"]}, "#/items/0"),
            ({"items": [CANARY_PII]}, "#/items/0"),
            ({"recipient": ""}, "#/recipient"),
            ({"recipient": "   "}, "#/recipient"),
            ({"purpose": "two\nlines"}, "#/purpose"),
            ({"legal_basis": "x" * 501}, "#/legal_basis"),
            ({"retention": None}, "#/retention"),
            ({"provided_at": (clock.now() + timedelta(hours=1)).isoformat()}, "#/provided_at"),
            ({"provided_at": "1969-12-31T23:59:59Z"}, "#/provided_at"),
            ({"note": "x"}, "#/note"),
        ]:
            problem = _assert_problem(_provision(client, headers, subject_id, **change), 422)
            assert pointer in _pointers(problem), (change, problem)
        _assert_problem(client.get("/v1/rights/provisions/123", headers=headers), 422)
        assert vault.rights.provisions(subject_id) == []


# --- requests and deadlines -------------------------------------------------------------------


class TestRequests:
    def test_anonymous_and_every_other_scope(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, _ = _member_with_ban(vault)
        _assert_guarded(client, auth, "POST", "/v1/rights/requests", "admin", {"subject_id": subject_id, "kind": "access"})
        _assert_guarded(client, auth, "GET", "/v1/rights/requests?overdue=true", "admin")
        request_id = vault.rights.open_request(subject_id, "access").request_id
        _assert_guarded(client, auth, "POST", f"/v1/rights/requests/{request_id}/complete", "admin", {})
        assert [r.state for r in vault.rights.requests()] == ["open"]

    def test_every_kind_gets_a_ten_day_deadline(self, client: TestClient, auth: Auth, vault: Vault, clock: FrozenClock) -> None:
        subject_id, _ = _member_with_ban(vault)
        headers = auth("admin")
        for kind in ("access", "correction", "restriction", "erasure"):
            response = client.post("/v1/rights/requests", json={"subject_id": subject_id, "kind": kind}, headers=headers)
            assert response.status_code == 201, response.text
            body = response.json()
            assert (body["kind"], body["state"], body["overdue"], body["outcome"]) == (kind, "open", False, None)
            assert CANARY_PII not in response.text
        assert {r.due_at for r in vault.rights.requests()} == {request_deadline(clock.now(), vault.retention.policies.zone)}
        entries = _audit(vault, "rights.request_open")
        assert [e.detail["kind"] for e in entries] == ["access", "correction", "restriction", "erasure"]
        assert {e.actor_id for e in entries} == {_key_id(headers)}
        # tracking a correction or a restriction request restricts nothing by itself
        assert _decision(client, auth) == "deny"

    def test_overdue_after_the_clock_moves_eleven_days(
        self, client: TestClient, auth: Auth, vault: Vault, clock: FrozenClock
    ) -> None:
        subject_id, _ = _member_with_ban(vault)
        other = vault.subjects.create({"name": "Other"})
        headers = auth("admin")

        def opened(subject: str, kind: str, **extra: Any) -> str:
            response = client.post("/v1/rights/requests", json={"subject_id": subject, "kind": kind, **extra}, headers=headers)
            assert response.status_code == 201, response.text
            return str(response.json()["request_id"])

        def listed(**params: Any) -> list[str]:
            response = client.get("/v1/rights/requests", params=params, headers=headers)
            assert response.status_code == 200, response.text
            return [item["request_id"] for item in response.json()["items"]]

        def days_ago(days: int) -> str:
            return (clock.now() - timedelta(days=days)).isoformat()

        late = opened(subject_id, "access", received_at=days_ago(3), reference="REQ-7")
        erasure = opened(subject_id, "erasure", received_at=days_ago(2))
        elsewhere = opened(other, "access", received_at=days_ago(1))
        closed = opened(other, "correction")
        vault.rights.complete_request(closed)
        assert listed(overdue="true") == []
        assert listed() == [late, erasure, elsewhere, closed]
        assert listed(open="true") == [late, erasure, elsewhere]
        assert listed(subject_id=subject_id) == [late, erasure]
        assert listed(limit=1) == [late]

        clock.advance(timedelta(days=11))
        assert listed(overdue="true") == [late, erasure, elsewhere]
        assert listed(overdue="true", subject_id=other) == [elsewhere]
        response = client.get("/v1/rights/requests", params={"overdue": "true"}, headers=headers)
        first = response.json()["items"][0]
        assert first["overdue"] is True and first["reference"] == "REQ-7"

        done = client.post(f"/v1/rights/requests/{late}/complete", json={"outcome": "answered_late"}, headers=headers)
        assert done.status_code == 200
        assert (done.json()["state"], done.json()["outcome"], done.json()["overdue"]) == ("completed", "answered_late", False)
        entry = _audit(vault, "rights.request_close")[-1]
        assert entry.detail["late"] is True and entry.actor_id == _key_id(headers)
        assert entry.targets == (late, subject_id)
        vault.erasure.request(subject_id)  # completes the subject's open erasure request
        assert listed(overdue="true") == [elsewhere]
        assert CANARY_PII not in response.text

    def test_complete_and_reject(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, _ = _member_with_ban(vault)
        headers = auth("admin")
        first = vault.rights.open_request(subject_id, "access").request_id
        second = vault.rights.open_request(subject_id, "restriction").request_id
        plain = client.post(f"/v1/rights/requests/{first}/complete", headers=headers)
        assert plain.status_code == 200
        assert (plain.json()["state"], plain.json()["outcome"]) == ("completed", "completed")
        rejected = client.post(
            f"/v1/rights/requests/{second}/complete", json={"outcome": "manifestly_unfounded", "rejected": True}, headers=headers
        )
        assert (rejected.json()["state"], rejected.json()["outcome"]) == ("rejected", "manifestly_unfounded")
        assert [e.detail["late"] for e in _audit(vault, "rights.request_close")] == [False, False]
        problem = _assert_problem(client.post(f"/v1/rights/requests/{first}/complete", headers=headers), 409)
        assert "already completed" in problem["detail"]

    def test_not_existing(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        headers = auth("admin")
        missing = str(uuid.uuid4())
        problem = _assert_problem(client.post("/v1/rights/requests", json={"subject_id": missing, "kind": "access"}, headers=headers), 404)
        assert problem["detail"] == "subject not found"
        problem = _assert_problem(client.post(f"/v1/rights/requests/{missing}/complete", headers=headers), 404)
        assert problem["detail"] == "request not found"
        response = client.get("/v1/rights/requests", params={"subject_id": missing}, headers=headers)
        assert response.status_code == 200 and response.json() == {"items": []}
        assert _audit(vault, "rights.request_open") == []

    def test_invalid_input(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, _ = _member_with_ban(vault)
        headers = auth("admin")
        for body, pointer in [
            ({"subject_id": subject_id, "kind": "deletion"}, "#/kind"),
            ({"subject_id": subject_id}, "#/kind"),
            ({"subject_id": subject_id, "kind": "access", "reference": CANARY_PII}, "#/reference"),
            ({"subject_id": subject_id, "kind": "access", "received_at": "yesterday"}, "#/received_at"),
        ]:
            problem = _assert_problem(client.post("/v1/rights/requests", json=body, headers=headers), 422)
            assert pointer in _pointers(problem), (body, problem)
        for params in ({"limit": 0}, {"limit": 1001}, {"overdue": "perhaps"}, {"subject_id": "nope"}, {"overdu": "true"}):
            _assert_problem(client.get("/v1/rights/requests", params=params, headers=headers), 422)
        request_id = vault.rights.open_request(subject_id, "access").request_id
        for body in ({"outcome": "Done!"}, {"rejected": "yes"}, {"outcome": CANARY_PII}, {"state": "completed"}):
            _assert_problem(client.post(f"/v1/rights/requests/{request_id}/complete", json=body, headers=headers), 422)
        _assert_problem(client.post("/v1/rights/requests/42/complete", headers=headers), 422)
        assert [r.state for r in vault.rights.requests()] == ["open"]


class TestConsents:
    """Finding 8: consents recorded per purpose with the text's version, a consent-withdrawal request
    kind with its deadline, and who made each request."""

    def test_grant_list_withdraw_and_the_request_it_answers(
        self, client: TestClient, auth: Auth, vault: Vault, clock: FrozenClock
    ) -> None:
        subject_id, _ = _member_with_ban(vault)
        headers = auth("subjects:write")
        body = {"subject_id": subject_id, "purpose": "keep_after_withdrawal", "text_version": "privacy-2026-03"}
        granted = client.post("/v1/rights/consents", json=body, headers={**headers, "Idempotency-Key": "consent-1-abc"})
        assert granted.status_code == 201, granted.text
        consent = granted.json()
        assert (consent["purpose"], consent["text_version"], consent["active"], consent["withdrawn_at"]) == (
            "keep_after_withdrawal", "privacy-2026-03", True, None)
        again = client.post("/v1/rights/consents", json=body, headers={**headers, "Idempotency-Key": "consent-1-abc"})
        assert again.status_code == 201 and again.json()["consent_id"] == consent["consent_id"]
        assert _assert_problem(client.post("/v1/rights/consents", json=body, headers=headers), 409)
        entry = _audit(vault, "rights.consent_grant")[-1]
        assert entry.detail == {"purpose": "keep_after_withdrawal", "text_version": "privacy-2026-03"}

        # a guardian asks for the consent to be withdrawn; withdrawing it answers the request
        opened = client.post("/v1/rights/requests", json={"subject_id": subject_id, "kind": "consent_withdrawal",
                                                          "requester": "guardian"}, headers=auth("admin"))
        assert opened.status_code == 201, opened.text
        request = opened.json()
        assert (request["kind"], request["requester"], request["state"]) == ("consent_withdrawal", "guardian", "open")
        assert _audit(vault, "rights.request_open")[-1].detail == {"kind": "consent_withdrawal", "requester": "guardian"}
        clock.advance(timedelta(hours=2))
        withdrawn = client.post("/v1/rights/consents/withdraw",
                                json={"subject_id": subject_id, "purpose": "keep_after_withdrawal"}, headers=headers)
        assert withdrawn.status_code == 200 and withdrawn.json()["active"] is False
        assert vault.rights.request(request["request_id"]).state == "completed"
        assert vault.rights.request(request["request_id"]).outcome == "withdrawn"
        missing = client.post("/v1/rights/consents/withdraw",
                              json={"subject_id": subject_id, "purpose": "keep_after_withdrawal"}, headers=headers)
        _assert_problem(missing, 404)
        listed = client.get(f"/v1/rights/consents/{subject_id}", headers=headers).json()["items"]
        assert [(c["purpose"], c["active"]) for c in listed] == [("keep_after_withdrawal", False)]
        export = client.post("/v1/rights/access-export", json={"subject_id": subject_id, "purpose": "access request 4"},
                             headers=auth("subjects:reveal")).json()
        assert [c["consent_id"] for c in export["consents"]] == [consent["consent_id"]]
        assert export["requests"][0]["requester"] == "guardian"

    def test_scopes_and_bad_input(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, _ = _member_with_ban(vault)
        body = {"subject_id": subject_id, "purpose": "marketing", "text_version": "v1"}
        _assert_problem(client.post("/v1/rights/consents", json=body), 401)
        for scope in ("subjects:reveal", "admin", "checks", "records:write"):
            _assert_problem(client.post("/v1/rights/consents", json=body, headers=auth(scope)), 403)
        headers = auth("subjects:write")
        for bad in ({**body, "purpose": "Marketing!"}, {**body, "text_version": "the full text of it"},
                    {**body, "text_version": CANARY_PII}, {**body, "granted_at": "2999-01-01T00:00:00Z"},
                    {**body, "extra": 1}, {"subject_id": "x", "purpose": "marketing", "text_version": "v1"}):
            _assert_problem(client.post("/v1/rights/consents", json=bad, headers=headers), 422)
        _assert_problem(client.post("/v1/rights/consents", json={**body, "subject_id": str(uuid.uuid4())},
                                    headers=headers), 404)
        bad_requester = {"subject_id": subject_id, "kind": "access", "requester": "lawyer"}
        _assert_problem(client.post("/v1/rights/requests", json=bad_requester, headers=auth("admin")), 422)
        assert vault.rights.consents(subject_id) == []


class TestNotifications:
    def test_list_and_close_with_scopes_and_bad_input(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        subject_id, _ = _member_with_ban(vault)
        headers = auth("subjects:write")
        assert _provision(client, headers, subject_id).status_code == 201
        receipt = vault.erasure.request(subject_id)
        _assert_problem(client.get("/v1/rights/notifications"), 401)
        for scope in ("admin", "subjects:reveal", "checks"):
            _assert_problem(client.get("/v1/rights/notifications", headers=auth(scope)), 403)
        (task,) = client.get("/v1/rights/notifications", params={"state": "pending"}, headers=headers).json()["items"]
        assert (task["recipient"], task["cause"], task["request_id"], task["state"]) == (
            "Acme Payments", "erasure", receipt.body["request_id"], "pending")
        url = f"/v1/rights/notifications/{task['notification_id']}/close"
        for bad in ({"state": "notified"}, {"state": "done", "means": "email"}, {"means": "E-mail!"},
                    {"means": CANARY_PII}, {"means": "email", "extra": 1}):
            _assert_problem(client.post(url, json=bad, headers=headers), 422)
        _assert_problem(client.post(f"/v1/rights/notifications/{uuid.uuid4()}/close", json={"means": "email"},
                                    headers=headers), 404)
        closed = client.post(url, json={"means": "email"}, headers=headers)
        assert closed.status_code == 200 and closed.json()["state"] == "notified" and closed.json()["means"] == "email"
        _assert_problem(client.post(url, json={"means": "letter"}, headers=headers), 409)
        assert client.get("/v1/rights/notifications", params={"state": "pending"}, headers=headers).json() == {"items": []}
        _assert_problem(client.get("/v1/rights/notifications", params={"state": "open"}, headers=headers), 422)


def test_the_webhook_outbox_is_listed_for_admins(client: TestClient, auth: Auth, vault: Vault) -> None:
    _assert_problem(client.get("/v1/webhooks/deliveries", headers=auth("subjects:write")), 403)
    listed = client.get("/v1/webhooks/deliveries", params={"state": "pending"}, headers=auth("admin"))
    assert listed.status_code == 200 and listed.json() == {"enabled": False, "items": []}
    _assert_problem(client.get("/v1/webhooks/deliveries", params={"state": "lost"}, headers=auth("admin")), 422)


def test_the_openapi_document_lists_the_rights_operations(app: Any) -> None:
    paths = app.openapi()["paths"]
    rights = {p: ops for p, ops in paths.items() if p.startswith("/v1/rights/")}
    assert len(rights) == 15
    assert paths["/v1/rights/consents"]["post"]["x-required-scopes"] == ["subjects:write"]
    assert paths["/v1/rights/access-export"]["post"]["x-required-scopes"] == ["subjects:reveal"]
    assert paths["/v1/rights/requests"]["get"]["x-required-scopes"] == ["admin"]
    assert paths["/v1/rights/provisions"]["post"]["x-required-scopes"] == ["subjects:write"]
    for body_only in ("/v1/rights/access-export", "/v1/rights/corrections", "/v1/rights/requests"):
        assert "404" in paths[body_only]["post"]["responses"]
