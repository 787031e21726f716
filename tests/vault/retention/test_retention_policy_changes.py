"""A policy change recomputes the stored due dates, after a dry run shows what it moves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from retention_support import T0, midnight, policies_with

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.retention.views import PoliciesChangedError
from pseudovault.vault.vault import Vault

SHORTER_PAYMENTS = """
[policies.payment_supply]
period = "3y"
trigger = "payment"
basis = "Act on Consumer Protection in Electronic Commerce, Art. 6 (shortened for the test)"
action = "shred_subject"
on_withdrawal = "separate"
on_erasure = "retain"

[policies.fraudulent_transaction]
period = "1y"
trigger = "fraud_confirmed"
basis = "Internal policy, one year"
action = "delete_record"
on_erasure = "retain"

[policies.access_log]
period = "6mo"
trigger = "collected"
basis = "Protection of Communications Secrets Act (kept longer for the test)"
action = "shred_subject"
on_withdrawal = "separate"
on_erasure = "retain"
"""


def test_a_dry_run_diff_then_applying_the_new_policies(lite: Vault, provider: FakeKmsProvider, clock: FrozenClock) -> None:
    payment = lite.retention.create_subject({"order_ref": "o-1"}, ["payment_supply"])
    lite.retention.record_event("subject", payment, "payment", at=T0)
    log = lite.retention.create_subject({"ip": "203.0.113.1"}, ["access_log"])
    record_id = lite.records.create([("email", "z@example.com")], category="fraudulent_transaction",
                                    reason_code="fraud")
    untouched = lite.retention.create_subject({"name": "A"}, ["member"])
    new = policies_with(SHORTER_PAYMENTS)

    diff = lite.retention.diff(new)
    assert not diff.applied and diff.policies_changed == ("payment_supply", "access_log", "fraudulent_transaction")
    changes = {c.target_id: c for c in diff.changes}
    assert set(changes) == {payment, log, record_id}
    assert (changes[payment].change, changes[payment].new_due) == ("earlier", midnight(2029, 1, 16))
    assert (changes[log].change, changes[log].new_due) == ("later", midnight(2026, 7, 16))
    assert changes[record_id].change == "earlier" and changes[record_id].new_due == midnight(2027, 1, 16)
    assert diff.summary()["payment_supply"]["earlier"] == 1
    assert untouched not in changes
    assert [i.due_at for i in lite.retention.items(payment)] == [midnight(2031, 1, 16)]  # unchanged

    with Vault.open(provider, str(lite.data_engine.url), str(lite.keys_engine.url), clock=clock,
                    retention_policies=new) as changed:
        with pytest.raises(PoliciesChangedError):
            changed.retention.categorize(untouched, ["access_log"])
        with pytest.raises(PoliciesChangedError):
            changed.retention.sweeper.sweep()
        dry = changed.retention.apply_policies(dry_run=True)
        assert not dry.applied and len(dry.changes) == 3
        applied = changed.retention.apply_policies()
        assert applied.applied and len(applied.changes) == 3
        assert [i.due_at for i in changed.retention.items(payment)] == [midnight(2029, 1, 16)]
        (entry,) = changed.audit.query(action="retention.policy_change")
        assert entry.detail["earlier"] == 2 and entry.detail["later"] == 1 and entry.detail["policies_changed"] == 3
        clock.set(midnight(2029, 1, 16))
        report = changed.retention.sweeper.sweep()
        assert report.outcomes["shredded"] == 2 and report.outcomes["deleted"] == 1
        assert changed.retention.apply_policies(dry_run=True).changes == ()
    # a process started before the change follows the applied policies, without a restart
    assert lite.retention.report(30) is not None
    assert lite.retention.policies.fingerprint == new.fingerprint
    assert lite.retention.status()["policies"]["applied"] is True


def test_a_process_started_with_an_unapplied_file_still_refuses(
    lite: Vault, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    lite.retention.apply_policies()  # the presets are the applied policies
    new = policies_with(SHORTER_PAYMENTS)
    with Vault.open(provider, str(lite.data_engine.url), str(lite.keys_engine.url), clock=clock,
                    retention_policies=new) as edited:
        for _ in range(2):  # and keeps refusing: nothing was applied in between
            with pytest.raises(PoliciesChangedError):
                edited.retention.report(30)
        edited.retention.apply_policies()
        with Vault.open(provider, str(lite.data_engine.url), str(lite.keys_engine.url), clock=clock) as presets:
            # started with the shipped presets after the edit was applied: the presets are the edit now
            with pytest.raises(PoliciesChangedError):
                presets.retention.report(30)


def test_disabling_a_policy_unschedules_its_items(lite: Vault, provider: FakeKmsProvider, clock: FrozenClock) -> None:
    subject_id = lite.retention.create_subject({"ip": "203.0.113.1"}, ["access_log"])
    off = policies_with(SHORTER_PAYMENTS.split("[policies.fraudulent_transaction]")[0].replace(
        'on_erasure = "retain"', 'on_erasure = "retain"\nenabled = false'))
    with Vault.open(provider, str(lite.data_engine.url), str(lite.keys_engine.url), clock=clock,
                    retention_policies=off) as changed:
        assert changed.retention.apply_policies().changes == ()  # access_log untouched
    text = SHORTER_PAYMENTS.split("[policies.fraudulent_transaction]")[1].split("[policies.access_log]")[1]
    off = policies_with("[policies.access_log]" + text.replace('on_erasure = "retain"', 'on_erasure = "retain"\nenabled = false'))
    with Vault.open(provider, str(lite.data_engine.url), str(lite.keys_engine.url), clock=clock,
                    retention_policies=off) as changed:
        (change,) = changed.retention.apply_policies().changes
        assert (change.target_id, change.change, change.new_due) == (subject_id, "unscheduled", None)
        clock.set(datetime(2040, 1, 1, tzinfo=UTC))
        assert changed.retention.sweeper.sweep().applied == 0
        assert changed.subjects.read(subject_id) == {"ip": "203.0.113.1"}


def test_the_first_use_records_the_policies_in_force(lite: Vault) -> None:
    assert lite.retention.applied_state() is None
    lite.retention.create_subject({"name": "A"}, ["member"])
    state = lite.retention.applied_state()
    assert state is not None and state["fingerprint"] == lite.retention.policies.fingerprint
    assert state["source"] == "presets"
