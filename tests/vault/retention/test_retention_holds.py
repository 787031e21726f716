"""Legal holds: they block shredding, deletion and expiry until released, and are audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from canary import CANARY_PII
from retention_support import audit, record_exists, subject_exists

from pseudovault.vault.audit import Actor, acting_as
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError
from pseudovault.vault.retention.holds import HeldError
from pseudovault.vault.vault import Vault


def test_a_held_subject_cannot_be_shredded_and_the_answer_names_the_hold(vault: Vault) -> None:
    subject_id = vault.subjects.create({"email": CANARY_PII})
    with acting_as(Actor("cli", "privacy-officer")):
        hold = vault.holds.place("subject", subject_id, reason_code="dispute", reference="KCA-2026-00042")
    assert (hold.placed_by, hold.active, hold.until) == ("privacy-officer", True, None)
    with pytest.raises(ConflictError) as info:
        vault.subjects.shred(subject_id)
    assert isinstance(info.value, HeldError) and info.value.hold_id == hold.hold_id
    assert hold.hold_id in str(info.value) and CANARY_PII not in str(info.value)
    with pytest.raises(HeldError):
        vault.subjects.shred_many([subject_id])
    assert vault.subjects.read(subject_id) == {"email": CANARY_PII}
    assert audit(vault, "subject.shred")[-1].outcome == "conflict"

    released = vault.holds.release(hold.hold_id, reason_code="settled")
    assert not released.active and released.release_reason_code == "settled"
    assert vault.holds.release(hold.hold_id).released_at == released.released_at  # twice: harmless
    vault.subjects.shred(subject_id)
    assert not subject_exists(vault, subject_id)
    placed, first, second = audit(vault, "hold.place") + audit(vault, "hold.release")
    assert placed.targets == (hold.hold_id, subject_id) and placed.detail["reference"] == "KCA-2026-00042"
    assert (first.detail["already"], second.detail["already"]) == (False, True)


def test_a_shred_blocked_by_several_holds_names_the_oldest_active_one(vault: Vault, clock: FrozenClock) -> None:
    subject_id = vault.subjects.create({"email": CANARY_PII})
    lapsed = vault.holds.place("subject", subject_id, reason_code="dispute", reference="A-1", until=clock.now() + timedelta(days=1))
    clock.advance(timedelta(hours=1))
    oldest = vault.holds.place("subject", subject_id, reason_code="investigation", reference="B-2")
    clock.advance(timedelta(hours=1))
    newer = vault.holds.place("subject", subject_id, reason_code="litigation", reference="C-3")
    with pytest.raises(HeldError) as info:
        vault.subjects.shred(subject_id)
    assert info.value.hold_id == lapsed.hold_id  # all three active: the first placed
    clock.advance(timedelta(days=2))  # the first lapses
    other = vault.subjects.create({"name": "Lee"})
    with pytest.raises(HeldError) as info:
        vault.subjects.shred_many([other, subject_id])
    assert info.value.hold_id == oldest.hold_id and info.value.target_id == subject_id
    assert vault.subjects.exists(other), "nothing is shredded when one of the ids is held"
    vault.holds.release(oldest.hold_id)
    with pytest.raises(HeldError) as info:
        vault.subjects.shred(subject_id)
    assert info.value.hold_id == newer.hold_id
    vault.holds.release(newer.hold_id)
    assert [r.subject_id for r in vault.subjects.shred_many([other, subject_id])] == [other, subject_id]


def test_a_hold_with_an_end_lapses_by_itself(lite: Vault, clock: FrozenClock) -> None:
    subject_id = lite.subjects.create({"name": "A"})
    hold = lite.holds.place("subject", subject_id, reason_code="investigation", reference="T-1",
                            until=clock.now() + timedelta(days=30))
    assert [h.hold_id for h in lite.holds.list()] == [hold.hold_id]
    clock.advance(timedelta(days=30))
    assert lite.holds.list() == [] and not lite.holds.get(hold.hold_id).active
    assert [h.hold_id for h in lite.holds.list(active_only=False)] == [hold.hold_id]
    lite.subjects.shred(subject_id)


def test_holds_are_checked_before_they_are_placed(lite: Vault, clock: FrozenClock) -> None:
    subject_id = lite.subjects.create({"name": "A"})
    with pytest.raises(NotFoundError):
        lite.holds.place("subject", "6f1c2a8e-4a7b-4c1e-9d3f-1a2b3c4d5e6f", reason_code="dispute", reference="X")
    with pytest.raises(NotFoundError):
        lite.holds.place("record", subject_id, reason_code="dispute", reference="X")
    bad = [
        {"reason_code": "Dispute!", "reference": "X"},
        {"reason_code": "dispute", "reference": CANARY_PII},
        {"reason_code": "dispute", "reference": "X", "until": clock.now() - timedelta(seconds=1)},
        {"reason_code": "dispute", "reference": "X", "until": datetime(2030, 1, 1)},
    ]
    for kwargs in bad:
        with pytest.raises(InvalidInputError) as info:
            lite.holds.place("subject", subject_id, **kwargs)  # type: ignore[arg-type]
        assert CANARY_PII not in str(info.value)
    with pytest.raises(InvalidInputError):
        lite.holds.place("tenant", subject_id, reason_code="dispute", reference="X")
    with pytest.raises(NotFoundError):
        lite.holds.release("6f1c2a8e-4a7b-4c1e-9d3f-1a2b3c4d5e6f")


def test_a_hold_on_a_subject_covers_its_records(lite: Vault, clock: FrozenClock) -> None:
    subject_id = lite.subjects.create({"name": "A"})
    record_id = lite.records.create([("email", "a@example.com")], category="unauthorized_registration",
                                    reason_code="unauthorized_use", subject_id=subject_id)
    hold = lite.holds.place("subject", subject_id, reason_code="investigation", reference="T-2")
    clock.set(datetime(2026, 8, 1, tzinfo=UTC))
    report = lite.retention.sweeper.sweep()
    assert report.held == 1 and record_exists(lite, record_id)
    lite.holds.release(hold.hold_id)
    lite.retention.sweeper.sweep()
    assert not record_exists(lite, record_id)
    (deleted,) = audit(lite, "record.delete")
    assert deleted.targets == (record_id,) and deleted.detail == {"category": "unauthorized_registration",
                                                                   "reason": "retention"}


def test_a_withdrawal_of_a_held_subject_moves_nothing_until_the_release(lite: Vault, clock: FrozenClock) -> None:
    from retention_support import separated_of

    subject_id = lite.retention.create_subject({"name": "Kim", "order_ref": "o-1"}, ["member"])
    hold = lite.holds.place("subject", subject_id, reason_code="dispute", reference="D-7")
    lite.retention.record_event("subject", subject_id, "withdrawal")
    assert subject_exists(lite, subject_id) and separated_of(lite, subject_id) == []
    assert lite.retention.report(0)["held"] == 1
    lite.holds.release(hold.hold_id)
    report = lite.retention.sweeper.sweep()
    assert report.outcomes["separated"] == 1
    assert not subject_exists(lite, subject_id)
    (item,) = separated_of(lite, subject_id)
    assert item["due_at"] == "2027-01-15T15:00:00+00:00"  # a year from the withdrawal, not from the release
