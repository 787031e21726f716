"""The sweeper: exactly once under concurrency, consistent after a crash, resumable, dry runs."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from retention_support import rows, scalar, subject_exists

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.retention.sweeper import SweepReport
from pseudovault.vault.vault import Vault

if TYPE_CHECKING:
    from conftest import StoreUrls

DUE = datetime(2026, 4, 16, 1, tzinfo=UTC)  # access logs collected at T0 are due from 16 April 2026


def _due_subjects(vault: Vault, n: int) -> list[str]:
    return [vault.retention.create_subject({"login_ip": f"203.0.113.{i % 250}"}, ["access_log"]) for i in range(n)]


def _states(vault: Vault) -> Counter[str]:
    return Counter(r["state"] for r in rows(vault.data_engine, "SELECT state FROM retention_items"))


def _shreds(vault: Vault) -> Counter[str]:
    """How many times each subject was shredded for real (not 'already'): one by one, or in a
    batch (whose entry names the subjects it shredded)."""
    single = vault.audit.query(action="subject.shred", limit=1000)
    batches = vault.audit.query(action="subject.shred_many", limit=1000)
    return Counter([e.targets[0] for e in single if not e.detail.get("already")]
                   + [target for e in batches for target in e.targets])


def test_two_sweepers_racing_destroy_each_due_item_exactly_once(
    store_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock, vault: Vault
) -> None:
    subjects = _due_subjects(vault, 40)
    clock.set(DUE)
    second = Vault.open(provider, store_urls.data, store_urls.keys, clock=clock,
                        retention_policies=vault.retention.policies)
    both_started = threading.Barrier(2, timeout=30)
    reports: dict[int, SweepReport] = {}
    errors: list[BaseException] = []

    def run(index: int, instance: Vault) -> None:
        first_batch = [True]

        def progress(_done: int, _total: int) -> None:
            if first_batch[0]:  # both sweepers hold work before either goes on
                first_batch[0] = False
                both_started.wait()

        try:
            reports[index] = instance.retention.sweeper.sweep(batch_size=5, progress=progress)
        except BaseException as exc:  # noqa: BLE001 - reported below, in the main thread
            errors.append(exc)
            both_started.abort()

    try:
        threads = [threading.Thread(target=run, args=(i, v)) for i, v in enumerate((vault, second))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        second.close()
    assert not errors, errors
    assert reports[0].applied > 0 and reports[1].applied > 0
    assert reports[0].applied + reports[1].applied == len(subjects)
    assert reports[0].failed == reports[1].failed == 0
    assert _shreds(vault) == Counter({s: 1 for s in subjects})
    assert not any(subject_exists(vault, s) for s in subjects)
    assert _states(vault) == Counter({"done": len(subjects)})


def test_a_sweep_killed_by_its_progress_callback_leaves_a_state_the_next_run_completes(
    vault: Vault, clock: FrozenClock
) -> None:
    subjects = _due_subjects(vault, 25)
    clock.set(DUE)

    def killed(_done: int, _total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        vault.retention.sweeper.sweep(batch_size=10, progress=killed)
    assert _states(vault) == Counter({"done": 10, "pending": 15})  # nothing left claimed
    gone = {s for s in subjects if not subject_exists(vault, s)}
    done_targets = {r["target_id"] for r in rows(vault.data_engine, "SELECT target_id FROM retention_items WHERE state = 'done'")}
    assert gone == done_targets and len(gone) == 10

    report = vault.retention.sweeper.sweep(batch_size=10)
    assert report.applied == 15 and report.failed == 0
    assert _states(vault) == Counter({"done": 25})
    assert _shreds(vault) == Counter({s: 1 for s in subjects})


def test_a_crash_between_applying_and_recording_is_completed_without_destroying_twice(
    vault: Vault, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    subjects = _due_subjects(vault, 12)
    clock.set(DUE)
    sweeper = vault.retention.sweeper
    finish = sweeper._finish

    def crash_once(*args: object, **kwargs: object) -> None:
        monkeypatch.setattr(sweeper, "_finish", finish)
        raise RuntimeError("the process died")

    monkeypatch.setattr(sweeper, "_finish", crash_once)
    with pytest.raises(RuntimeError):
        sweeper.sweep(batch_size=5)
    assert _states(vault) == Counter({"pending": 12})  # the claims were released
    assert sum(not subject_exists(vault, s) for s in subjects) == 5  # the first batch was applied

    report = sweeper.sweep(batch_size=5)
    assert report.applied == 12
    assert report.outcomes == Counter({"shredded": 7, "gone": 5})
    assert _shreds(vault) == Counter({s: 1 for s in subjects})


def test_claims_of_a_vanished_sweeper_are_taken_over_after_the_lease(vault: Vault, clock: FrozenClock) -> None:
    subjects = _due_subjects(vault, 4)
    clock.set(DUE)
    with vault.data_engine.begin() as connection:  # a sweeper that was killed outright
        connection.exec_driver_sql(
            "UPDATE retention_items SET state = 'claimed', claim = 'dead', claimed_at = "
            + ("%(at)s" if vault.data_engine.dialect.name == "postgresql" else ":at"),
            {"at": DUE.replace(tzinfo=None) if vault.data_engine.dialect.name == "sqlite" else DUE},
        )
    waiting = vault.retention.sweeper.sweep()
    assert waiting.applied == 0 and waiting.due == 0
    # the run says why nothing was applied: four items wait for the dead run's lease
    assert waiting.leased == 4 and waiting.leased_until == DUE + vault.retention.sweeper.lease
    assert vault.retention.sweeper.sweep(dry_run=True).leased == 4
    clock.advance(vault.retention.sweeper.lease + timedelta(seconds=1))
    taken_over = vault.retention.sweeper.sweep()
    assert taken_over.applied == 4 and taken_over.leased == 0 and taken_over.leased_until is None
    assert not any(subject_exists(vault, s) for s in subjects)


def test_a_dry_run_changes_nothing(lite: Vault, clock: FrozenClock) -> None:
    subjects = _due_subjects(lite, 3)
    record_id = lite.records.create([("email", "x@example.com")], category="fraudulent_transaction",
                                     reason_code="fraud")
    clock.set(datetime(2029, 2, 1, tzinfo=UTC))
    audit_before = lite.audit.count()
    report = lite.retention.sweeper.sweep(dry_run=True)
    assert report.dry_run and report.due == 4 and report.applied == 0
    assert {p["target_id"] for p in report.planned} == {*subjects, record_id}
    assert report.by_category == {"access_log": Counter({"shred_subject": 3}),
                                  "fraudulent_transaction": Counter({"delete_record": 1})}
    assert all(subject_exists(lite, s) for s in subjects)
    assert scalar(lite.data_engine, "SELECT COUNT(*) FROM retention_items WHERE kind = 'record'") == 0
    assert _states(lite) == Counter({"pending": 3})
    assert lite.audit.count() == audit_before


def test_the_report_shows_what_expires_per_category(lite: Vault, clock: FrozenClock) -> None:
    _due_subjects(lite, 2)
    held = _due_subjects(lite, 1)[0]
    lite.holds.place("subject", held, reason_code="dispute", reference="D-1")
    lite.records.create([("email", "y@example.com")], category="unauthorized_registration",
                         reason_code="unauthorized_use")
    report = lite.retention.report(91)
    assert report["total"] == 3 and report["held"] == 1
    (group,) = report["categories"]
    assert (group["category"], group["items"], group["held"], group["overdue"]) == ("access_log", 3, 1, 0)
    assert group["first_due"] == "2026-04-15T15:00:00+00:00"
    assert "Protection of Communications Secrets Act" in group["basis"]
    report = lite.retention.report(365)
    assert [g["category"] for g in report["categories"]] == ["access_log", "unauthorized_registration"]
    clock.set(DUE)
    assert lite.retention.report(0)["categories"][0]["overdue"] == 3


def test_batch_size_is_checked(lite: Vault) -> None:
    for bad in (0, -1, 10_001, True):
        with pytest.raises(InvalidInputError):
            lite.retention.sweeper.sweep(batch_size=bad)  # type: ignore[arg-type]


def test_the_sweep_is_audited_with_its_counts(lite: Vault, clock: FrozenClock) -> None:
    _due_subjects(lite, 2)
    clock.set(DUE)
    lite.retention.sweeper.sweep()
    (entry,) = lite.audit.query(action="retention.sweep")
    assert entry.detail["applied"] == 2 and entry.detail["n_shredded"] == 2
    (batch,) = lite.audit.query(action="subject.shred_many")
    assert batch.detail == {"reason": "retention", "subjects": 2, "already": 0} and len(batch.targets) == 2
    lite.retention.sweeper.sweep()  # nothing to do: no entry
    assert len(lite.audit.query(action="retention.sweep")) == 1
