"""Bans survive erasure: shredding a linked subject unlinks its records and deletes the text that
was under the subject's key, while the records keep matching. A record's own key is shredded
with shred_text. Pseudonyms at rest are keyed, 32 bytes, and differ per kind and domain."""

from __future__ import annotations

import hashlib

import pytest
from canary import CANARY_PII
from records_support import EMAIL, PHONE, rows, scalar, table_text

from pseudovault.vault.errors import NotFoundError
from pseudovault.vault.records.views import RecordText
from pseudovault.vault.vault import Vault


def test_shredding_a_linked_subject_leaves_its_bans_matching_and_unlinked(vault: Vault) -> None:
    subject_id = vault.subjects.create({"email": CANARY_PII, "name": "Kim"})
    other_subject = vault.subjects.create({"name": "Lee"})
    linked = vault.records.create(
        [("email", CANARY_PII), PHONE],
        category="fraudulent_transaction",
        reason_code="fraud",
        reason=f"used {CANARY_PII}",
        evidence="txn 42",
        subject_id=subject_id,
    )
    second = vault.records.create([("device_id", "dev-3")], category="bad_usage_rejoin", reason_code="bad_usage", subject_id=subject_id)
    unrelated = vault.records.create([EMAIL], category="fraudulent_transaction", reason_code="fraud", notes="kept", subject_id=other_subject)
    own = vault.records.create([("ip", "198.51.100.1")], category="bad_usage_rejoin", reason_code="bad_usage", reason="own key")
    assert scalar(vault.data_engine, "SELECT COUNT(*) FROM record_fields WHERE record_id = :r", r=linked) == 2

    vault.subjects.shred(subject_id)

    for record_id in (linked, second):
        view = vault.records.get(record_id)
        assert view.subject_id is None and view.status == "active" and view.text_fields == ()
    assert vault.records.get(linked).identifier_kinds == {"email": 1, "phone": 1}
    assert scalar(vault.data_engine, "SELECT COUNT(*) FROM record_fields WHERE record_id = :r", r=linked) == 0
    assert scalar(vault.data_engine, "SELECT COUNT(*) FROM records WHERE subject_id = :s", s=subject_id) == 0
    assert vault.records.reveal(linked, purpose="after erasure") == RecordText(linked, None, None, None, False)
    decision = vault.checks.check([("email", CANARY_PII)])
    assert decision.decision == "deny" and [m.record_id for m in decision.matches] == [linked]
    assert vault.checks.check([("device_id", "dev-3")]).decision == "deny"
    assert CANARY_PII not in table_text(vault.data_engine, "records")
    assert CANARY_PII not in table_text(vault.data_engine, "audit_entries")

    # other records are untouched
    assert vault.records.get(unrelated).subject_id == other_subject
    assert vault.records.reveal(unrelated, purpose="check").notes == "kept"
    assert vault.records.reveal(own, purpose="check").reason == "own key"
    with pytest.raises(NotFoundError):  # a shredded subject cannot be linked again
        vault.records.create([EMAIL], category="fraudulent_transaction", reason_code="fraud", subject_id=subject_id)


def test_shred_text_destroys_a_records_own_key_and_keeps_the_ban(vault: Vault) -> None:
    record_id = vault.records.create([EMAIL], category="fraudulent_transaction", reason_code="fraud", reason="r", evidence="e")
    assert rows(vault.keys_engine, "SELECT record_id FROM record_keys") == [{"record_id": record_id}]
    assert f"rdek/{record_id}" not in vault.cache
    vault.records.reveal(record_id, purpose="before")
    assert f"rdek/{record_id}" in vault.cache
    assert vault.records.shred_text(record_id, reason_code="retention") is True
    assert f"rdek/{record_id}" not in vault.cache
    assert rows(vault.keys_engine, "SELECT record_id FROM record_keys") == []
    assert vault.records.reveal(record_id, purpose="after").available is False
    assert vault.records.get(record_id).text_fields == ()
    assert vault.checks.check([EMAIL]).decision == "deny"
    assert vault.records.shred_text(record_id) is False  # nothing left
    with pytest.raises(NotFoundError):
        vault.keys.record_key(record_id)
    [entry, again] = vault.audit.query(action="record.shred_text")
    assert entry.detail == {"fields": 2, "own_key": True, "reason": "retention"}
    assert again.detail == {"fields": 0, "own_key": False, "reason": "request"}


def test_pseudonyms_are_keyed_full_length_and_differ_per_kind_and_domain(vault: Vault) -> None:
    value = "member-00417"
    a = vault.records.create([("custom:loyalty", value), ("custom:coupon", value)], category="fraudulent_transaction", reason_code="fraud")
    b = vault.records.create([("custom:loyalty", value)], category="fraudulent_transaction", reason_code="fraud", domain="tenant-b")
    stored = rows(
        vault.data_engine,
        "SELECT record_id, kind, pseudonym FROM record_identifiers WHERE NOT lookalike ORDER BY record_id, slot",
    )
    pseudonyms = {(r["record_id"], r["kind"]): bytes(r["pseudonym"]) for r in stored}
    assert len(pseudonyms) == 3
    assert all(len(p) == 32 for p in pseudonyms.values())
    plain_hashes = {hashlib.sha256(value.encode()).digest(), hashlib.sha256(value.lower().encode()).digest()}
    assert not plain_hashes & set(pseudonyms.values())
    assert pseudonyms[(a, "custom:loyalty")] != pseudonyms[(a, "custom:coupon")]  # per kind
    assert pseudonyms[(a, "custom:loyalty")] != pseudonyms[(b, "custom:loyalty")]  # per domain
    assert value not in table_text(vault.data_engine, "record_identifiers")
    # deterministic: the pseudonym a check derives is the stored one
    primary = vault.lookup.current().primary
    assert primary.derive("custom:loyalty", "default", value, 1) == pseudonyms[(a, "custom:loyalty")]
