"""Erasure requests: what may be destroyed is, what a law or a hold requires is kept, and a signed
receipt says which, under which basis, until when."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from canary import CANARY_PII
from retention_support import (
    T0,
    audit,
    audit_text,
    scalar,
    separated_of,
    subject_exists,
)

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError
from pseudovault.vault.retention.holds import HeldError
from pseudovault.vault.retention.receipts import verify_document
from pseudovault.vault.vault import Vault

FIELDS = {"name": "Kim Minji", "email": CANARY_PII, "phone": "+821012345678", "order_ref": "ord-77", "amount": "129000"}
CATEGORIES = {"member": None, "payment_supply": ["order_ref", "amount"]}


def _subject_with_ban_and_payment(vault: Vault) -> tuple[str, str]:
    subject_id = vault.retention.create_subject(FIELDS, CATEGORIES)
    vault.retention.record_event("subject", subject_id, "payment", at=T0)
    record_id = vault.records.create(
        [("email", CANARY_PII), ("phone", "+821012345678")],
        category="fraudulent_transaction",
        reason_code="chargeback",
        evidence=f"three chargebacks by {CANARY_PII}",
        subject_id=subject_id,
    )
    vault.rights.record_provision(
        subject_id, recipient="Acme Payments", items=["order_ref", "amount"], purpose="payment processing",
        legal_basis="contract", retention="5 years",
    )
    return subject_id, record_id


def test_erasure_shreds_pii_keeps_the_ban_and_restricts_the_payment_record(vault: Vault) -> None:
    subject_id, record_id = _subject_with_ban_and_payment(vault)
    receipt = vault.erasure.request(subject_id, request_id="ER-2026-0001")
    assert not receipt.already

    # PII shredded: the subject, its data key and its linked text are gone
    with pytest.raises(NotFoundError):
        vault.subjects.read(subject_id)
    assert not vault.keys.has_data_key(subject_id)
    assert vault.subjects.tombstone(subject_id).reason_code == "erasure"  # type: ignore[union-attr]
    assert vault.records.reveal(record_id, purpose="check").available is False

    # the ban still matches, with no link back to the subject
    decision = vault.checks.check([("email", CANARY_PII)])
    assert decision.decision == "deny" and [m.record_id for m in decision.matches] == [record_id]
    assert vault.records.get(record_id).subject_id is None

    # the payment record is in separate storage: out of the subjects, readable for a legal request
    (separated,) = separated_of(vault, subject_id)
    assert (separated["category"], separated["fields"]) == ("payment_supply", ["amount", "order_ref"])
    assert separated["due_at"] == "2031-01-15T15:00:00+00:00"
    assert subject_id not in [s.subject_id for s in vault.subjects.list()]
    with pytest.raises(InvalidInputError):
        vault.separate.read(separated["item_id"], purpose="")
    values = vault.separate.read(separated["item_id"], purpose="Tax office request 2026-17")["values"]
    assert values == {"order_ref": "ord-77", "amount": "129000"}
    (read,) = audit(vault, "separated.read")
    assert read.purpose == "Tax office request 2026-17"

    # the receipt lists both, with their legal basis and expiry, and verifies
    body = receipt.body
    assert (body["request_id"], body["subject_id"]) == ("ER-2026-0001", subject_id)
    assert body["destroyed"]["subject_fields"] == ["email", "name", "phone"]
    assert body["destroyed"]["subject_key"] is True
    assert body["destroyed"]["record_evidence"] == [{"record_id": record_id, "fields": ["evidence"]}]
    retained = {entry["kind"]: entry for entry in body["retained"]}
    ban = retained["ban"]
    assert (ban["record_id"], ban["category"]) == (record_id, "fraudulent_transaction")
    assert "Internal policy" in ban["legal_basis"]
    assert ban["retained_until"] == vault.records.get(record_id).expires_at.isoformat(timespec="microseconds")  # type: ignore[union-attr]
    kept = retained["separate_storage"]
    assert (kept["item_id"], kept["category"], kept["fields"]) == (separated["item_id"], "payment_supply", ["amount", "order_ref"])
    assert "Electronic Commerce" in kept["legal_basis"]
    assert kept["retained_until"] == "2031-01-15T15:00:00.000000+00:00"  # midnight in Seoul, the presets' zone
    assert body["recipients_to_notify"] == ["Acme Payments"]
    assert vault.erasure.verify(receipt.document).ok
    assert verify_document(receipt.document).ok

    # the receipt holds no PII, nor does the audit log
    for value in FIELDS.values():
        assert value.encode() not in receipt.document
    assert CANARY_PII not in audit_text(vault)

    # any byte changed, and the receipt no longer verifies
    document = receipt.document
    for index in range(len(document)):
        tampered = document[:index] + bytes([document[index] ^ 0x01]) + document[index + 1 :]
        assert not verify_document(tampered).ok, index
    assert not verify_document(document + b" ").ok and not verify_document(document[:-2] + b"\n").ok

    # the same request again: the same receipt, and nothing more destroyed
    again = vault.erasure.request(subject_id, request_id="ER-2026-0001")
    assert again.already and again.document == receipt.document
    assert vault.erasure.request(subject_id).document == receipt.document
    assert len(audit(vault, "subject.shred")) == 1
    assert vault.erasure.receipt(subject_id).document == receipt.document


def test_a_request_id_names_one_subject(lite: Vault) -> None:
    first = lite.retention.create_subject({"name": "A"}, ["member"])
    second = lite.retention.create_subject({"name": "B"}, ["member"])
    lite.erasure.request(first, request_id="ER-1")
    with pytest.raises(ConflictError, match="another subject"):
        lite.erasure.request(second, request_id="ER-1")
    with pytest.raises(InvalidInputError):
        lite.erasure.request(second, request_id="has space")
    with pytest.raises(NotFoundError):
        lite.erasure.request("6f1c2a8e-4a7b-4c1e-9d3f-1a2b3c4d5e6f")
    assert subject_exists(lite, second)


def test_a_held_subject_is_not_erased_and_the_answer_names_the_hold(lite: Vault) -> None:
    subject_id, _ = _subject_with_ban_and_payment(lite)
    hold = lite.holds.place("subject", subject_id, reason_code="litigation", reference="CASE-9")
    with pytest.raises(HeldError) as info:
        lite.erasure.request(subject_id, request_id="ER-2")
    assert info.value.hold_id == hold.hold_id and hold.hold_id in str(info.value)
    assert lite.subjects.read(subject_id)["name"] == "Kim Minji"  # nothing was changed
    assert separated_of(lite, subject_id) == []
    assert audit(lite, "erasure.request")[-1].outcome == "conflict"
    lite.holds.release(hold.hold_id)
    assert lite.erasure.request(subject_id, request_id="ER-2").body["subject_id"] == subject_id


def test_a_hold_on_a_linked_record_stops_the_erasure_too(lite: Vault) -> None:
    subject_id, record_id = _subject_with_ban_and_payment(lite)
    hold = lite.holds.place("record", record_id, reason_code="investigation", reference="POLICE-1")
    with pytest.raises(HeldError, match=hold.hold_id):
        lite.erasure.request(subject_id)
    assert lite.records.reveal(record_id, purpose="investigation").available


def test_erasure_after_withdrawal_destroys_member_data_but_keeps_payment_records(
    lite: Vault, clock: FrozenClock
) -> None:
    subject_id, _ = _subject_with_ban_and_payment(lite)
    clock.advance(timedelta(days=30))
    lite.retention.record_event("subject", subject_id, "withdrawal")
    assert not subject_exists(lite, subject_id)
    assert sorted(i["category"] for i in separated_of(lite, subject_id)) == ["member_data", "payment_supply"]
    receipt = lite.erasure.request(subject_id)
    body = receipt.body
    assert [s["category"] for s in body["destroyed"]["separated"]] == ["member_data"]
    assert [e["category"] for e in body["retained"] if e["kind"] == "separate_storage"] == ["payment_supply"]
    assert [i["category"] for i in separated_of(lite, subject_id)] == ["payment_supply"]
    assert lite.erasure.verify(receipt.document).ok


def test_a_receipt_verifies_only_against_the_vault_that_signed_it(
    lite: Vault, clock: FrozenClock, tmp_path: Path
) -> None:
    subject_id = lite.retention.create_subject({"name": "A"}, ["member"])
    receipt = lite.erasure.request(subject_id)
    with Vault.create(
        FakeKmsProvider(now=T0), f"sqlite:///{tmp_path / 'other-data.db'}", f"sqlite:///{tmp_path / 'other-keys.db'}",
        clock=clock,
    ) as other:
        check = other.erasure.verify(receipt.document)  # another vault, other keys
    assert not check.ok and "not one of this vault's keys" in (check.reason or "")
    document = json.loads(receipt.document)
    public_key = bytes.fromhex(document["signature"]["public_key"])
    assert verify_document(receipt.document, pin=public_key).ok
    assert "pinned" in (verify_document(receipt.document, pin=bytes(32)).reason or "")
    # a receipt re-signed by another key with the same key id is refused: the id names the key
    forged = dict(document)
    forged["signature"] = {**document["signature"], "public_key": "00" * 32}
    from pseudovault.vault.retention.receipts import canonical

    assert "key id" in (verify_document(canonical(forged) + b"\n").reason or "")


def test_shredding_without_erasure_then_erasing_gives_a_receipt(lite: Vault) -> None:
    subject_id = lite.retention.create_subject({"name": "A", "email": CANARY_PII}, ["member"])
    lite.subjects.shred(subject_id)
    receipt = lite.erasure.request(subject_id, request_id="late")
    assert receipt.body["destroyed"]["subject_fields"] == []
    assert lite.erasure.verify(receipt.document).ok


def test_a_record_of_a_destroyed_category_is_deleted_on_erasure(
    lite: Vault, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    # an operator policy that does not keep bad-usage records when the person asks for erasure
    from retention_support import policies_with

    text = """
