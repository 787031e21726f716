"""pseudovault-client against a live ``pseudovault serve``: the walk-through with the sync and the
async client (subject with fields, reveal, record, check, pages, erasure, receipt verified offline
and by the vault), typed errors from real answers, idempotent retries, a key rotating itself,
and every operation of the live OpenAPI description covered by both clients with models that
match its schemas."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_support import Live
from pseudovault_client import AsyncClient, Client, RetryPolicy, models, verify_receipt
from pseudovault_client.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed

from pseudovault.vault.apikeys import SCOPES


@pytest.fixture(scope="module")
def everything(live: Live) -> str:
    return live.token(*SCOPES, name="everything")


def test_the_walk_through_with_the_sync_client(live: Live, everything: str, tmp_path: Path) -> None:
    with Client(live.base, token=everything) as vault:
        assert vault.healthz().status == "ok" and vault.readyz().status == "ready"
        created = vault.subjects.create({"fields": {"email": "kim@example.com", "name": "Kim Minji"}})
        revealed = vault.subjects.reveal(created.subject_id, purpose="client walk-through")
        assert revealed.fields == {"email": "kim@example.com", "name": "Kim Minji"}
        assert vault.subjects.reveal(created.subject_id, purpose="one field", fields=["name"]).fields == {"name": "Kim Minji"}
        vault.subjects.update(created.subject_id, {"name": None, "city": "Seoul"})
        assert vault.subjects.reveal(created.subject_id, purpose="after update").fields == {
            "email": "kim@example.com", "city": "Seoul"}

        record = vault.records.create(
            models.RecordCreate(
                identifiers=[models.Identifier(kind="email", value="kim@example.com")],
                category="fraudulent_transaction",
                reason_code="chargeback_fraud",
                subject_id=created.subject_id,
            )
        )
        assert record.status == "active" and record.identifier_kinds == {"email": 1}
        decision = vault.checks.check({"email": "Kim@Example.com"})
        assert decision.decision == "deny" and decision.matches[0].record_id == record.record_id
        batch = vault.checks.batch([{"email": "kim@example.com"}, [{"kind": "email", "value": "new@example.com"}]])
        assert [d.decision for d in batch.decisions] == ["deny", "allow"]
        assert [r.record_id for r in vault.records.find("email", "KIM@example.com").items] == [record.record_id]
        for n in range(4):
            vault.records.create({"identifiers": [{"kind": "device_id", "value": f"device-{n}-of-walk"}],
                                  "category": "fraudulent_transaction", "reason_code": "multi_accounting"})
        listed = [r.record_id for r in vault.records.iterate(limit=2)]
        assert len(listed) == len(set(listed)) >= 5 and record.record_id in listed  # three pages

        erased = vault.erasure.request(created.subject_id, request_id="ticket-1")
        assert erased.subject_id == created.subject_id
        receipt = vault.erasure.receipt("ticket-1")
        assert bytes(receipt) == bytes(vault.erasure.receipt_of_subject(created.subject_id))
        assert receipt.request_id == "ticket-1" and receipt.endswith(b"\n")
        (tmp_path / "receipt.json").write_bytes(receipt)
        signing = vault.keys.status().signing_keys
        pin = next(key.public_key for key in signing if key.key_id == receipt.key_id)
        assert verify_receipt((tmp_path / "receipt.json").read_bytes(), pin=pin).ok
        assert vault.erasure.verify(receipt).ok is True
        assert vault.erasure.verify(receipt.replace(b"ticket-1", b"ticket-2")).ok is False
        assert vault.erasure.request(created.subject_id, request_id="ticket-1").subject_id == created.subject_id

        with pytest.raises(NotFound) as gone:
            vault.subjects.reveal(created.subject_id, purpose="after erasure")
        assert gone.value.status == 404 and gone.value.request_id
        with pytest.raises(ValidationFailed) as invalid:
            vault.records.get("not-a-uuid")
        assert invalid.value.errors and invalid.value.errors[0]["pointer"]
        entries = list(vault.audit.iterate(limit=3))  # pages of three: the module's other tests may come first
        assert [entry.seq for entry in entries] == sorted({entry.seq for entry in entries})
        mine = [entry.action for entry in entries if created.subject_id in entry.targets]
        assert mine[0] == "subject.create" and mine.index("subject.reveal") < mine.index("erasure.request")
        assert "pseudovault_" in vault.metrics() and vault.status().subjects is not None
        assert vault.audit.verify().restore_acknowledged_at is None
        with pytest.raises(Conflict) as nothing:  # no restore to acknowledge: refused, nothing recorded
            vault.audit.acknowledge_restore()
        assert nothing.value.status == 409


def test_the_walk_through_with_the_async_client(live: Live, everything: str) -> None:
    async def walk() -> None:
        async with AsyncClient(live.base, token=everything) as vault:
            created = await vault.subjects.create({"fields": {"phone": "+82 10-1234-5678"}})
            assert (await vault.subjects.reveal(created.subject_id, purpose="async")).fields == {"phone": "+82 10-1234-5678"}
            await vault.records.create({"identifiers": [{"kind": "phone", "value": "+82 10-1234-5678"}],
                                        "category": "fraudulent_transaction", "reason_code": "chargeback_fraud"})
            decisions = await asyncio.gather(*(vault.checks.check({"phone": "010-1234-5678"}) for _ in range(5)))
            assert {d.decision for d in decisions} == {"deny"}
            ids = [s.subject_id async for s in vault.subjects.iterate(limit=1)]
            assert created.subject_id in ids
            shredded = await vault.subjects.shred(created.subject_id, reason="user_request")
            assert shredded.already is False and (await vault.subjects.shred(created.subject_id)).already is True

    asyncio.run(walk())


def test_a_retried_create_creates_one_subject(live: Live, everything: str) -> None:
    with Client(live.base, token=everything) as vault:
        first = vault.subjects.create({"fields": {"email": "once@example.com"}}, idempotency_key="signup-42")
        again = vault.subjects.create({"fields": {"email": "once@example.com"}}, idempotency_key="signup-42")
        assert first.subject_id == again.subject_id


def test_typed_errors_for_a_wrong_token_and_a_missing_scope(live: Live) -> None:
    checks_only = live.token("checks", name="signup")
    with Client(live.base, token=checks_only) as vault:
        assert vault.checks.check({"ip": "203.0.113.9"}).decision == "allow"
        with pytest.raises(Forbidden):
            vault.subjects.create({"fields": {"email": "x@example.com"}})
    with Client(live.base, token="pvk_aaaaaaaaaa_" + "A" * 43, retry=RetryPolicy(retries=0)) as vault:
        with pytest.raises(Unauthorized) as refused:
            vault.checks.check({"ip": "203.0.113.9"})
        assert refused.value.code == "unauthorized"


def test_a_key_rotates_itself_and_the_client_follows(live: Live) -> None:
    token = live.token("checks", name="rotating")
    with Client(live.base, token=token) as vault:
        assert vault.apikeys.own().rotated_at is None
        issued = vault.apikeys.rotate_own(grace_seconds=60)
        assert issued.token != token and issued.key_id == token[4:14] and token not in repr(issued)
        assert vault.checks.check({"ip": "203.0.113.9"}).decision == "allow"  # with the new token
        assert vault.apikeys.own().rotated_at is not None
    with Client(live.base, token=token) as old:  # the old one, within its grace period
        assert old.checks.check({"ip": "203.0.113.9"}).decision == "allow"


# --- every operation, every schema --------------------------------------------------------

#: operation id -> the client's method (group.method, or a method of the client itself)
OPERATIONS = {
    "healthz": "healthz", "readyz": "readyz", "metrics": "metrics", "vault_status": "status",
    "check": "checks.check", "check_batch": "checks.batch",
    "create_record": "records.create", "list_records": "records.list", "find_records": "records.find",
    "get_record": "records.get", "update_record": "records.update", "revoke_record": "records.revoke",
    "reveal_record": "records.reveal", "record_record_event": "records.record_event",
    "preview_record_event": "records.preview_event",
    "create_subject": "subjects.create", "list_subjects": "subjects.list", "reveal_subject": "subjects.reveal",
    "verify_subject_field": "subjects.verify", "update_subject": "subjects.update", "shred_subject": "subjects.shred",
    "get_subject_categories": "subjects.categories", "categorize_subject": "subjects.categorize",
    "record_subject_event": "subjects.record_event", "preview_subject_event": "subjects.preview_event",
    "key_status": "keys.status", "rotate_keys": "keys.rotate", "rewrap_keys": "keys.rewrap",
    "list_audit": "audit.list", "verify_audit": "audit.verify", "checkpoint_audit": "audit.checkpoint",
    "acknowledge_restore": "audit.acknowledge_restore",
    "list_policies": "retention.policies", "diff_policies": "retention.diff", "apply_policies": "retention.apply",
    "report": "retention.report", "retention_notice": "retention.notice", "sweep": "retention.sweep",
    "items": "retention.items", "review": "retention.review",
    "place_hold": "holds.place", "list_holds": "holds.list", "get_hold": "holds.get", "release_hold": "holds.release",
    "request_erasure": "erasure.request", "receipt_of_subject": "erasure.receipt_of_subject",
    "receipt_of_request": "erasure.receipt", "verify_receipt": "erasure.verify",
    "list_separated": "separated.list", "read_separated": "separated.read",
    "read_separated_record": "separated.read_record",
    "access_export": "rights.access_export", "open_correction": "rights.open_correction",
    "complete_correction": "rights.complete_correction", "reject_correction": "rights.reject_correction",
    "restrict_processing": "rights.restrict", "lift_restriction": "rights.lift_restriction",
    "record_provision": "rights.record_provision", "list_provisions": "rights.provisions",
    "list_notifications": "rights.notifications", "close_notification": "rights.close_notification",
    "grant_consent": "rights.grant_consent", "withdraw_consent": "rights.withdraw_consent",
    "list_consents": "rights.consents", "open_request": "rights.open_request", "list_requests": "rights.requests",
    "complete_request": "rights.complete_request",
    "list_deliveries": "webhooks.deliveries",
    "get_own_apikey": "apikeys.own", "rotate_own_apikey": "apikeys.rotate_own", "list_apikeys": "apikeys.list",
    "get_apikey": "apikeys.get", "revoke_apikey": "apikeys.revoke",
}


@pytest.fixture(scope="module")
def description(live: Live) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{live.base}/openapi.json", timeout=10).json()
    return document


def test_every_operation_has_a_method_on_both_clients(description: dict[str, Any]) -> None:
    ids = {op["operationId"] for item in description["paths"].values() for op in item.values()}
    assert ids == set(OPERATIONS)
    for client in (Client("http://x"), AsyncClient("http://x")):
        for dotted in OPERATIONS.values():
            target: Any = client
            for part in dotted.split("."):
                target = getattr(target, part)
            assert callable(target), dotted


def test_every_schema_has_a_model_with_its_fields(description: dict[str, Any]) -> None:
    for name, schema in description["components"]["schemas"].items():
        model = getattr(models, name, None)
        assert model is not None, f"{name}: run clients/python/tools/regenerate.py"
        fields = model.model_fields
        assert set(fields) == set(schema.get("properties", {})), name
        required = {field for field, info in fields.items() if info.is_required()}
        assert required == set(schema.get("required", [])), name
