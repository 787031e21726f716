"""Data-subject rights: access export, correction, restriction of processing, the provisions log,
request deadlines; and records in separate storage."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from canary import CANARY_PII
from retention_support import T0, ZONE, audit, audit_text, midnight, policies_with, record_exists

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError
from pseudovault.vault.records.bulk import export_records
from pseudovault.vault.retention.restrictions import RestrictedError
from pseudovault.vault.retention.rights import request_deadline
from pseudovault.vault.vault import Vault

EMAIL = ("email", "minji@example.com")


def _member_with_ban(vault: Vault) -> tuple[str, str]:
    subject_id = vault.retention.create_subject(
        {"name": "Kim Minji", "email": "minji@example.com", "phone": CANARY_PII.split("@")[0]},
        {"member": None, "payment_supply": ["phone"]},
    )
    record_id = vault.records.create([EMAIL], category="fraudulent_transaction", reason_code="fraud",
                                     reason="card testing", subject_id=subject_id)
    return subject_id, record_id


def _exported_ids(vault: Vault) -> set[str]:
    out = io.StringIO()
    export_records(vault.records, out)
    return {json.loads(line)["record_id"] for line in out.getvalue().splitlines()}


def test_a_pending_correction_or_a_restriction_stops_matching_until_lifted(vault: Vault) -> None:
    subject_id, record_id = _member_with_ban(vault)
    assert vault.checks.check([EMAIL]).decision == "deny"

    vault.rights.record_provision(subject_id, recipient="Acme Payments", items=["email"], purpose="billing",
                                  legal_basis="contract", retention="5 years")
    vault.rights.record_provision(subject_id, recipient="Courier Co", items=["name"], purpose="delivery",
                                  legal_basis="contract", retention="1 month")
    request = vault.rights.begin_correction(subject_id, reference="REQ-1")
    assert vault.checks.check([EMAIL]).decision == "allow"
    assert vault.checks.check([EMAIL]).matches == ()
    assert vault.rights.exportable([subject_id]) == set()
    assert _exported_ids(vault) == set()  # the subject's records are not exported meanwhile
    result = vault.rights.complete_correction(request.request_id, {"email": "minji.kim@example.com"})
    assert result.fields_changed == ("email",)
    assert [p.recipient for p in result.notify] == ["Acme Payments"]
    assert vault.checks.check([EMAIL]).decision == "deny"  # the ban is on the old identifier still
    assert vault.subjects.read(subject_id)["email"] == "minji.kim@example.com"

    restriction = vault.rights.restrict_processing(subject_id, reference="REQ-2")
    assert restriction.state == "completed" and restriction.outcome == "restricted"
    assert vault.checks.check([EMAIL]).decision == "allow"
    assert _exported_ids(vault) == set()
    assert vault.rights.lift_restriction(subject_id) is True
    assert vault.checks.check([EMAIL]).matches[0].record_id == record_id
    assert _exported_ids(vault) == {record_id}
    assert vault.rights.lift_restriction(subject_id) is False


def test_the_access_export_holds_everything_and_is_audited(lite: Vault, clock: FrozenClock) -> None:
    subject_id, record_id = _member_with_ban(lite)
    lite.retention.record_event("subject", subject_id, "payment", at=T0)
    provision = lite.rights.record_provision(
        subject_id, recipient="Acme Payments", items=["payment_supply"], purpose="billing",
        legal_basis="Art. 17 consent", retention="5 years after payment",
    )
    request = lite.rights.open_request(subject_id, "access", reference="REQ-3")
    with pytest.raises(InvalidInputError):
        lite.rights.access_export(subject_id, purpose=" ")
    export = lite.rights.access_export(subject_id, purpose="access request REQ-3", request_id=request.request_id)
    assert export["fields"] == {"name": "Kim Minji", "email": "minji@example.com", "phone": CANARY_PII.split("@")[0]}
    (record,) = export["records"]
    assert record["record_id"] == record_id and record["text"]["reason"] == "card testing"
    categories = {c["category"]: c for c in export["categories"]}
    assert categories["payment_supply"]["fields"] == ["phone"]
    assert categories["payment_supply"]["due_at"] == "2031-01-15T15:00:00+00:00"
    assert "Electronic Commerce" in categories["payment_supply"]["legal_basis"]
    assert categories["member_data"]["fields"] == ["*"] and categories["member_data"]["due_at"] is None
    assert export["provisions"] == [provision.as_dict()]
    assert [r["request_id"] for r in export["requests"]] == [request.request_id]
    assert lite.rights.requests(subject_id=subject_id)[0].state == "completed"  # the export answered it
    (entry,) = audit(lite, "rights.access_export")
    assert entry.purpose == "access request REQ-3" and entry.targets == (subject_id, request.request_id)
    assert CANARY_PII.split("@")[0] not in audit_text(lite)
    with pytest.raises(ConflictError):
        lite.rights.complete_request(request.request_id)


def test_requests_have_a_ten_day_deadline_and_are_reported_overdue(lite: Vault, clock: FrozenClock) -> None:
    subject_id, _ = _member_with_ban(lite)
    late = lite.rights.open_request(subject_id, "access", received_at=T0 - timedelta(days=3))
    on_time = lite.rights.open_request(subject_id, "erasure")
    # counted as the Civil Act counts, in the presets' zone (Seoul): the day of receipt is not
    # counted, and the request may be answered through the end of the tenth day after it
    assert late.due_at == midnight(2026, 1, 23) and on_time.due_at == midnight(2026, 1, 26)
    assert late.due_at == request_deadline(T0 - timedelta(days=3), ZONE)
    clock.set(midnight(2026, 1, 23) - timedelta(microseconds=1))
    assert lite.rights.requests(overdue=True) == []
    clock.set(midnight(2026, 1, 23))
    assert [r.request_id for r in lite.rights.requests(overdue=True)] == [late.request_id]
    clock.set(midnight(2026, 1, 26))
    assert [r.request_id for r in lite.rights.requests(overdue=True)] == [late.request_id, on_time.request_id]
    lite.erasure.request(subject_id)  # completes the open erasure request
    assert [r.request_id for r in lite.rights.requests(overdue=True)] == [late.request_id]
    closed = lite.rights.complete_request(late.request_id, outcome="answered_late")
    assert closed.state == "completed" and not closed.overdue
    assert audit(lite, "rights.request_close")[-1].detail["late"] is True
    assert lite.rights.requests(overdue=True) == []
    with pytest.raises(InvalidInputError):
        lite.rights.open_request(subject_id, "deletion")
    with pytest.raises(InvalidInputError):
        lite.rights.open_request(subject_id, "access", received_at=clock.now() + timedelta(days=1))


def test_a_rejected_correction_lifts_its_restriction(lite: Vault) -> None:
    subject_id, _ = _member_with_ban(lite)
    first = lite.rights.begin_correction(subject_id)
    second = lite.rights.begin_correction(subject_id)
    lite.rights.reject_correction(first.request_id, reason_code="not_inaccurate")
    assert lite.checks.check([EMAIL]).decision == "allow"  # the second is still pending
    confirmed = lite.rights.complete_correction(second.request_id, {})
    assert confirmed.fields_changed == () and confirmed.notify == ()
    assert lite.checks.check([EMAIL]).decision == "deny"
    with pytest.raises(ConflictError):
        lite.rights.reject_correction(first.request_id)
    with pytest.raises(NotFoundError):
        lite.rights.complete_correction("6f1c2a8e-4a7b-4c1e-9d3f-1a2b3c4d5e6f", {})


def test_provisions_are_validated(lite: Vault) -> None:
    subject_id, _ = _member_with_ban(lite)
    good = {"recipient": "Acme", "items": ["email"], "purpose": "billing", "legal_basis": "contract",
            "retention": "5 years"}
    for change in ({"items": []}, {"items": "email"}, {"items": ["E-mail"]}, {"recipient": ""},
                   {"purpose": "two\nlines"}, {"legal_basis": "x" * 501}):
        with pytest.raises(InvalidInputError):
            lite.rights.record_provision(subject_id, **{**good, **change})  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        lite.rights.record_provision("6f1c2a8e-4a7b-4c1e-9d3f-1a2b3c4d5e6f", **good)  # type: ignore[arg-type]


RESTRICT_BAD_USAGE = """
[policies.bad_usage_rejoin]
period = "1y"
trigger = "withdrawal"
basis = "Internal policy: kept apart for disputes after the ban ends"
action = "restrict"
restricted_period = "2y"
on_erasure = "retain"
"""


def test_a_record_in_separate_storage_does_not_match_is_not_listed_and_is_read_with_a_purpose(
    lite: Vault, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    lite.retention.apply_policies()
    with Vault.open(provider, str(lite.data_engine.url), str(lite.keys_engine.url), clock=clock,
                    retention_policies=policies_with(RESTRICT_BAD_USAGE)) as vault:
        vault.retention.apply_policies()
        record_id = vault.records.create([EMAIL], category="bad_usage_rejoin", reason_code="bad_usage",
                                         reason="abusive chat", expires_at=T0 + timedelta(days=200))
        clock.set(T0 + timedelta(days=200))
        assert vault.retention.sweeper.sweep().outcomes["restricted"] == 1
        assert record_exists(vault, record_id)
        assert vault.checks.check([EMAIL]).matches == ()
        assert record_id not in [r.record_id for r in vault.records.list().items]
        with pytest.raises(ConflictError, match="separate storage"):
            vault.records.reveal(record_id, purpose="curious")
        with pytest.raises(InvalidInputError):
            vault.separate.read_record(record_id, purpose="")
        text = vault.separate.read_record(record_id, purpose="court order 2026-44")
        assert text["reason"] == "abusive chat"
        assert audit(vault, "separated.read_record")[-1].purpose == "court order 2026-44"
        (item,) = [i for i in vault.retention.items(record_id) if i.state == "pending"]
        assert (item.stage, item.action) == ("restricted_period", "delete_record")
        expected = midnight(2028, 8, 4)  # two years after the day it moved (3 August 2026)
        assert item.due_at == expected
        clock.set(expected - timedelta(seconds=1))
        vault.retention.sweeper.sweep()
        assert record_exists(vault, record_id)
        clock.set(expected)
        vault.retention.sweeper.sweep()
        assert not record_exists(vault, record_id)


def test_the_access_export_names_a_linked_record_in_separate_storage_without_its_text(
    lite: Vault, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    lite.retention.apply_policies()
    with Vault.open(provider, str(lite.data_engine.url), str(lite.keys_engine.url), clock=clock,
                    retention_policies=policies_with(RESTRICT_BAD_USAGE)) as vault:
        vault.retention.apply_policies()
        subject_id = vault.retention.create_subject({"email": CANARY_PII}, ["member"])
        separated = vault.records.create([EMAIL], category="bad_usage_rejoin", reason_code="bad_usage",
                                         reason="abusive chat", subject_id=subject_id,
                                         expires_at=T0 + timedelta(days=200))
        active = vault.records.create([("phone", "+821099998888")], category="fraudulent_transaction",
                                      reason_code="chargeback", reason="two chargebacks", subject_id=subject_id)
        clock.set(T0 + timedelta(days=200))
        assert vault.retention.sweeper.sweep().outcomes["restricted"] == 1
        export = vault.rights.access_export(subject_id, purpose="access request REQ-9")
        records = {r["record_id"]: r for r in export["records"]}
        assert records[separated]["separate_storage"] is True
        assert records[separated]["text"] == {"reason": None, "evidence": None, "notes": None, "available": False}
        assert records[active]["separate_storage"] is False
        assert records[active]["text"]["reason"] == "two chargebacks"
        assert "abusive chat" not in json.dumps(export)
        assert export["fields"] == {"email": CANARY_PII}


def test_a_restriction_stops_every_use_but_the_rights_workflow_and_a_legal_request(
    vault: Vault, clock: FrozenClock
) -> None:
    """Finding 4: a pending correction or a restriction stopped checks and exports, but reveal,
    provision logging and separate-storage reads still worked."""
    subject_id, record_id = _member_with_ban(vault)
    vault.rights.record_provision(subject_id, recipient="Acme Payments", items=["email"], purpose="billing",
                                  legal_basis="contract", retention="5 years")
    for begin in (
        lambda: vault.rights.begin_correction(subject_id, reference="REQ-1"),
        lambda: vault.rights.restrict_processing(subject_id, reference="REQ-2"),
    ):
        request = begin()
        clock.advance(timedelta(hours=1))
        reason = "correction_pending" if request.kind == "correction" else "restriction_request"
        with pytest.raises(RestrictedError) as refused:
            vault.subjects.read(subject_id, purpose="support ticket 7")
        assert refused.value.reasons == (reason,) and CANARY_PII not in str(refused.value)
        with pytest.raises(RestrictedError):
            vault.records.reveal(record_id, purpose="fraud review")
        with pytest.raises(RestrictedError):
            vault.rights.record_provision(subject_id, recipient="Courier Co", items=["name"], purpose="delivery",
                                          legal_basis="contract", retention="1 month")
        denied = [e for e in audit(vault, "subject.reveal") if e.outcome == "conflict"]
        assert denied[-1].detail == {"restriction": reason}
        assert [e.outcome for e in audit(vault, "rights.provision")][-1] == "conflict"

        # a provision that happened before the restriction is still logged (to notify its recipient)
        vault.rights.record_provision(subject_id, recipient="Card Network", items=["email"], purpose="billing",
                                      legal_basis="contract", retention="5 years",
                                      provided_at=clock.now() - timedelta(days=1))
        # a legal-request read passes, audited with the restriction; the rights workflow passes
        read = vault.subjects.read(subject_id, purpose="court order 2026-9", restricted="legal_request")
        assert read["email"] == EMAIL[1]
        assert audit(vault, "subject.reveal")[-1].detail == {"fields": 3, "restriction": reason, "read_as": "legal_request"}
        assert vault.records.reveal(record_id, purpose="court order 2026-9", restricted="legal_request").available
        export = vault.rights.access_export(subject_id, purpose=f"access request {request.request_id[:8]}")
        assert export["fields"]["email"] == EMAIL[1]
        if request.kind == "correction":
            vault.rights.complete_correction(request.request_id, {"name": "Kim Minji"})
        else:
            assert vault.rights.lift_restriction(subject_id) is True
        clock.advance(timedelta(hours=1))
        assert vault.subjects.read(subject_id, purpose="support ticket 8")["name"] == "Kim Minji"
        assert vault.records.reveal(record_id, purpose="fraud review").available


def test_consents_are_recorded_withdrawn_on_request_and_outlive_the_subject(vault: Vault, clock: FrozenClock) -> None:
    """Finding 8: no record of consent, no consent-withdrawal request kind, no requester role."""
    subject_id, _ = _member_with_ban(vault)
    given = vault.rights.grant_consent(subject_id, "keep_after_withdrawal", text_version="privacy-2026-03")
    assert (given.active, given.granted_at) == (True, T0)
    with pytest.raises(ConflictError):
        vault.rights.grant_consent(subject_id, "keep_after_withdrawal", text_version="privacy-2026-04")
    marketing = vault.rights.grant_consent(subject_id, "marketing", text_version="mkt-1")

    # a child's guardian asks, two days later, to withdraw the marketing consent
    clock.set(T0 + timedelta(days=2))
    request = vault.rights.open_request(subject_id, "consent_withdrawal", requester="guardian", reference="REQ-9")
    assert (request.kind, request.requester) == ("consent_withdrawal", "guardian")
    assert request.due_at == request_deadline(T0 + timedelta(days=2), ZONE) == midnight(2026, 1, 28)
    clock.set(midnight(2026, 1, 28))
    assert [r.request_id for r in vault.rights.requests(overdue=True)] == [request.request_id]
    withdrawn = vault.rights.withdraw_consent(subject_id, "marketing")
    assert withdrawn.consent_id == marketing.consent_id and not withdrawn.active
    closed = vault.rights.request(request.request_id)
    assert (closed.state, closed.outcome) == ("completed", "withdrawn")
    assert audit(vault, "rights.request_close")[-1].detail["late"] is True
    with pytest.raises(NotFoundError):
        vault.rights.withdraw_consent(subject_id, "marketing")
    for bad in ({"purpose": "Marketing"}, {"text_version": "the whole text, pasted"}):
        with pytest.raises(InvalidInputError):
            vault.rights.grant_consent(subject_id, bad.get("purpose", "newsletter"),
                                       text_version=bad.get("text_version", "v1"))
    with pytest.raises(InvalidInputError):
        vault.rights.open_request(subject_id, "access", requester="lawyer")

    export = vault.rights.access_export(subject_id, purpose="access request REQ-10")
    assert [(c["purpose"], c["active"]) for c in export["consents"]] == [("keep_after_withdrawal", True),
                                                                        ("marketing", False)]
    vault.erasure.request(subject_id)  # the consents are the evidence of a basis: they stay, pseudonymous
    assert [c.purpose for c in vault.rights.consents(subject_id)] == ["keep_after_withdrawal", "marketing"]
    assert CANARY_PII not in audit_text(vault)


def test_recipients_to_tell_become_tasks_that_outlive_the_subject(vault: Vault, clock: FrozenClock) -> None:
    """Finding 5: after a correction or an erasure the recipients were only listed; nothing
    recorded that they were told, and the provisions log went with the subject."""
    subject_id, _ = _member_with_ban(vault)
    vault.rights.record_provision(subject_id, recipient="Acme Payments", items=["email"], purpose="billing",
                                  legal_basis="contract", retention="5 years")
    vault.rights.record_provision(subject_id, recipient="Courier Co", items=["name"], purpose="delivery",
                                  legal_basis="contract", retention="1 month")
    request = vault.rights.begin_correction(subject_id, reference="REQ-1")
    clock.advance(timedelta(hours=1))
    vault.rights.complete_correction(request.request_id, {"email": "minji.kim@example.com"})
    (task,) = vault.rights.notifications(state="pending")
    assert (task.recipient, task.cause, task.request_id, task.items) == (
        "Acme Payments", "correction", request.request_id, ("email",))
    with pytest.raises(InvalidInputError):
        vault.rights.close_notification(task.notification_id)  # notified needs a means
    failed = vault.rights.close_notification(task.notification_id, state="failed")
    assert failed.state == "failed" and vault.rights.notifications(state="pending") == []
    clock.advance(timedelta(days=1))
    told = vault.rights.close_notification(task.notification_id, means="email")
    assert (told.state, told.means, told.closed_at) == ("notified", "email", clock.now())
    with pytest.raises(ConflictError):
        vault.rights.close_notification(task.notification_id, means="letter")
    assert [e.detail for e in audit(vault, "rights.notification")] == [
        {"state": "failed", "cause": "correction"}, {"state": "notified", "cause": "correction", "means": "email"}]

    receipt = vault.erasure.request(subject_id)
    assert receipt.body["recipients_to_notify"] == ["Acme Payments", "Courier Co"]
    assert vault.rights.provisions(subject_id) == []  # the provisions log went with the subject
    erasure_tasks = vault.rights.notifications(state="pending", subject_id=subject_id)
    assert [(t.recipient, t.cause, t.request_id) for t in erasure_tasks] == [
        ("Acme Payments", "erasure", receipt.body["request_id"]), ("Courier Co", "erasure", receipt.body["request_id"])]
    assert len(vault.rights.notifications(subject_id=subject_id)) == 3  # the correction's task stays too
    assert CANARY_PII not in audit_text(vault)