[policies.bad_usage_rejoin]
period = "1y"
trigger = "withdrawal"
basis = "Internal policy, on consent"
action = "delete_record"
on_erasure = "destroy"
"""
    policies = policies_with(text)
    with Vault.open(
        provider, str(lite.data_engine.url), str(lite.keys_engine.url), clock=clock, retention_policies=policies
    ) as other:
        other.retention.apply_policies()
        subject_id = other.retention.create_subject({"name": "A"}, ["member"])
        record_id = other.records.create([("email", "a@example.com")], category="bad_usage_rejoin",
                                         reason_code="bad_usage", subject_id=subject_id)
        body = other.erasure.request(subject_id).body
        assert body["destroyed"]["records"] == [{"record_id": record_id, "category": "bad_usage_rejoin"}]
        assert scalar(other.data_engine, "SELECT COUNT(*) FROM records") == 0
        assert other.checks.check([("email", "a@example.com")]).decision == "allow"


def test_a_separated_item_cannot_be_read_without_its_key(lite: Vault) -> None:
    subject_id, _ = _subject_with_ban_and_payment(lite)
    lite.erasure.request(subject_id)
    (item,) = separated_of(lite, subject_id)
    with lite.keys_engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM record_keys")
    lite.cache.clear()
    with pytest.raises(NotFoundError):
        lite.separate.read(item["item_id"], purpose="legal request")
