"""Retention of records against a model, driven by a Hypothesis state machine on SQLite and
PostgreSQL.

Rules create records in the deleting record categories, with or without an expiry of their own,
some linked to a subject; record withdrawals on records and on subjects; move a record's expiry;
place legal holds (on a record or on its subject, open-ended or until a day) and release them;
move the clock; and sweep. The model is written from docs/retention.md: a record is due at the
earlier of its category's period (from its creation, or for a rejoin ban from its own withdrawal,
else its subject's; recording an event again replaces its time) and its expiry as last set; a
hold is active until it is released or its ``until`` passes, and a hold on a subject covers its
records; a sweep deletes every record that is due and not held, and nothing else. After each
step every record of the example exists exactly when the model says so, and a refused change (an
expiry past the category's period, a record that expired or is gone, a hold on a record that is
gone) changes nothing. Each example ends ten years on, with a sweep before and after its holds
are released.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule
from retention_support import T0, HoldingMachine, run_retention_machine

from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError
from pseudovault.vault.retention.policy_file import CATALOGUE
from pseudovault.vault.vault import Vault

if TYPE_CHECKING:
    from conftest import StoreUrls

#: the record categories whose end is a deletion (rejoin_restriction ends in a review)
CATEGORIES = ["fraudulent_transaction", "unauthorized_registration", "bad_usage_rejoin"]
#: clock moves per example (each example starts at T0 again)
MOVES = 12


@dataclass
class Rec:
    category: str
    created_at: datetime
    expires_at: datetime | None
    subject: str | None
    withdrawal: datetime | None = None  # the record's own event
    deleted: bool = False


@dataclass
class Hold:
    kind: str
    target: str
    until: datetime | None
    released: bool = False


class RetentionMachine(HoldingMachine):
    vault: Vault
    clock: FrozenClock

    def __init__(self) -> None:
        super().__init__()
        # every example starts on the same day (the vault is the examples' own, their records
        # apart): months and leap years fall alike when Hypothesis replays one to shrink it
        self.clock.set(T0)
        self.records: dict[str, Rec] = {}
        self.subjects: dict[str, datetime | None] = {}  # subject id -> its withdrawal
        self.holds: dict[str, Hold] = {}
        self.moves = 0
        self.serial = 0
        self.create_subject()  # records may be linked from the first step

    # --- the model -------------------------------------------------------------------------

    def _due(self, record: Rec) -> datetime | None:
        policies = self.vault.retention.policies
        policy = policies[record.category]
        if CATALOGUE.for_record(record.category).waits_for_event:
            start = record.withdrawal or (self.subjects.get(record.subject) if record.subject else None)
        else:
            start = record.created_at
        period_end = policies.due(policy, start) if start is not None else None
        ends = [t for t in (period_end, record.expires_at) if t is not None]
        return min(ends) if ends else None

    def _held(self, record_id: str, record: Rec, now: datetime) -> bool:
        targets = {record_id} | ({record.subject} if record.subject else set())
        return any(
            not hold.released and (hold.until is None or hold.until > now) and hold.target in targets
            for hold in self.holds.values()
        )

    def _live(self) -> list[str]:
        return [rid for rid, record in self.records.items() if not record.deleted]

    # --- rules -----------------------------------------------------------------------------

    @precondition(lambda self: len(self.subjects) < 3)
    @rule()
    def create_subject(self) -> None:
        subject_id = self.vault.subjects.create({"name": "Kim"})
        assert self.vault.retention.items(subject_id) == []  # no category: only its records are kept
        self.subjects[subject_id] = None

    @rule(category=st.sampled_from(CATEGORIES), days=st.none() | st.integers(1, 1300), link=st.booleans(), data=st.data())
    def create_record(self, category: str, days: int | None, link: bool, data: st.DataObject) -> None:
        now = self.clock.now()
        subject = data.draw(st.sampled_from(list(self.subjects))) if link and self.subjects else None
        expires_at = now + timedelta(days=days, hours=6) if days is not None else None
        limit = _limit(category, now)
        self.serial += 1
        try:
            record_id = self.vault.records.create(
                [("device_id", f"retention-machine-{id(self)}-{self.serial}")],
                category=category,
                reason_code="fraud",
                expires_at=expires_at,
                subject_id=subject,
            )
        except InvalidInputError:
            assert expires_at is not None and limit is not None and expires_at > limit
            return
        assert expires_at is None or limit is None or expires_at <= limit
        self.records[record_id] = Rec(category, now, expires_at if expires_at is not None else limit, subject)

    @precondition(lambda self: self.records)
    @rule(data=st.data())
    def record_withdrawal(self, data: st.DataObject) -> None:
        record_id = data.draw(st.sampled_from(list(self.records)))
        record = self.records[record_id]
        try:
            self.vault.retention.record_event("record", record_id, "withdrawal")
        except NotFoundError:
            assert record.deleted
            return
        assert not record.deleted
        record.withdrawal = self.clock.now()

    @precondition(lambda self: self.subjects)
    @rule(data=st.data())
    def subject_withdrawal(self, data: st.DataObject) -> None:
        subject_id = data.draw(st.sampled_from(list(self.subjects)))
        self.vault.retention.record_event("subject", subject_id, "withdrawal")
        self.subjects[subject_id] = self.clock.now()

    @precondition(lambda self: self.records)
    @rule(days=st.integers(1, 1300), data=st.data())
    def move_expiry(self, days: int, data: st.DataObject) -> None:
        record_id = data.draw(st.sampled_from(list(self.records)))
        record = self.records[record_id]
        now = self.clock.now()
        new = now + timedelta(days=days, hours=6)
        limit = _limit(record.category, record.created_at)
        try:
            self.vault.records.update(record_id, expires_at=new)
        except NotFoundError:
            assert record.deleted
            return
        except ConflictError:  # an expired record can no longer change
            assert not record.deleted and record.expires_at is not None and record.expires_at <= now
            return
        except InvalidInputError:
            assert not record.deleted and limit is not None and new > limit
            return
        assert not record.deleted and (record.expires_at is None or record.expires_at > now)
        assert limit is None or new <= limit
        record.expires_at = new

    @precondition(lambda self: self.records or self.subjects)
    @rule(on_subject=st.booleans(), days=st.none() | st.integers(1, 800), data=st.data())
    def place_hold(self, on_subject: bool, days: int | None, data: st.DataObject) -> None:
        kind = "subject" if on_subject and self.subjects else "record"
        if kind == "record" and not self.records:
            return
        target = data.draw(st.sampled_from(list(self.subjects if kind == "subject" else self.records)))
        until = self.clock.now() + timedelta(days=days, hours=6) if days is not None else None
        try:
            hold = self.vault.holds.place(kind, target, reason_code="litigation", reference="CASE-1", until=until)
        except NotFoundError:
            assert kind == "record" and self.records[target].deleted
            return
        assert kind == "subject" or not self.records[target].deleted
        self.holds[hold.hold_id] = Hold(kind, target, until)

    @precondition(lambda self: self.moves < MOVES)
    @rule(days=st.sampled_from([1, 30, 100, 200, 400, 800]))
    def move_clock(self, days: int) -> None:
        self.moves += 1
        self.clock.advance(timedelta(days=days))

    @rule()
    def sweep(self) -> None:
        self.vault.retention.sweeper.sweep()
        now = self.clock.now()
        for record_id, record in self.records.items():
            due = self._due(record)
            if not record.deleted and due is not None and due <= now and not self._held(record_id, record, now):
                record.deleted = True

    # --- what must hold --------------------------------------------------------------------

    @invariant()
    def records_exist_as_the_model_says(self) -> None:
        if not self.records:
            return
        present = {rid for rid in self.records if _exists(self.vault, rid)}
        assert present == set(self._live()), {
            rid: (self.records[rid], self._due(self.records[rid])) for rid in present ^ set(self._live())
        }

    def teardown(self) -> None:
        """Ten years on, every record of the example is due but those waiting for a withdrawal:
        a sweep deletes all of them but the held ones; once every hold is released (holds left
        active would also be claimed and put back by every later example's sweeps), the next
        sweep deletes those too."""
        if self.records:
            self.clock.advance(timedelta(days=3653))
            self.sweep()
            self.records_exist_as_the_model_says()
        self.release_all()
        if self.records:
            self.sweep()
            self.records_exist_as_the_model_says()


def _limit(category: str, created_at: datetime) -> datetime | None:
    """The latest expiry a record of ``category`` may have (None: its period waits for an event)."""
    entry = CATALOGUE.for_record(category)
    return None if entry.waits_for_event else entry.expires_at(created_at)


def _exists(vault: Vault, record_id: str) -> bool:
    try:
        vault.records.get(record_id)
    except NotFoundError:
        return False
    return True


def _run(store_urls: StoreUrls, *, max_examples: int, steps: int) -> None:
    run_retention_machine(RetentionMachine, store_urls.data, store_urls.keys, max_examples=max_examples, steps=steps)


def test_retention_follows_the_model_sqlite(sqlite_urls: StoreUrls) -> None:
    _run(sqlite_urls, max_examples=60, steps=30)


@pytest.mark.postgres
def test_retention_follows_the_model_postgres(postgres_urls: StoreUrls) -> None:
    _run(postgres_urls, max_examples=30, steps=25)
