"""Helpers for the retention tests: the start of time, policy sets, raw rows, audit entries, and
the runner of the retention state machines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule
from machine_support import run_machine
from sqlalchemy import Engine, text

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.retention.policies import PolicySet
from pseudovault.vault.retention.policy_file import parse_policies, shipped_presets
from pseudovault.vault.vault import Vault

#: the zone the presets count days in (Asia/Seoul): a period ends at midnight there
ZONE = shipped_presets().zone

#: every retention test starts on 15 January 2026 at 10:00 UTC, 19:00 in Seoul (not midnight, so
#: that the day-based reckoning of due dates is visible)
T0 = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)

EMAIL = ("email", "kim.minji@example.com")

#: the dormant-account preset, switched on (it is off by default)
DORMANT_ON = """
[policies.dormant_account]
period = "1y"
trigger = "last_activity"
basis = "Personal Information Protection Act, former Art. 39-6 (repealed in 2023)"
action = "restrict"
restricted_period = "4y"
enabled = true
"""


def policies_with(text: str) -> PolicySet:
    """The presets overridden by ``text`` (an operator's file)."""
    return parse_policies(text, source="test.toml", catalogue=shipped_presets())


def midnight(year: int, month: int, day: int, hour: int = 0) -> datetime:
    """That day (and hour) in the presets' zone: where a period counted in days ends."""
    return datetime(year, month, day, hour, tzinfo=ZONE)


def rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(text(sql), params).mappings()]


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


def audit(vault: Vault, action: str) -> list[Any]:
    return vault.audit.query(action=action, limit=1000)


def audit_text(vault: Vault) -> str:
    """Every audit entry as JSON text, to search for leaks."""
    out = []
    after = 0
    while True:
        page = vault.audit.query(after_seq=after, limit=1000)
        if not page:
            return "\n".join(out)
        out.extend(json.dumps(e.as_dict(), default=str) for e in page)
        after = page[-1].seq


def subject_exists(vault: Vault, subject_id: str) -> bool:
    return scalar(vault.data_engine, "SELECT COUNT(*) FROM subjects WHERE id = :id", id=subject_id) == 1


def record_exists(vault: Vault, record_id: str) -> bool:
    return scalar(vault.data_engine, "SELECT COUNT(*) FROM records WHERE id = :id", id=record_id) == 1


def separated_of(vault: Vault, subject_id: str) -> list[dict[str, Any]]:
    return [v.as_dict() for v in vault.separate.origins(subject_id)]


def run_retention_machine(
    machine: type[RuleBasedStateMachine], data_url: str, keys_url: str, *, max_examples: int, steps: int
) -> None:
    """Run ``machine`` (a retention state machine reading the class attributes ``vault`` and
    ``clock``) over a new vault on the stores ``data_url`` and ``keys_url``, on a frozen clock that
    its rules move; the examples share the vault (their rows apart)."""
    clock = FrozenClock()
    provider = FakeKmsProvider(now=clock.now())
    with Vault.create(provider, data_url, keys_url, clock=clock) as vault:

        class Machine(machine):  # type: ignore[valid-type,misc]
            pass

        Machine.vault, Machine.clock = vault, clock
        run_machine(Machine, max_examples=max_examples, steps=steps)


class HoldingMachine(RuleBasedStateMachine):
    """What the retention machines share over their legal holds (``holds``: hold id -> the
    model's hold, with its ``released`` flag): a rule that releases an active one, and
    :meth:`release_all` for the teardown (holds left active would be seen by every later
    example's sweeps)."""

    vault: Vault
    holds: dict[str, Any]

    @precondition(lambda self: any(not hold.released for hold in self.holds.values()))
    @rule(data=st.data())
    def release_hold(self, data: st.DataObject) -> None:
        hold_id = data.draw(st.sampled_from([h for h, hold in self.holds.items() if not hold.released]))
        self.vault.holds.release(hold_id)
        self.holds[hold_id].released = True

    def release_all(self) -> None:
        for hold_id, hold in self.holds.items():
            if not hold.released:
                self.vault.holds.release(hold_id)
                hold.released = True
