"""Time travel over every preset (SQLite and PostgreSQL): nothing is destroyed a day early, what is
due is destroyed (or moved, or put up for review) on its day, and held items survive until the
hold is released."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from canary import CANARY_PII
from retention_support import (
    DORMANT_ON,
    T0,
    midnight,
    policies_with,
    record_exists,
    separated_of,
    subject_exists,
)

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import InvalidInputError, NotFoundError
from pseudovault.vault.retention.policies import PolicyFileError, PolicySet
from pseudovault.vault.retention.views import DestructiveEventError, EventPreview
from pseudovault.vault.vault import Vault

if TYPE_CHECKING:
    from conftest import StoreUrls

_counter = itertools.count(1)


@pytest.fixture
def policies() -> PolicySet:
    return policies_with(DORMANT_ON)


def _subject(vault: Vault, category: str, event: str | None) -> str:
    n = next(_counter)
    subject_id = vault.retention.create_subject(
        {"name": f"Kim {n}", "email": CANARY_PII, "ref": f"ref-{n}"}, [category]
    )
    if event is not None:
        vault.retention.record_event("subject", subject_id, event, at=T0)
    return subject_id


def _record(vault: Vault, category: str, reason_code: str, event: str | None = None) -> str:
    n = next(_counter)
    record_id = vault.records.create(
        [("email", f"banned{n}@example.com")], category=category, reason_code=reason_code, evidence=CANARY_PII
    )
    if event is not None:
        vault.retention.record_event("record", record_id, event, at=T0)
    return record_id


def _live_subject(vault: Vault, target: str) -> bool:
    return subject_exists(vault, target)


def _subject_data_anywhere(vault: Vault, target: str) -> bool:
    return subject_exists(vault, target) or bool(separated_of(vault, target))


def _record_live(vault: Vault, target: str) -> bool:
    return record_exists(vault, target)


def _not_up_for_review(vault: Vault, target: str) -> bool:
    return record_exists(vault, target) and all(i.state != "review" for i in vault.retention.items(target))


@dataclass(frozen=True)
class Case:
    category: str
    kind: str  # what a hold names: subject | record
    due: datetime
    make: Callable[[Vault], str]
    alive: Callable[[Vault, str], bool]


def _day(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return midnight(year, month, day, hour)


CASES = [
    # subjects' data: due at midnight (in Seoul, the presets' zone) after the last day of the period
    # (T0 is 15 January 2026, 10:00 UTC, 19:00 in Seoul)
    Case("contract_withdrawal", "subject", _day(2031, 1, 16),
         lambda v: _subject(v, "contract_withdrawal", "contract_end"), _live_subject),
    Case("payment_supply", "subject", _day(2031, 1, 16), lambda v: _subject(v, "payment_supply", "payment"),
         _live_subject),
    Case("consumer_complaint", "subject", _day(2029, 1, 16),
         lambda v: _subject(v, "consumer_complaint", "complaint_closed"), _live_subject),
    Case("access_log", "subject", _day(2026, 4, 16), lambda v: _subject(v, "access_log", None), _live_subject),
    # withdrawal moves member data to separate storage at once; it is destroyed a year later
    Case("member_data", "subject", _day(2027, 1, 16), lambda v: _subject(v, "member_data", "withdrawal"),
         _subject_data_anywhere),
    # the optional dormant preset (switched on here): after a year without activity, the account's
    # data moves to separate storage
    Case("dormant_account", "subject", _day(2027, 1, 16), lambda v: _subject(v, "dormant_account", "last_activity"),
         _live_subject),
    # anti-abuse records: never kept past their own expiry (created at T0)
    Case("unauthorized_registration", "record", _day(2026, 7, 15, 19),
         lambda v: _record(v, "unauthorized_registration", "unauthorized_use"), _record_live),
    Case("fraudulent_transaction", "record", _day(2029, 1, 15, 19),
         lambda v: _record(v, "fraudulent_transaction", "fraud"), _record_live),
    # a rejoin ban runs from the member's withdrawal (here at T0): due at midnight after its last day
    Case("bad_usage_rejoin", "record", _day(2027, 1, 16),
         lambda v: _record(v, "bad_usage_rejoin", "bad_usage", "withdrawal"), _record_live),
    # kept without an end date: up for review after a year
    Case("rejoin_restriction", "record", _day(2027, 1, 15, 19),
         lambda v: _record(v, "rejoin_restriction", "rejoin_restriction"), _not_up_for_review),
]


def test_the_cases_cover_every_preset(policies: PolicySet) -> None:
    assert {c.category for c in CASES} == set(policies.codes())


def _due_of(vault: Vault, target: str, category: str) -> datetime | None:
    dues = [i.due_at for i in vault.retention.items(target) if i.category == category and i.state != "done"]
    assert len(dues) == 1, dues
    return dues[0]


@pytest.mark.parametrize("case", CASES, ids=[c.category for c in CASES])
def test_nothing_early_everything_on_the_day_held_until_release(vault: Vault, clock: FrozenClock, case: Case) -> None:
    target = case.make(vault)
    held = case.make(vault)
    hold = vault.holds.place(case.kind, held, reason_code="investigation", reference="CASE-2026-001")
    vault.retention.sweeper.sweep()  # at T0: nothing is due; records get their items
    assert _due_of(vault, target, case.category) == case.due
    assert case.alive(vault, target) and case.alive(vault, held)

    for early in (case.due - timedelta(days=1), case.due - timedelta(microseconds=1)):
        clock.set(early)
        report = vault.retention.sweeper.sweep()
        assert report.applied == 0, (case.category, early, report.as_dict())
        assert case.alive(vault, target), f"{case.category} acted on before its day ({early})"
        assert case.alive(vault, held)

    clock.set(case.due)
    report = vault.retention.sweeper.sweep()
    assert not case.alive(vault, target), f"{case.category} not acted on on its day"
    assert case.alive(vault, held), "a held item was destroyed"
    assert report.held >= 1 and report.applied >= 1

    clock.advance(timedelta(days=400))
    vault.retention.sweeper.sweep()
    assert case.alive(vault, held), "a held item was destroyed while the hold stands"

    vault.holds.release(hold.hold_id)
    vault.retention.sweeper.sweep()
    assert not case.alive(vault, held), "a released item was not acted on by the next sweep"


def test_restrict_moves_dormant_accounts_and_destroys_them_at_their_own_expiry(vault: Vault, clock: FrozenClock) -> None:
    subject_id = _subject(vault, "dormant_account", "last_activity")
    clock.set(_day(2027, 1, 16, 3))
    vault.retention.sweeper.sweep()
    assert not subject_exists(vault, subject_id)
    (item,) = separated_of(vault, subject_id)
    assert item["category"] == "dormant_account" and item["fields"] == ["email", "name", "ref"]
    assert item["due_at"] == _day(2031, 1, 17).astimezone(UTC).isoformat()  # 4 years from the day it moved
    with pytest.raises(NotFoundError):
        vault.subjects.read(subject_id)
    clock.set(_day(2031, 1, 16, 23))
    vault.retention.sweeper.sweep()
    assert separated_of(vault, subject_id)
    clock.set(_day(2031, 1, 17))
    vault.retention.sweeper.sweep()
    assert separated_of(vault, subject_id) == []


def test_a_review_decided_for_destruction_deletes_the_record(vault: Vault, clock: FrozenClock) -> None:
    record_id = _record(vault, "rejoin_restriction", "rejoin_restriction")
    clock.set(_day(2027, 1, 15, 19))
    vault.retention.sweeper.sweep()
    (item,) = [i for i in vault.retention.items(record_id) if i.state == "review"]
    kept = vault.retention.complete_review(item.item_id, decision="keep")
    assert kept.state == "pending" and kept.due_at == _day(2028, 1, 16)
    clock.set(_day(2028, 1, 16))
    vault.retention.sweeper.sweep()
    assert vault.retention.get_item(item.item_id).state == "review"
    destroyed = vault.retention.complete_review(item.item_id, decision="destroy", reason_code="no_longer_needed")
    assert destroyed.state == "done" and destroyed.outcome == "deleted"
    assert not record_exists(vault, record_id)
    assert [e.detail["decision"] for e in vault.audit.query(action="retention.review")] == ["keep", "destroy"]


def test_categories_of_named_fields_are_kept_apart(vault: Vault, clock: FrozenClock) -> None:
    subject_id = vault.retention.create_subject(
        {"name": "Kim", "email": CANARY_PII, "order_ref": "ord-1", "amount": "12000"},
        {"member": None, "payment_supply": ["order_ref", "amount"]},
    )
    vault.retention.record_event("subject", subject_id, "payment", at=T0)
    clock.set(_day(2026, 6, 1))
    vault.retention.record_event("subject", subject_id, "withdrawal")
    assert not subject_exists(vault, subject_id)  # everything it held moved out
    moved = {item["category"]: item for item in separated_of(vault, subject_id)}
    assert moved["payment_supply"]["fields"] == ["amount", "order_ref"]
    assert moved["payment_supply"]["due_at"] == _day(2031, 1, 16).astimezone(UTC).isoformat()  # from the payment
    assert moved["member_data"]["due_at"] == _day(2027, 6, 2).astimezone(UTC).isoformat()  # from the withdrawal
    clock.set(_day(2027, 6, 2))
    vault.retention.sweeper.sweep()
    assert [i["category"] for i in separated_of(vault, subject_id)] == ["payment_supply"]
    clock.set(_day(2031, 1, 16))
    vault.retention.sweeper.sweep()
    assert separated_of(vault, subject_id) == []


def test_a_category_due_before_another_deletes_only_its_own_fields(vault: Vault, clock: FrozenClock) -> None:
    subject_id = vault.retention.create_subject(
        {"name": "Kim", "login_ip": "203.0.113.9", "order_ref": "ord-1"},
        {"access_log": ["login_ip"], "payment_supply": ["order_ref"]},
    )
    vault.retention.record_event("subject", subject_id, "payment", at=T0)
    clock.set(_day(2026, 4, 16))
    report = vault.retention.sweeper.sweep()
    assert report.outcomes["fields_deleted"] == 1
    assert vault.subjects.read(subject_id) == {"name": "Kim", "order_ref": "ord-1"}
    clock.set(_day(2031, 1, 16))
    vault.retention.sweeper.sweep()
    # "name" has no category: no policy destroys it, so the subject stays with it
    assert vault.subjects.read(subject_id) == {"name": "Kim"}


def test_a_rejoin_ban_runs_from_the_withdrawal_never_from_its_creation(vault: Vault, clock: FrozenClock) -> None:
    """Finding 2: a ban created at T0+100 d for a member who withdrew at T0+300 d lapsed at
    T0+465 d, before it had run its year from the withdrawal."""
    clock.set(T0 + timedelta(days=100))
    record_id = _record(vault, "bad_usage_rejoin", "bad_usage")
    assert vault.records.get(record_id).expires_at is None  # no default expiry: it waits for the event
    vault.retention.sweeper.sweep()
    assert _due_of(vault, record_id, "bad_usage_rejoin") is None
    clock.set(T0 + timedelta(days=300))
    vault.retention.record_event("record", record_id, "withdrawal")
    assert (T0 + timedelta(days=300)).date().isoformat() == "2026-11-11"
    due = _due_of(vault, record_id, "bad_usage_rejoin")
    assert due == _day(2027, 11, 12)  # a year from the withdrawal, to the end of its last day
    for day in (465, 600, 664):
        clock.set(T0 + timedelta(days=day))
        vault.retention.sweeper.sweep()
        assert record_exists(vault, record_id), f"the ban lapsed on day {day}, before a year from the withdrawal"
    clock.set(due)
    vault.retention.sweeper.sweep()
    assert not record_exists(vault, record_id)


@pytest.mark.parametrize("on", ["record", "subject"])
def test_an_event_recorded_again_starts_the_period_from_its_new_time(vault: Vault, clock: FrozenClock, on: str) -> None:
    """A member who withdrew, came back and withdrew again: the rejoin ban runs its year from the
    second withdrawal (its own, or its subject's), and the first one's year ending does not end it."""
    subject_id = vault.subjects.create({"name": "Kim"}) if on == "subject" else None
    record_id = vault.records.create(
        [("email", f"twice-{on}@example.com")], category="bad_usage_rejoin", reason_code="bad_usage",
        subject_id=subject_id,
    )
    target = subject_id if subject_id is not None else record_id
    clock.set(T0 + timedelta(days=10))
    vault.retention.record_event(on, target, "withdrawal")
    vault.retention.sweeper.sweep()
    first_due = _due_of(vault, record_id, "bad_usage_rejoin")
    clock.set(T0 + timedelta(days=200))
    vault.retention.record_event(on, target, "withdrawal")
    second_due = _due_of(vault, record_id, "bad_usage_rejoin")
    assert second_due == first_due + timedelta(days=190)
    clock.set(first_due + timedelta(days=1))
    vault.retention.sweeper.sweep()
    assert record_exists(vault, record_id), "the ban ended a year after the first withdrawal, not the second"
    assert vault.checks.check([("email", f"twice-{on}@example.com")]).decision == "deny"
    clock.set(second_due)
    vault.retention.sweeper.sweep()
    assert not record_exists(vault, record_id)


def test_a_ban_whose_member_never_withdraws_stays_until_an_expiry_set_by_hand(vault: Vault, clock: FrozenClock) -> None:
    waiting = _record(vault, "bad_usage_rejoin", "bad_usage")
    limited = vault.records.create(
        [("email", "limited@example.com")], category="bad_usage_rejoin", reason_code="bad_usage",
        expires_at=T0 + timedelta(days=30),
    )
    clock.set(T0 + timedelta(days=5 * 366))
    vault.retention.sweeper.sweep()
    assert record_exists(vault, waiting)
    assert not record_exists(vault, limited)


@pytest.mark.parametrize("later", [True, False], ids=["extended", "brought_forward"])
def test_a_record_is_deleted_at_its_expiry_as_last_set(vault: Vault, clock: FrozenClock, later: bool) -> None:
    # a sweep gives the record its retention item (due at its first expiry); the expiry then moves
    record_id = vault.records.create(
        [("email", "moved@example.com")], category="fraudulent_transaction", reason_code="fraud",
        expires_at=clock.now() + timedelta(days=10),
    )
    vault.retention.sweeper.sweep()
    moved = clock.now() + timedelta(days=20 if later else 5)
    vault.records.update(record_id, expires_at=moved)
    first, last = sorted([clock.now() + timedelta(days=10), moved])
    clock.set(first + timedelta(hours=1))
    vault.retention.sweeper.sweep()
    assert record_exists(vault, record_id) == later  # extended: the ban still runs, and stays
    if later:
        assert vault.checks.check([("email", "moved@example.com")]).decision == "deny"
    clock.set(last + timedelta(hours=1))
    vault.retention.sweeper.sweep()
    assert not record_exists(vault, record_id)


def test_destruction_and_deadlines_follow_the_policies_zone(vault: Vault, clock: FrozenClock) -> None:
    """Finding 10: the presets count days in Seoul, so an access log collected on 2 March is
    destroyed at midnight in Seoul (15:00 UTC the day before), not at 09:00 KST; and a request
    received on 2 March, at any hour there, may be answered through the end of 12 March (Civil Act
    Art. 157: the day of receipt is not counted; Art. 159: the period ends with its last day)."""
    assert vault.retention.policies.timezone == "Asia/Seoul"
    subject_id = vault.retention.create_subject({"ip": "203.0.113.7", "name": "Kim"}, ["member"])
    deadlines = []
    for received in (_day(2026, 3, 2, 0), _day(2026, 3, 2, 23)):  # 1 March 15:00 and 2 March 14:00 UTC
        clock.set(received + timedelta(minutes=30))
        deadlines.append(vault.rights.open_request(subject_id, "access", received_at=received))
    assert {r.due_at for r in deadlines} == {_day(2026, 3, 13)}
    assert _day(2026, 3, 13).astimezone(UTC) == datetime(2026, 3, 12, 15, tzinfo=UTC)
    clock.set(_day(2026, 3, 13) - timedelta(microseconds=1))  # the last instant of 12 March in Seoul
    assert vault.rights.requests(overdue=True) == []
    clock.set(_day(2026, 3, 13))
    assert {r.request_id for r in vault.rights.requests(overdue=True)} == {r.request_id for r in deadlines}

    logged = vault.retention.create_subject({"ip": "198.51.100.9"}, ["access_log"])  # 13 March, 00:00 KST
    due = _due_of(vault, logged, "access_log")
    assert due == _day(2026, 6, 14)  # three months, to the end of 13 June in Seoul
    clock.set(due - timedelta(microseconds=1))
    vault.retention.sweeper.sweep()
    assert subject_exists(vault, logged)
    clock.set(due)
    vault.retention.sweeper.sweep()
    assert not subject_exists(vault, logged)


def test_an_operator_elsewhere_counts_days_in_its_own_zone(store_urls: StoreUrls, provider: FakeKmsProvider) -> None:
    clock = FrozenClock(T0)
    utc = policies_with('timezone = "UTC"\n')
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock, retention_policies=utc) as vault:
        subject_id = vault.retention.create_subject({"name": "Kim"}, ["member"])
        request = vault.rights.open_request(subject_id, "erasure")
        assert request.due_at == datetime(2026, 1, 26, tzinfo=UTC)  # received 15 January, 10:00 UTC
        logged = vault.retention.create_subject({"ip": "198.51.100.9"}, ["access_log"])
        assert _due_of(vault, logged, "access_log") == datetime(2026, 4, 16, tzinfo=UTC)


def _state(vault: Vault, *targets: str) -> tuple[object, ...]:
    return (
        tuple(tuple(vault.retention.items(t)) for t in targets),
        tuple(subject_exists(vault, t) or record_exists(vault, t) for t in targets),
        len(vault.audit.query(action="retention.event", limit=1000)),
    )


def test_a_backdated_event_shows_what_it_destroys_and_needs_a_confirmation(vault: Vault, clock: FrozenClock) -> None:
    """Finding 9: a withdrawal recorded two years late destroyed the member's data at once, with
    no preview and no confirmation."""
    subject_id = vault.retention.create_subject({"name": "Kim", "email": CANARY_PII, "order_ref": "o-9"},
                                                {"member": None, "payment_supply": ["order_ref"]})
    vault.retention.record_event("subject", subject_id, "payment", at=T0)
    ban = vault.records.create([("email", "late@example.com")], category="bad_usage_rejoin", reason_code="bad_usage",
                               subject_id=subject_id)
    clock.set(T0 + timedelta(days=800))
    before = _state(vault, subject_id, ban)

    preview = vault.retention.preview_event("subject", subject_id, "withdrawal", at=T0 + timedelta(days=10))
    effects = {(e.category, e.effect) for e in preview.due_now}
    # member data's year after the withdrawal has run: its move to separate storage destroys it; the
    # ban's year too; the payment record (5 years from the payment) is only moved
    assert effects == {("member_data", "destroy"), ("bad_usage_rejoin", "destroy"), ("payment_supply", "separate")}
    assert preview.destroys and preview.as_dict()["destroys"] is True
    assert CANARY_PII not in str(preview.as_dict())
    assert _state(vault, subject_id, ban) == before  # a preview changes nothing

    with pytest.raises(DestructiveEventError) as refused:
        vault.retention.record_event("subject", subject_id, "withdrawal", at=T0 + timedelta(days=10))
    def what(p: EventPreview) -> set[tuple[str, str, str, str]]:  # a rolled-back item's id may not come again
        return {(e.kind, e.target_id, e.category, e.effect) for e in p.due_now}

    assert what(refused.value.preview) == what(preview)
    assert _state(vault, subject_id, ban) == before  # refused: nothing recorded

    # an event that destroys nothing at once needs no confirmation
    assert not vault.retention.preview_event("subject", subject_id, "last_activity").destroys
    vault.retention.record_event("subject", subject_id, "last_activity")

    vault.retention.record_event("subject", subject_id, "withdrawal", at=T0 + timedelta(days=10), confirm=True)
    (entry,) = vault.audit.query(action="retention.event", limit=1000)[-1:]
    assert entry.detail["event"] == "withdrawal" and entry.detail["destroys"] == 2
    vault.retention.sweeper.sweep()
    assert not record_exists(vault, ban)
    assert not subject_exists(vault, subject_id)  # its member data destroyed, its payment record moved out
    assert [s["category"] for s in separated_of(vault, subject_id)] == ["payment_supply"]


def test_a_backdated_record_event_is_refused_unless_confirmed(vault: Vault, clock: FrozenClock) -> None:
    record_id = _record(vault, "unauthorized_registration", "unauthorized_use")
    clock.set(T0 + timedelta(days=30))
    at = T0 - timedelta(days=200)  # confirmed before the record was made: its 6 months have run
    (effect,) = vault.retention.preview_event("record", record_id, "fraud_confirmed", at=at).due_now
    assert (effect.target_id, effect.effect) == (record_id, "destroy")
    with pytest.raises(DestructiveEventError):
        vault.retention.record_event("record", record_id, "fraud_confirmed", at=at)
    vault.retention.sweeper.sweep()
    assert record_exists(vault, record_id)
    vault.retention.record_event("record", record_id, "fraud_confirmed", at=at, confirm=True)
    vault.retention.sweeper.sweep()
    assert not record_exists(vault, record_id)


def test_an_event_is_not_refused_for_what_was_due_without_it(vault: Vault, clock: FrozenClock) -> None:
    """A record gets its retention item at the first sweep after its creation; one whose expiry
    passed before that sweep is due with or without a new event. An event that moves nothing (a
    withdrawal, on a record whose period runs from its collection) makes nothing due at once: it
    is recorded without a confirmation, and the record goes at the next sweep as it would have."""
    record_id = vault.records.create(
        [("email", "expired-unswept@example.com")], category="fraudulent_transaction", reason_code="fraud",
        expires_at=clock.now() + timedelta(days=1),
    )  # fmt: skip
    clock.advance(timedelta(days=7))
    assert vault.retention.preview_event("record", record_id, "withdrawal").due_now == ()
    vault.retention.record_event("record", record_id, "withdrawal")
    assert record_exists(vault, record_id)
    vault.retention.sweeper.sweep()
    assert not record_exists(vault, record_id)


CEILING_7Y = DORMANT_ON + """
[policies.payment_supply]
period = "5y"
trigger = "payment"
basis = "Act on Consumer Protection in Electronic Commerce, Art. 6(1)"
action = "shred_subject"
on_withdrawal = "separate"
on_erasure = "retain"
ceiling = "7y"
"""


def test_data_waiting_for_its_event_is_reported_and_a_ceiling_ends_the_wait(
    vault: Vault, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    """Finding 3: payment, contract and withdrawal-bound data with no event had no due date, and
    neither the report nor the status showed it: it could be kept forever unnoticed."""
    unpaid = vault.retention.create_subject({"order_ref": "o-1"}, ["payment_supply"])
    vault.retention.create_subject({"contract": "c-1"}, ["contract_withdrawal"])
    ban = _record(vault, "bad_usage_rejoin", "bad_usage")
    clock.advance(timedelta(days=400))
    paid = vault.retention.create_subject({"order_ref": "o-2"}, ["payment_supply"])
    vault.retention.record_event("subject", paid, "payment")

    awaiting = {g["category"]: g for g in vault.retention.report(30)["awaiting_event"]}
    assert set(awaiting) == {"payment_supply", "contract_withdrawal", "bad_usage_rejoin"}
    assert (awaiting["payment_supply"]["items"], awaiting["payment_supply"]["trigger"]) == (1, "payment")
    assert awaiting["payment_supply"]["oldest_days"] == 400 and awaiting["payment_supply"]["ceiling"] is None
    assert awaiting["bad_usage_rejoin"]["items"] == 1 and awaiting["bad_usage_rejoin"]["trigger"] == "withdrawal"
    status = vault.retention.status()["awaiting_event"]
    assert status["contract_withdrawal"] == {"items": 1, "under_ceiling": 0, "oldest_days": 400}

    # the operator sets a ceiling: data whose payment never comes goes 7 years after collection
    data_url = vault.data_engine.url.render_as_string(hide_password=False)
    keys_url = vault.keys_engine.url.render_as_string(hide_password=False)
    with Vault.open(provider, data_url, keys_url, clock=clock, retention_policies=policies_with(CEILING_7Y)) as capped:
        changes = capped.retention.apply_policies().changes
        assert [(c.target_id, c.change) for c in changes] == [(unpaid, "scheduled")]
        due = _due_of(capped, unpaid, "payment_supply")
        assert due == _day(2033, 1, 16)  # collected 15 January 2026: 7 years, to the end of the day
        assert _due_of(capped, paid, "payment_supply") == _day(2032, 2, 20)  # its payment counts, not the ceiling
        awaiting = {g["category"]: g for g in capped.retention.report(30)["awaiting_event"]}
        assert (awaiting["payment_supply"]["under_ceiling"], awaiting["payment_supply"]["ceiling"]) == (1, "7y")
        clock.set(due - timedelta(days=10))
        (group,) = [g for g in capped.retention.report(30)["categories"] if g["category"] == "payment_supply"]
        assert (group["items"], group["by_ceiling"]) == (2, 1)  # the paid one is overdue since 2032
        clock.set(due - timedelta(microseconds=1))
        capped.retention.sweeper.sweep()
        assert subject_exists(capped, unpaid)
        clock.set(due)
        capped.retention.sweeper.sweep()
        assert not subject_exists(capped, unpaid) and not subject_exists(capped, paid)
        assert record_exists(capped, ban)  # no ceiling on bans: they wait for the withdrawal
        assert "payment_supply" not in {g["category"] for g in capped.retention.report(30)["awaiting_event"]}


def test_a_ceiling_is_refused_where_nothing_waits() -> None:
    for table, reason in (
        ('[policies.access_log]\nperiod = "3mo"\ntrigger = "collected"\nbasis = "x"\naction = "shred_subject"\n'
         'ceiling = "1y"\n', "never waits"),
        ('[policies.rejoin_restriction]\ntrigger = "withdrawal"\nbasis = "x"\naction = "review"\n'
         'review_interval = "1y"\nceiling = "1y"\n', "does not apply to action review"),
        ('[policies.payment_supply]\nperiod = "5y"\ntrigger = "payment"\nbasis = "x"\naction = "shred_subject"\n'
         'ceiling = "forever"\n', "ceiling"),
    ):
        with pytest.raises(PolicyFileError, match=reason) as info:
            policies_with(table)
        assert info.value.line == table.count("\n", 0, table.index("ceiling")) + 1


OWN_CATEGORIES = DORMANT_ON + """
[policies.service_usage]
name = "Service usage records"
period = "5y"
trigger = "collected"
basis = "Internal policy: service usage records, 5 years"
action = "shred_subject"

[policies.account_takeover]
name = "Records of account takeover"
period = "2y"
trigger = "fraud_confirmed"
basis = "Internal policy: prevention of account takeover (legitimate interest), 2 years"
action = "delete_record"
on_erasure = "retain"
for_records = true
default_reason_code = "account_takeover"
aliases = ["ato"]
"""


def test_an_operator_defines_categories_of_its_own(vault: Vault, provider: FakeKmsProvider, clock: FrozenClock) -> None:
    """Finding 6: operators could not add their own categories (service usage records, access
    records kept 5 years by internal policy) without misusing a preset."""
    own = policies_with(OWN_CATEGORIES)
    assert own["service_usage"].basis.startswith("Internal policy") and own["account_takeover"].for_records
    data_url = vault.data_engine.url.render_as_string(hide_password=False)
    keys_url = vault.keys_engine.url.render_as_string(hide_password=False)
    with Vault.open(provider, data_url, keys_url, clock=clock, retention_policies=own) as mine:
        mine.retention.apply_policies()
        usage = mine.retention.create_subject({"plan": "premium"}, ["service_usage"])
        ban = mine.records.create([("email", "taker@example.com")], category="account_takeover",
                                  reason_code="account_takeover")
        assert mine.records.get(ban).category == "account_takeover"
        assert _due_of(mine, usage, "service_usage") == _day(2031, 1, 16)
        mine.retention.sweeper.sweep()  # a record is scheduled when a sweep first sees it
        expiry = datetime(2028, 1, 15, 10, tzinfo=UTC)  # two years after its creation, to the hour
        assert mine.records.get(ban).expires_at == expiry and _due_of(mine, ban, "account_takeover") == expiry
        with pytest.raises(InvalidInputError):
            mine.retention.create_subject({"plan": "x"}, ["account_takeover"])  # a record category
        clock.set(expiry - timedelta(microseconds=1))
        mine.retention.sweeper.sweep()
        assert record_exists(mine, ban)
        clock.set(expiry)
        mine.retention.sweeper.sweep()
        assert not record_exists(mine, ban)
        clock.set(_day(2031, 1, 16) - timedelta(microseconds=1))
        mine.retention.sweeper.sweep()
        assert subject_exists(mine, usage)
        clock.set(_day(2031, 1, 16))
        mine.retention.sweeper.sweep()
        assert not subject_exists(mine, usage)


def test_a_category_the_presets_do_not_know_needs_a_name_and_a_complete_policy() -> None:
    typo = '[policies.payment_suply]\nperiod = "5y"\ntrigger = "payment"\nbasis = "x"\naction = "shred_subject"\n'
    with pytest.raises(PolicyFileError, match=r"unknown category 'payment_suply'.*needs a name") as info:
        policies_with(typo)
    assert info.value.line == 1
    for text, reason in (
        ('[policies.mine]\nname = "Mine"\ntrigger = "payment"\nbasis = "x"\naction = "shred_subject"\n', "period"),
        ('[policies.mine]\nname = "Mine"\nperiod = "1y"\ntrigger = "payment"\naction = "shred_subject"\n', "basis"),
        ('[policies.mine]\nname = "Mine"\nperiod = "1y"\ntrigger = "payment"\nbasis = "x"\naction = "delete_record"\n',
         "does not apply to subjects"),
        ('[policies.mine]\nname = "Mine"\nperiod = "1y"\ntrigger = "payment"\nbasis = "x"\naction = "shred_subject"\n'
         'aliases = ["member"]\n', "already a category or alias"),
    ):
        with pytest.raises(PolicyFileError, match=reason):
            policies_with(text)


def _fields(vault: Vault, subject_id: str) -> set[str]:
    return set(next(s.field_names for s in vault.subjects.list(limit=1000) if s.subject_id == subject_id))


def test_each_access_log_entry_runs_from_its_own_collection(vault: Vault, clock: FrozenClock) -> None:
    """Finding 1: access logs ran from the subject's creation: an IP stored at day 80 was destroyed
    on day 95, and one stored after the item had finished (day 125) was never scheduled again."""
    policy = vault.retention.policies["access_log"]
    assert policy.per_entry

    def due(day: int) -> datetime:
        return vault.retention.policies.due(policy, T0 + timedelta(days=day))

    subject_id = vault.retention.create_subject({"name": "Kim"}, {"member": ["name"], "access_log": ["login_ip", "last_ip"]})
    (log_item,) = [i for i in vault.retention.items(subject_id) if i.category == "access_log"]
    assert (log_item.stage, log_item.due_at, log_item.state) == ("entries", None, "pending")  # no entry yet

    clock.set(T0 + timedelta(days=80))
    vault.subjects.update(subject_id, {"login_ip": "203.0.113.7"})
    assert _due_of(vault, subject_id, "access_log") == due(80)
    clock.set(T0 + timedelta(days=95))
    vault.retention.sweeper.sweep()
    assert _fields(vault, subject_id) == {"name", "login_ip"}  # not from the subject's creation

    clock.set(T0 + timedelta(days=100))
    vault.subjects.update(subject_id, {"last_ip": "198.51.100.1"})
    assert _due_of(vault, subject_id, "access_log") == due(80)  # the oldest entry first
    clock.set(due(80))
    vault.retention.sweeper.sweep()
    assert _fields(vault, subject_id) == {"name", "last_ip"}  # only the entry whose three months ran
    assert _due_of(vault, subject_id, "access_log") == due(100)

    clock.set(T0 + timedelta(days=125))
    vault.subjects.update(subject_id, {"login_ip": "192.0.2.44"})  # a new entry after the first went
    clock.set(due(100))
    vault.retention.sweeper.sweep()
    assert _fields(vault, subject_id) == {"name", "login_ip"}
    assert _due_of(vault, subject_id, "access_log") == due(125)  # it scheduled itself
    clock.set(due(125) - timedelta(microseconds=1))
    vault.retention.sweeper.sweep()
    assert _fields(vault, subject_id) == {"name", "login_ip"}
    clock.set(due(125))
    vault.retention.sweeper.sweep()
    assert _fields(vault, subject_id) == {"name"}
    (log_item,) = [i for i in vault.retention.items(subject_id) if i.category == "access_log"]
    assert (log_item.stage, log_item.due_at, log_item.state) == ("entries", None, "pending")  # never finished

    clock.set(T0 + timedelta(days=400))
    vault.subjects.update(subject_id, {"last_ip": "192.0.2.45"})
    assert _due_of(vault, subject_id, "access_log") == due(400)
    assert vault.subjects.read(subject_id, ["last_ip"], purpose="abuse case 12") == {"last_ip": "192.0.2.45"}


def test_a_withdrawn_members_access_log_is_kept_from_its_newest_entry(vault: Vault, clock: FrozenClock) -> None:
    subject_id = vault.retention.create_subject({"name": "Kim", "login_ip": "203.0.113.7"},
                                                {"member": ["name"], "access_log": ["login_ip"]})
    clock.set(T0 + timedelta(days=80))
    vault.subjects.update(subject_id, {"login_ip": "203.0.113.8"})
    clock.set(T0 + timedelta(days=90))  # the subject's creation is more than three months back by day 91
    vault.retention.record_event("subject", subject_id, "withdrawal")
    (moved,) = [s for s in separated_of(vault, subject_id) if s["category"] == "access_log"]
    policy = vault.retention.policies["access_log"]
    assert moved["due_at"] == vault.retention.policies.due(policy, T0 + timedelta(days=80)).isoformat()
