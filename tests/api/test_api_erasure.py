"""POST /v1/erasure-requests and the receipts: PII shredded, the ban kept and still matching, the
payment record moved to separate storage, a signed receipt that verifies offline; idempotent by
request id; refused with the hold id under a legal hold."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from canary import CANARY_PII
from fastapi.testclient import TestClient

from pseudovault.vault.retention.receipts import canonical, verify_document
from pseudovault.vault.vault import Vault

Auth = Callable[..., dict[str, str]]

FIELDS = {"name": "Kim Minji", "email": CANARY_PII, "order_ref": "ord-77", "amount": "129000"}
CATEGORIES = {"member": None, "payment_supply": ["order_ref", "amount"]}
SUBJECT_404 = "0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10"


def _subject_with_ban_and_payment(vault: Vault) -> tuple[str, str]:
    subject_id = vault.retention.create_subject(FIELDS, CATEGORIES)
    vault.retention.record_event("subject", subject_id, "payment", at=vault.clock.now())
    record_id = vault.records.create(
        [("email", CANARY_PII)],
        category="fraudulent_transaction",
        reason_code="chargeback",
        evidence=f"three chargebacks by {CANARY_PII}",
        subject_id=subject_id,
    )
    return subject_id, record_id


def _erase(client: TestClient, headers: dict[str, str], subject_id: str, request_id: str | None = None) -> Any:
    body: dict[str, Any] = {"subject_id": subject_id}
    if request_id is not None:
        body["request_id"] = request_id
    return client.post("/v1/erasure-requests", json=body, headers=headers)


def test_an_erasure_request_end_to_end(client: TestClient, vault: Vault, auth: Auth, tmp_path: Path) -> None:
    subject_id, record_id = _subject_with_ban_and_payment(vault)
    erasure = auth("erasure")

    response = _erase(client, erasure, subject_id, "DSR-2026-0001")
    assert response.status_code == 201, response.json()
    assert response.headers["location"] == "/v1/erasure-requests/DSR-2026-0001"
    out = response.json()
    assert (out["request_id"], out["subject_id"], out["already"]) == ("DSR-2026-0001", subject_id, False)
    assert CANARY_PII not in response.text and "Kim Minji" not in response.text and "129000" not in response.text

    # PII shredded; the ban still matches; the payment fields are in separate storage
    reveal = client.post(f"/v1/subjects/{subject_id}/reveal", json={"purpose": "after erasure"},
                         headers=auth("subjects:reveal"))
    assert reveal.status_code == 404
    check = client.post("/v1/checks", json={"identifiers": [{"kind": "email", "value": CANARY_PII}]}, headers=auth("checks"))
    assert check.status_code == 200 and check.json()["decision"] == "deny"
    (separated,) = vault.separate.list(subject_id)
    assert separated.category == "payment_supply"

    # the receipt lists both with basis and expiry, and its document verifies offline
    body = out["receipt"]["receipt"]
    assert body["destroyed"]["subject_fields"] == ["email", "name"]
    retained = {entry["kind"]: entry for entry in body["retained"]}
    assert retained["ban"]["record_id"] == record_id and retained["ban"]["legal_basis"]
    assert retained["separate_storage"]["category"] == "payment_supply"
    assert "Electronic Commerce" in retained["separate_storage"]["legal_basis"]
    assert retained["separate_storage"]["retained_until"]
    document = out["document"].encode("ascii")
    assert canonical(out["receipt"]) + b"\n" == document
    assert verify_document(document).ok

    # the stored receipt: the same bytes, by request id and by subject
    by_request = client.get("/v1/erasure-requests/DSR-2026-0001", headers=erasure)
    assert by_request.status_code == 200 and by_request.headers["content-type"] == "application/json"
    assert by_request.content == document
    by_subject = client.get("/v1/erasure-requests", params={"subject_id": subject_id}, headers=erasure)
    assert by_subject.status_code == 200 and by_subject.content == document
    # the same bytes for a client that asks for them as bytes (generated clients)
    as_bytes = client.get("/v1/erasure-requests/DSR-2026-0001", headers={**erasure, "Accept": "application/octet-stream"})
    assert as_bytes.headers["content-type"] == "application/octet-stream" and as_bytes.content == document
    receipt_file = tmp_path / "receipt.json"
    receipt_file.write_bytes(by_request.content)
    assert verify_document(receipt_file.read_bytes()).ok

    # a second identical request: 200 and the same receipt; nothing more destroyed
    again = _erase(client, erasure, subject_id, "DSR-2026-0001")
    assert again.status_code == 200 and again.json()["already"] is True
    assert again.json()["document"] == out["document"]
    # any request for the erased subject answers with that receipt
    other_id = _erase(client, erasure, subject_id)
    assert other_id.status_code == 200 and other_id.json()["request_id"] == "DSR-2026-0001"

    # verify through the API: valid, pinned, and tampered
    signature = out["receipt"]["signature"]
    ok = client.post("/v1/erasure-requests/verify-receipt",
                     json={"document": out["document"], "public_key": signature["public_key"]}, headers=erasure)
    assert ok.status_code == 200
    assert ok.json() | {} == {"ok": True, "reason": None, "key_id": signature["key_id"], "vault_checked": True,
                              "pinned": True, "request_id": "DSR-2026-0001", "subject_id": subject_id}
    tampered = out["document"].replace("payment_supply", "payment_supplx")
    bad = client.post("/v1/erasure-requests/verify-receipt", json={"document": tampered}, headers=erasure)
    assert bad.status_code == 200 and bad.json()["ok"] is False and bad.json()["reason"]
    wrong_pin = client.post("/v1/erasure-requests/verify-receipt",
                            json={"document": out["document"], "public_key": "ab" * 32}, headers=erasure)
    assert wrong_pin.json()["ok"] is False and "pinned" in wrong_pin.json()["reason"]
    junk = client.post("/v1/erasure-requests/verify-receipt", json={"document": "{not json"}, headers=erasure)
    assert junk.status_code == 200 and junk.json()["ok"] is False


def test_a_held_subject_is_refused_naming_the_hold(client: TestClient, vault: Vault, auth: Auth) -> None:
    subject_id, _record_id = _subject_with_ban_and_payment(vault)
    admin = auth("admin")
    placed = client.post(
        "/v1/holds",
        json={"target_kind": "subject", "target_id": subject_id, "reason_code": "litigation",
              "reference": "CASE-2026-0142"},
        headers=admin,
    )
    assert placed.status_code == 201, placed.json()
    hold_id = placed.json()["hold_id"]

    refused = _erase(client, auth("erasure"), subject_id, "DSR-HELD-1")
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["type"].endswith("/held") and problem["hold_id"] == hold_id and hold_id in problem["detail"]
    shred = client.delete(f"/v1/subjects/{subject_id}", headers=auth("erasure"))
    assert shred.status_code == 409 and shred.json()["hold_id"] == hold_id
    # nothing changed
    assert vault.subjects.read(subject_id, purpose="test")["email"] == CANARY_PII
    assert client.get("/v1/erasure-requests/DSR-HELD-1", headers=auth("erasure")).status_code == 404

    released = client.post(f"/v1/holds/{hold_id}/release", json={}, headers=admin)
    assert released.status_code == 200 and released.json()["active"] is False
    assert _erase(client, auth("erasure"), subject_id, "DSR-HELD-1").status_code == 201


def test_a_hold_on_a_linked_record_blocks_the_erasure_too(client: TestClient, vault: Vault, auth: Auth) -> None:
    subject_id, record_id = _subject_with_ban_and_payment(vault)
    hold = vault.holds.place("record", record_id, reason_code="investigation", reference="FR-88")
    refused = _erase(client, auth("erasure"), subject_id)
    assert refused.status_code == 409 and refused.json()["hold_id"] == hold.hold_id


def test_errors(client: TestClient, vault: Vault, auth: Auth) -> None:
    erasure = auth("erasure")
    assert _erase(client, erasure, SUBJECT_404).status_code == 404
    first = vault.retention.create_subject({"name": "A"}, ["member"])
    second = vault.retention.create_subject({"name": "B"}, ["member"])
    assert _erase(client, erasure, first, "DSR-1").status_code == 201
    reused = _erase(client, erasure, second, "DSR-1")
    assert reused.status_code == 409 and reused.json()["type"].endswith("/conflict")
    assert vault.subjects.read(second, purpose="test") == {"name": "B"}
    for bad in (
        {},
        {"subject_id": "not-a-uuid"},
        {"subject_id": first, "request_id": "has space"},
        {"subject_id": first, "request_id": "a@b.example"},
        {"subject_id": first, "request_id": "x" * 65},
        {"subject_id": first, "extra": 1},
        {"subject_id": 5},
    ):
        response = client.post("/v1/erasure-requests", json=bad, headers=erasure)
        assert response.status_code == 422, bad
    assert client.get("/v1/erasure-requests/DSR-404", headers=erasure).status_code == 404
    assert client.get("/v1/erasure-requests/bad id!", headers=erasure).status_code in (404, 422)
    assert client.get("/v1/erasure-requests", params={"subject_id": second}, headers=erasure).status_code == 404
    assert client.get("/v1/erasure-requests", headers=erasure).status_code == 422
    bad_pin = client.post("/v1/erasure-requests/verify-receipt", json={"document": "{}", "public_key": "AB" * 32},
                          headers=erasure)
    assert bad_pin.status_code == 422


@pytest.mark.parametrize("scope", ["admin", "subjects:write", "subjects:reveal", "records:write", "restricted:read"])
def test_only_the_erasure_scope_may_erase(client: TestClient, vault: Vault, auth: Auth, scope: str) -> None:
    subject_id = vault.retention.create_subject({"name": "A"}, ["member"])
    assert _erase(client, auth(scope), subject_id).status_code == 403
    assert client.post("/v1/erasure-requests", json={"subject_id": subject_id}).status_code == 401
    assert vault.subjects.read(subject_id, purpose="test") == {"name": "A"}


def test_the_erasure_is_audited_with_the_key(client: TestClient, vault: Vault, make_key: Callable[..., str]) -> None:
    token = make_key("erasure")
    subject_id = vault.retention.create_subject({"email": CANARY_PII}, ["member"])
    response = _erase(client, {"Authorization": f"Bearer {token}"}, subject_id, "DSR-AUD-1")
    assert response.status_code == 201
    entries = vault.audit.query(action="erasure.request", limit=1000)
    assert entries and entries[-1].actor_id == token.split("_")[1]
    assert CANARY_PII not in json.dumps([str(e) for e in entries])
