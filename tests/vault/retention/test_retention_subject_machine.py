"""Retention of subjects' data against a model, driven by a Hypothesis state machine on SQLite and
PostgreSQL.

Rules create subjects whose fields carry subject categories (one covering every field, others
naming some of them), record the categories' starting events (again, too: recording an event again
replaces its time) and members' withdrawals, place legal holds on subjects (open-ended or until a
day) and release them, move the clock, and sweep. The model is written from docs/retention.md: a
category is due at the end of its period from its event (``member_data``'s event is the
withdrawal); a sweep applies every due category of every subject no active hold covers; applying a
category destroys the fields no category still pending covers, and a subject with no field left is
shredded (its row gone, a tombstone left). A withdrawal moves each pending category's fields to
separate storage at once (every category here keeps its data apart on withdrawal), due at the end
of the category's period from its own event or, when that was never recorded, from the withdrawal;
the subject is then shredded, and a sweep destroys each separated item that is due, unless a hold
on the subject covers it. A category whose period in separate storage has already run when it
would move (a withdrawal recorded when it was already due) is destroyed instead of moved. A
withdrawal recorded while a hold covers the subject moves nothing: every pending category is then
due at the withdrawal, the subject keeps its fields, and the first sweep after the release makes
the move, by the same rules, as of then. After each step every subject's fields, its existence, each category's
state and due date, and its separated items are what the model says. Each example ends ten years
on, with a sweep before and after its holds are released.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule
from retention_support import T0, HoldingMachine, rows, run_retention_machine, separated_of, subject_exists

from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import NotFoundError
from pseudovault.vault.vault import Vault

if TYPE_CHECKING:
    from conftest import StoreUrls

#: the subject categories in play, by the event their period runs from
EVENTS = {
    "contract_withdrawal": "contract_end",
    "payment_supply": "payment",
    "consumer_complaint": "complaint_closed",
    "member_data": "withdrawal",
}
FIELDS = ("name", "email", "order_ref", "note")
#: clock moves per example (each example starts at T0 again)
MOVES = 12


@dataclass
class Subj:
    fields: set[str]
    pending: dict[str, frozenset[str] | None]  # category -> the fields it names (None: every field)
    events: dict[str, datetime] = field(default_factory=dict)
    applied: set[str] = field(default_factory=set)
    shredded: bool = False
    # after a withdrawal: category -> (its fields in separate storage, their due date)
    separated: dict[str, tuple[frozenset[str], datetime]] = field(default_factory=dict)
    # a withdrawal recorded while held: its time, until a sweep after the release moves the data
    withdrawn_at: datetime | None = None


@dataclass
class Hold:
    target: str
    until: datetime | None
    released: bool = False


#: a subject's categories: one covering every field, up to two naming a few of them
categories = st.lists(st.sampled_from(list(EVENTS)), min_size=1, max_size=3, unique=True).flatmap(
    lambda codes: st.tuples(
        st.just(codes[0]),
        st.tuples(*(st.sets(st.sampled_from(FIELDS), min_size=1, max_size=2) for _ in codes[1:])).map(
            lambda named, codes=codes: dict(zip(codes[1:], named, strict=True))
        ),
    )
)


class SubjectRetentionMachine(HoldingMachine):
    vault: Vault
    clock: FrozenClock

    def __init__(self) -> None:
        super().__init__()
        self.clock.set(T0)  # every example starts on the same day (see the record machine)
        self.subjects: dict[str, Subj] = {}
        self.holds: dict[str, Hold] = {}
        self.moves = 0

    # --- the model -------------------------------------------------------------------------

    def _due(self, subject: Subj, category: str) -> datetime | None:
        if subject.withdrawn_at is not None and category in subject.pending:
            return subject.withdrawn_at  # the move to separate storage, waiting for the release
        start = subject.events.get(EVENTS[category])
        if start is None:
            return None
        policies = self.vault.retention.policies
        return policies.due(policies[category], start)

    def _held(self, subject_id: str, now: datetime) -> bool:
        return any(
            not hold.released and (hold.until is None or hold.until > now) and hold.target == subject_id
            for hold in self.holds.values()
        )

    def _live(self) -> list[str]:
        return [sid for sid, subject in self.subjects.items() if not subject.shredded]

    # --- rules -----------------------------------------------------------------------------

    @precondition(lambda self: len(self.subjects) < 4)
    @rule(spec=categories)
    def create_subject(self, spec: tuple[str, dict[str, set[str]]]) -> None:
        everything, named = spec
        values = {"name": "Kim", "email": "kim@example.com", "order_ref": "o-1", "note": "called twice"}
        wanted: dict[str, list[str] | None] = {everything: None, **{code: sorted(names) for code, names in named.items()}}
        subject_id = self.vault.retention.create_subject(values, wanted)
        self.subjects[subject_id] = Subj(
            set(FIELDS), {code: None if names is None else frozenset(names) for code, names in wanted.items()}
        )

    @precondition(lambda self: self._live())
    @rule(event=st.sampled_from([e for e in EVENTS.values() if e != "withdrawal"]), data=st.data())
    def record_event(self, event: str, data: st.DataObject) -> None:
        self._record(data.draw(st.sampled_from(self._live())), event)

    def _record(self, subject_id: str, event: str) -> None:
        subject = self.subjects[subject_id]
        # an event whose category was applied starts nothing new the model could say (its fields are gone)
        if any(EVENTS[code] == event for code in subject.applied):
            return
        items = self.vault.retention.record_event("subject", subject_id, event)
        subject.events[event] = self.clock.now()
        assert {i.category for i in items} == set(subject.pending) | subject.applied

    @precondition(lambda self: self._live())
    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        self._withdraw(data.draw(st.sampled_from(self._live())))

    def _withdraw(self, subject_id: str) -> None:
        subject = self.subjects[subject_id]
        now = self.clock.now()
        self.vault.retention.record_event("subject", subject_id, "withdrawal")
        subject.events["withdrawal"] = now
        subject.withdrawn_at = now
        if not self._held(subject_id, now):
            self._move(subject, now)

    def _move(self, subject: Subj, now: datetime) -> None:
        """The withdrawal's move to separate storage, made ``now``: each pending category's fields,
        due at the end of its period from its own event, else from the withdrawal; destroyed
        instead when that has passed. The subject is shredded."""
        assert subject.withdrawn_at is not None
        policies = self.vault.retention.policies
        for code, names in subject.pending.items():
            start = subject.events.get(EVENTS[code], subject.withdrawn_at)
            due = policies.due(policies[code], start)
            if due > now:
                subject.separated[code] = (frozenset(subject.fields if names is None else names), due)
        subject.applied |= set(subject.pending)
        subject.pending.clear()
        subject.fields = set()
        subject.shredded = True
        subject.withdrawn_at = None

    @precondition(lambda self: any(s.shredded for s in self.subjects.values()))
    @rule(event=st.sampled_from(list(EVENTS.values())), data=st.data())
    def record_event_on_a_shredded_subject(self, event: str, data: st.DataObject) -> None:
        subject_id = data.draw(st.sampled_from([sid for sid, s in self.subjects.items() if s.shredded]))
        with pytest.raises(NotFoundError):
            self.vault.retention.record_event("subject", subject_id, event)

    @precondition(lambda self: self.subjects)
    @rule(days=st.none() | st.integers(1, 800), data=st.data())
    def place_hold(self, days: int | None, data: st.DataObject) -> None:
        # a subject shredded after its withdrawal may be held too, while its separated data lasts
        subject_id = data.draw(st.sampled_from(list(self.subjects)))
        subject = self.subjects[subject_id]
        until = self.clock.now() + timedelta(days=days, hours=6) if days is not None else None
        if subject.shredded and not subject.separated:  # nothing of it is left to hold
            with pytest.raises(NotFoundError):
                self.vault.holds.place("subject", subject_id, reason_code="litigation", reference="CASE-2", until=until)
            return
        hold = self.vault.holds.place("subject", subject_id, reason_code="litigation", reference="CASE-2", until=until)
        self.holds[hold.hold_id] = Hold(subject_id, until)

    @precondition(lambda self: self.moves < MOVES)
    @rule(days=st.sampled_from([1, 30, 100, 400, 800, 1100]))
    def move_clock(self, days: int) -> None:
        self.moves += 1
        self.clock.advance(timedelta(days=days))

    @rule()
    def sweep(self) -> None:
        self.vault.retention.sweeper.sweep()
        now = self.clock.now()
        for subject_id, subject in self.subjects.items():
            if self._held(subject_id, now):
                continue
            subject.separated = {code: kept for code, kept in subject.separated.items() if kept[1] > now}
            if subject.shredded:
                continue
            if subject.withdrawn_at is not None:
                self._move(subject, now)
                continue
            due = {code for code in subject.pending if (at := self._due(subject, code)) is not None and at <= now}
            if not due:
                continue
            for code in due:
                del subject.pending[code]
            subject.applied |= due
            kept = set().union(*(subject.fields if names is None else names for names in subject.pending.values()))
            subject.fields &= kept
            subject.shredded = not subject.fields

    # --- what must hold --------------------------------------------------------------------

    @invariant()
    def subjects_are_as_the_model_says(self) -> None:
        for subject_id, subject in self.subjects.items():
            found = rows(self.vault.data_engine, "SELECT name FROM subject_fields WHERE subject_id = :id", id=subject_id)
            stored = {row["name"] for row in found}
            assert stored == subject.fields, (subject_id, subject, stored)
            assert subject_exists(self.vault, subject_id) == (not subject.shredded), subject
            assert (self.vault.subjects.tombstone(subject_id) is not None) == subject.shredded, subject
            separated = {s["category"]: (frozenset(s["fields"]), s["due_at"]) for s in separated_of(self.vault, subject_id)}
            expected = {code: (names, due.isoformat()) for code, (names, due) in subject.separated.items()}
            assert separated == expected, (subject, separated)
            if subject.shredded:
                continue
            items = {i.category: i for i in self.vault.retention.items(subject_id)}
            assert set(items) == set(subject.pending) | subject.applied, (items, subject)
            for code, item in items.items():
                assert item.state == ("done" if code in subject.applied else "pending"), (item, subject)
                assert item.due_at == self._due(subject, code), (item, subject)

    def teardown(self) -> None:
        """Ten years on, every category whose event was recorded, and every separated item, is due:
        a sweep applies those of the subjects no hold covers (one withdrawn subject's separated
        data is held open-ended first, if no hold covers it yet, so that each example with a
        withdrawal sees held separated data outlive its due date); once every hold is released
        (holds left active would be seen by every later example's sweeps), the next sweep
        applies the rest. One subject still live is held open-ended first, with every event of its
        pending categories recorded, and withdraws after the release (if it has not yet): its
        categories whose periods have run are then destroyed, not moved to separate storage."""
        now = self.clock.now()
        withdrawn = [sid for sid, s in self.subjects.items() if s.separated and not self._held(sid, now)]
        late = self._live()[:1]
        for subject_id in late:
            for code in list(self.subjects[subject_id].pending):
                if EVENTS[code] != "withdrawal":
                    self._record(subject_id, EVENTS[code])
        for subject_id in [*withdrawn[:1], *late]:
            hold = self.vault.holds.place("subject", subject_id, reason_code="litigation", reference="CASE-3")
            self.holds[hold.hold_id] = Hold(subject_id, None)
        if self.subjects:
            self.clock.advance(timedelta(days=3653))
            self.sweep()
            self.subjects_are_as_the_model_says()
        self.release_all()
        for subject_id in late:
            if self.subjects[subject_id].withdrawn_at is None:
                self._withdraw(subject_id)
        if self.subjects:
            self.sweep()
            self.subjects_are_as_the_model_says()


def _run(store_urls: StoreUrls, *, max_examples: int, steps: int) -> None:
    run_retention_machine(SubjectRetentionMachine, store_urls.data, store_urls.keys, max_examples=max_examples, steps=steps)


def test_subject_retention_follows_the_model_sqlite(sqlite_urls: StoreUrls) -> None:
    _run(sqlite_urls, max_examples=50, steps=30)


@pytest.mark.postgres
def test_subject_retention_follows_the_model_postgres(postgres_urls: StoreUrls) -> None:
    _run(postgres_urls, max_examples=25, steps=25)
