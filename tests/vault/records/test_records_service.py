"""vault.records.RecordService: create, read, list, find, reveal, status changes, update; input
validation that writes nothing; audit entries and logs that never hold identifiers or free text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from canary import CANARY_PII
from records_support import EMAIL, IP, PHONE, rows, scalar, table_text

from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError
from pseudovault.vault.identifiers import InvalidIdentifierError
from pseudovault.vault.records.views import DuplicateRecordError, RecordText
from pseudovault.vault.vault import Vault

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NEVER = "9e5b2c71-4f3a-4d8e-8b6c-1a0f7e2d3c4b"
TABLES = ("records", "record_identifiers", "record_fields", "audit_entries")


def _counts(vault: Vault) -> dict[str, int]:
    counts = {table: scalar(vault.data_engine, f"SELECT COUNT(*) FROM {table}") for table in TABLES}
    counts["record_keys"] = scalar(vault.keys_engine, "SELECT COUNT(*) FROM record_keys")
    return counts


def _audit(vault: Vault, action: str) -> list[Any]:
    return vault.audit.query(action=action)


def test_create_then_get_and_list(vault: Vault, clock: FrozenClock) -> None:
    subject_id = vault.subjects.create({"name": "Kim"})
    record_id = vault.records.create(
        [EMAIL, PHONE, ("email", "A@B.EXAMPLE")],  # the third is the first one again
        category="fraudulent_transaction",
        reason_code="chargeback",
        reason="chargeback ring",
        subject_id=subject_id,
    )
    view = vault.records.get(record_id)
    assert view.record_id == record_id and len(record_id) == 36
    assert (view.category, view.reason_code, view.severity, view.status, view.source) == (
        "fraudulent_transaction",
        "chargeback",
        "high",
        "active",
        "manual",
    )
    assert view.domain == "default" and view.subject_id == subject_id
    assert view.created_at == view.updated_at == T0
    assert view.expires_at == datetime(2029, 1, 1, tzinfo=UTC)  # 3 years for fraudulent transactions
    assert view.review_at is None
    assert dict(view.identifier_kinds) == {"email": 1, "phone": 1}
    assert view.text_fields == ("reason",)
    assert view.lookup_versions == (1,)
    assert view.pseudonyms is None
    assert "pseudonyms" not in view.as_dict() and view.as_dict()["identifiers"] == 2

    detailed = vault.records.get(record_id, include_pseudonyms=True)
    assert detailed.pseudonyms is not None
    exact = [p for p in detailed.pseudonyms if not p["lookalike"]]
    assert sorted((p["slot"], p["kind"]) for p in exact) == [(0, "email"), (1, "phone")]
    assert all(len(p["pseudonym"]) == 64 and p["lookup_version"] == 1 for p in detailed.pseudonyms)

    ids = [record_id]
    for _ in range(3):
        clock.advance(timedelta(minutes=1))
        ids.append(vault.records.create([IP], category="bad_usage_rejoin", reason_code="bad_usage", severity="medium"))
    first = vault.records.list(limit=3)
    assert [v.record_id for v in first.items] == ids[:3]
    assert first.next_after == ids[2]
    second = vault.records.list(limit=3, after=first.next_after)
    assert [v.record_id for v in second.items] == ids[3:] and second.next_after is None
    assert [v.record_id for v in vault.records.list(category="bad_usage_rejoin").items] == ids[1:]
    assert vault.records.list(domain="other").items == ()
    assert vault.records.count() == 4


def test_expiry_defaults_to_the_category_period_and_may_not_exceed_it(vault: Vault) -> None:
    restriction = vault.records.get(
        vault.records.create([EMAIL], category="rejoin_restriction", reason_code="rejoin_restriction")
    )
    assert restriction.expires_at is None
    assert restriction.review_at == datetime(2027, 1, 1, tzinfo=UTC)
    unauthorized = vault.records.get(
        vault.records.create([EMAIL], category="unauthorized_registration", reason_code="unauthorized_use")
    )
    assert unauthorized.expires_at == datetime(2026, 7, 1, tzinfo=UTC)
    chosen = datetime(2026, 3, 1, 12, tzinfo=UTC)
    early = vault.records.get(
        vault.records.create([EMAIL], category="bad_usage_rejoin", reason_code="bad_usage", expires_at=chosen)
    )
    assert early.expires_at == chosen
    for bad in (datetime(2029, 1, 2, tzinfo=UTC), T0 - timedelta(days=1), datetime(2026, 6, 1)):
        with pytest.raises(InvalidInputError) as info:
            vault.records.create([EMAIL], category="fraudulent_transaction", reason_code="fraud", expires_at=bad)
        assert info.value.field == "expires_at"
    # a rejoin ban runs from the member's withdrawal, whenever that comes: no default end, no cap
    waiting = vault.records.get(vault.records.create([EMAIL], category="bad_usage_rejoin", reason_code="bad_usage"))
    assert waiting.expires_at is None
    late = datetime(2030, 1, 1, tzinfo=UTC)
    assert vault.records.get(
        vault.records.create([EMAIL], category="bad_usage_rejoin", reason_code="bad_usage", expires_at=late)
    ).expires_at == late


BAD_INPUTS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"category": "member_data"}, InvalidInputError, "category"),
    ({"category": "no_such_category"}, InvalidInputError, "category"),
    ({"reason_code": "Not A Code"}, InvalidInputError, "reason_code"),
    ({"severity": "urgent"}, InvalidInputError, "severity"),
    ({"source": "Bad Source"}, InvalidInputError, "source"),
    ({"domain": "Tenant A"}, InvalidInputError, "domain"),
    ({"external_ref": "has space"}, InvalidInputError, "external_ref"),
    ({"reason": "   "}, InvalidInputError, "reason"),
    ({"evidence": "x" * (64 * 1024 + 1)}, InvalidInputError, "evidence"),
    ({"subject_id": "not-a-uuid"}, InvalidInputError, "subject_id"),
    ({"subject_id": NEVER}, NotFoundError, ""),
    ({"identifiers": []}, InvalidInputError, "identifiers"),
    ({"identifiers": [("phone", "12")]}, InvalidIdentifierError, "identifier.phone"),
    ({"identifiers": [EMAIL, ("ip", "999.1.1.1")]}, InvalidIdentifierError, "identifier.ip"),
    ({"identifiers": [("fax", "123")]}, InvalidIdentifierError, "identifier.fax"),
    ({"identifiers": [("email", f"{i}@b.example") for i in range(65)]}, InvalidInputError, "identifiers"),
]


def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(vault: Vault) -> None:
    before = _counts(vault)
    for overrides, error, field in BAD_INPUTS:
        kwargs: dict[str, Any] = {
            "category": "fraudulent_transaction",
            "reason_code": "fraud",
            "reason": "a reason",
            "evidence": "some evidence",
            **overrides,
        }
        identifiers = kwargs.pop("identifiers", [EMAIL, PHONE])
        with pytest.raises(error) as info:
            vault.records.create(identifiers, **kwargs)
        if field:
            assert getattr(info.value, "field", None) == field, (overrides, info.value)
        assert _counts(vault) == before, overrides


def test_reveal_needs_a_purpose_and_is_audited(vault: Vault) -> None:
    subject_id = vault.subjects.create({"name": "Kim"})
    linked = vault.records.create(
        [EMAIL], category="fraudulent_transaction", reason_code="fraud", reason="ring", evidence="txn 42", subject_id=subject_id
    )
    own = vault.records.create([PHONE], category="bad_usage_rejoin", reason_code="bad_usage", notes="called support")
    bare = vault.records.create([IP], category="bad_usage_rejoin", reason_code="bad_usage")
    assert scalar(vault.keys_engine, "SELECT COUNT(*) FROM record_keys") == 1  # only ``own`` has a key of its own

    for purpose in (None, "", "   "):
        with pytest.raises(InvalidInputError) as info:
            vault.records.reveal(linked, purpose=purpose)  # type: ignore[arg-type]
        assert info.value.field == "purpose"
    assert _audit(vault, "record.reveal") == []

    text = vault.records.reveal(linked, purpose="chargeback dispute 7")
    assert (text.reason, text.evidence, text.notes, text.available) == ("ring", "txn 42", None, True)
    assert "ring" not in repr(text) and "txn" not in str(text)
    assert vault.records.reveal(own, purpose="appeal").notes == "called support"
    assert vault.records.reveal(bare, purpose="appeal") == RecordText(bare, None, None, None, False)
    with pytest.raises(NotFoundError):
        vault.records.reveal(NEVER, purpose="appeal")

    entries = _audit(vault, "record.reveal")
    assert [(e.targets, e.purpose, e.outcome, e.detail.get("fields")) for e in entries] == [
        ((linked,), "chargeback dispute 7", "ok", 2),
        ((own,), "appeal", "ok", 1),
        ((bare,), "appeal", "ok", 0),
        ((NEVER,), "appeal", "not_found", None),
    ]
    assert all(e.actor_kind == "system" for e in entries)


def test_audit_rows_and_stored_rows_never_hold_identifiers_or_text(vault: Vault) -> None:
    secret_text = f"reason mentions {CANARY_PII}"
    record_id = vault.records.create(
        [("email", CANARY_PII), ("custom:loyalty_card", CANARY_PII), PHONE],
        category="fraudulent_transaction",
        reason_code="fraud",
        reason=secret_text,
        evidence=secret_text,
        notes=secret_text,
    )
    assert vault.records.reveal(record_id, purpose="review").reason == secret_text
    assert [v.record_id for v in vault.records.find("email", CANARY_PII)] == [record_id]
    assert vault.checks.check([("email", CANARY_PII)]).decision == "deny"
    vault.records.update(record_id, notes=f"more about {CANARY_PII}", severity="critical")
    vault.records.set_status(record_id, "under_review", reason_code="appeal")
    vault.records.revoke(record_id, reason_code="appeal_upheld")
    with pytest.raises(InvalidIdentifierError) as info:  # a rejected value is not echoed either
        vault.records.create([("phone", CANARY_PII)], category="fraudulent_transaction", reason_code="fraud")
    assert CANARY_PII not in str(info.value)

    actions = {e.action for e in vault.audit.query(limit=1000)}
    assert {"record.create", "record.reveal", "record.find", "record.update", "record.set_status", "record.revoke"} <= actions
    for table in ("audit_entries", "records", "record_identifiers", "record_fields"):
        dump = table_text(vault.data_engine, table)
        assert CANARY_PII not in dump, table
        assert CANARY_PII.encode().hex() not in dump, table
        assert "reason mentions" not in dump, table
    assert CANARY_PII not in table_text(vault.keys_engine, "record_keys")


def test_status_changes_review_revoke_and_conflicts(vault: Vault, clock: FrozenClock) -> None:
    record_id = vault.records.create([EMAIL], category="fraudulent_transaction", reason_code="fraud")
    clock.advance(timedelta(hours=1))
    view = vault.records.set_status(record_id, "under_review", reason_code="appeal")
    assert (view.status, view.status_reason_code, view.updated_at) == ("under_review", "appeal", T0 + timedelta(hours=1))
    assert vault.records.set_status(record_id, "active", reason_code="appeal_rejected").status == "active"
    with pytest.raises(InvalidInputError):
        vault.records.set_status(record_id, "revoked", reason_code="x")
    with pytest.raises(InvalidInputError):
        vault.records.set_status(record_id, "active", reason_code="Not Code")

    assert vault.records.revoke(record_id, reason_code="appeal_upheld").status == "revoked"
    assert vault.records.revoke(record_id, reason_code="appeal_upheld").status == "revoked"  # idempotent
    with pytest.raises(ConflictError):
        vault.records.set_status(record_id, "active", reason_code="reopen")
    with pytest.raises(ConflictError):
        vault.records.update(record_id, severity="low")
    assert [e.detail["already"] for e in _audit(vault, "record.revoke")] == [False, True]
    assert [e.outcome for e in _audit(vault, "record.set_status")] == ["ok", "ok", "conflict"]

    for call in (
        lambda: vault.records.get(NEVER),
        lambda: vault.records.revoke(NEVER, reason_code="x"),
        lambda: vault.records.set_status(NEVER, "active", reason_code="x"),
        lambda: vault.records.update(NEVER, severity="low"),
    ):
        with pytest.raises(NotFoundError) as info:
            call()
        assert str(info.value) == f"record {NEVER} not found"
    with pytest.raises(InvalidInputError):
        vault.records.get("not-a-uuid")

    expiring = vault.records.create([PHONE], category="unauthorized_registration", reason_code="unauthorized_use")
    clock.advance(timedelta(days=200))
    assert vault.records.get(expiring).status == "expired"  # no sweeper ran: expiry is derived
    with pytest.raises(ConflictError):
        vault.records.set_status(expiring, "under_review", reason_code="appeal")
    assert vault.records.count_by_status() == {"active": 0, "under_review": 0, "revoked": 1, "expired": 1}
    assert [v.record_id for v in vault.records.list(status="expired").items] == [expiring]
    assert vault.records.list(status="active").items == ()


def test_update_severity_expiry_and_notes(vault: Vault) -> None:
    record_id = vault.records.create([EMAIL], category="fraudulent_transaction", reason_code="fraud")
    assert scalar(vault.keys_engine, "SELECT COUNT(*) FROM record_keys") == 0
    sooner = datetime(2027, 6, 1, tzinfo=UTC)
    view = vault.records.update(record_id, severity="medium", expires_at=sooner, notes="first note")
    assert (view.severity, view.expires_at, view.text_fields) == ("medium", sooner, ("notes",))
    assert scalar(vault.keys_engine, "SELECT COUNT(*) FROM record_keys") == 1  # a key of its own, made now
    vault.records.update(record_id, notes="second note")
    assert vault.records.reveal(record_id, purpose="check notes").notes == "second note"
    with pytest.raises(InvalidInputError):
        vault.records.update(record_id)
    with pytest.raises(InvalidInputError):
        vault.records.update(record_id, expires_at=datetime(2030, 1, 1, tzinfo=UTC))
    assert [e.detail for e in _audit(vault, "record.update")] == [
        {"expires_at": True, "notes": True, "severity": True},
        {"expires_at": False, "notes": True, "severity": False},
    ]


def test_external_ref_makes_creation_idempotent_and_batches_are_all_or_nothing(vault: Vault) -> None:
    first = vault.records.create([EMAIL], category="fraudulent_transaction", reason_code="fraud", external_ref="case-1")
    before = _counts(vault)
    with pytest.raises(DuplicateRecordError) as info:
        vault.records.create([PHONE], category="fraudulent_transaction", reason_code="fraud", external_ref="case-1")
    assert info.value.record_id == first
    assert _counts(vault) == before

    prepared = [
        vault.records.prepare([PHONE], category="bad_usage_rejoin", reason_code="bad_usage", reason="text", external_ref="case-2"),
        vault.records.prepare([IP], category="bad_usage_rejoin", reason_code="bad_usage", reason="text", external_ref="case-1"),
    ]
    assert "text" not in repr(prepared[0])
    assert _counts(vault) == before  # preparing writes nothing
    with pytest.raises(DuplicateRecordError):
        vault.records.create_many(prepared)
    assert _counts(vault) == before  # neither record, nor their keys
    with pytest.raises(InvalidInputError):
        vault.records.create_many([prepared[0], prepared[0]])

    ids = vault.records.create_many(prepared[:1])
    assert ids == [prepared[0].record_id]
    assert vault.records.reveal(ids[0], purpose="import check").reason == "text"
    many = [vault.records.prepare([("device_id", f"device-{i}")], category="bad_usage_rejoin", reason_code="bad_usage") for i in range(5)]
    assert vault.records.create_many(many) == [p.record_id for p in many]
    entry = _audit(vault, "record.create_many")[-1]
    assert entry.detail == {"records": 5, "identifiers": 5} and len(entry.targets) == 5


def test_find_by_identifier_in_any_form_and_status(vault: Vault) -> None:
    banned = vault.records.create([("email", "Some.One+promo@Gmail.com"), PHONE], category="fraudulent_transaction", reason_code="fraud")
    other_domain = vault.records.create([("email", "someone@gmail.com")], category="fraudulent_transaction", reason_code="fraud", domain="tenant-b")
    vault.records.revoke(banned, reason_code="appeal_upheld")
    found = vault.records.find("email", "someone@googlemail.com")
    assert [(v.record_id, v.status) for v in found] == [(banned, "revoked")]
    assert [v.record_id for v in vault.records.find("email", "SomeOne@gmail.com", domain="tenant-b")] == [other_domain]
    assert [v.record_id for v in vault.records.find("phone", "+82 10-1234-5678")] == [banned]
    assert vault.records.find("phone", "+82 10-9999-0000") == []
    with pytest.raises(InvalidIdentifierError):
        vault.records.find("phone", "not a number")
    details = [(e.detail, e.targets) for e in _audit(vault, "record.find")]
    assert details[0] == ({"kind": "email", "results": 1}, (banned,))
    assert details[-1] == ({"kind": "phone", "results": 0}, ())
    stored = rows(vault.data_engine, "SELECT domain FROM records ORDER BY created_at, id")
    assert sorted(r["domain"] for r in stored) == ["default", "tenant-b"]
