"""Plans: when an item falls due and what then happens to it, under a set of policies (pure code:
no store, no clock). A subject's category runs from its trigger event; a record's from its own
event or its subject's (or, for a period from collection or fraud confirmation, its creation), capped
by its own expiry; one whose period runs from another event (a withdrawal) waits for it, undated; a separated item's from when it
moved. A review decided by a person, and the restricted and review stages that follow a first
deadline, keep their own dates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pseudovault.vault.retention.categories import CEILING, ENTRIES, FROM_CREATION
from pseudovault.vault.retention.policies import Policy, PolicySet
from pseudovault.vault.store.data_models import (
    RetentionItem,
)

__all__ = ["CEILING", "DECIDED", "Plan", "change_kind", "record_plan", "separated_plan", "subject_plan"]


@dataclass(frozen=True)
class Plan:
    stage: str
    trigger_at: datetime | None
    due_at: datetime | None
    action: str


#: the stage of an item a reviewer decided to destroy: due now, kept as it is by recomputation
DECIDED = "review_decided"


def subject_plan(
    policies: PolicySet,
    policy: Policy,
    events: Mapping[str, datetime],
    item: RetentionItem | None,
    entries: Sequence[datetime | None] = (),
) -> Plan:
    """``entries``: for a per-entry category, when each of its fields' values was collected (None:
    before that was kept, so from the subject's collection)."""
    if item is not None and item.stage == DECIDED:
        return Plan(item.stage, item.trigger_at, item.due_at, item.action)
    if item is not None and item.stage == "review_interval" and item.trigger_at is not None:
        due = policies.due(policy, item.trigger_at, policy.review_interval) if policy.enabled and policy.review_interval else None
        return Plan("review_interval", item.trigger_at, due, policy.action)
    withdrawal = events.get("withdrawal")
    if policy.enabled and policy.on_withdrawal == "separate" and withdrawal is not None:
        return Plan("withdrawal", withdrawal, withdrawal, "separate")
    if policy.per_entry and policy.enabled:
        # each entry runs from its own collection: the item is due with the oldest entry
        times = [t if t is not None else events.get("collected") for t in entries]
        known = [t for t in times if t is not None]
        if not known:
            return Plan(ENTRIES, None, None, policy.action)
        oldest = min(known)
        return Plan("period", oldest, policies.due(policy, oldest), policy.action)
    trigger = events.get(policy.trigger)
    if trigger is None and policy.enabled and policy.ceiling is not None and "collected" in events:
        # waiting for its event: no longer than the ceiling from collection
        collected = events["collected"]
        return Plan(CEILING, collected, policies.due(policy, collected, policy.ceiling), policy.action)
    due = policies.due(policy, trigger) if policy.enabled and trigger is not None else None
    return Plan("period", trigger, due, policy.action)


def record_plan(
    policies: PolicySet,
    policy: Policy,
    record: Any,
    events: Mapping[str, datetime],
    subject_events: Mapping[str, datetime],
    item: RetentionItem | None,
) -> Plan:
    if item is not None and item.stage == DECIDED:
        return Plan(item.stage, item.trigger_at, item.due_at, item.action)
    if item is not None and item.stage in ("restricted_period", "review_interval") and item.trigger_at is not None:
        period = policy.restricted_period if item.stage == "restricted_period" else policy.review_interval
        action = "delete_record" if item.stage == "restricted_period" else policy.action
        due = policies.due(policy, item.trigger_at, period) if policy.enabled and period is not None else None
        return Plan(item.stage, item.trigger_at, due, action)
    trigger = events.get(policy.trigger) or subject_events.get(policy.trigger)
    if trigger is None and policy.trigger in FROM_CREATION:
        trigger = record.created_at
    if trigger is None:
        # waiting for its starting event (a withdrawal): no date but an expiry the caller set, or
        # the policy's ceiling from the record's creation
        due_waiting = record.expires_at if policy.enabled and policy.action != "review" else None
        if policy.enabled and policy.ceiling is not None:
            ceiling = policies.due(policy, record.created_at, policy.ceiling)
            if due_waiting is None or ceiling < due_waiting:
                return Plan(CEILING, record.created_at, ceiling, policy.action)
        return Plan("period", None, due_waiting, policy.action)
    if not policy.enabled:
        return Plan("period", trigger, None, policy.action)
    if policy.action == "review" and record.review_at is not None and policy.trigger not in events:
        return Plan("period", trigger, record.review_at, policy.action)
    due = policies.due(policy, trigger)
    if record.expires_at is not None and policy.action != "review":
        due = min(due, record.expires_at)
    return Plan("period", trigger, due, policy.action)


def separated_plan(policies: PolicySet, policy: Policy, item: RetentionItem) -> Plan:
    if item.trigger_at is None or not policy.enabled:
        return Plan(item.stage, item.trigger_at, None, item.action)
    period = policy.restricted_period if item.stage == "restricted_period" else policy.first_period()
    return Plan(item.stage, item.trigger_at, policies.due(policy, item.trigger_at, period), item.action)


def change_kind(old_due: datetime | None, new_due: datetime | None, old_action: str, new_action: str) -> str | None:
    if old_due == new_due:
        return "action" if old_action != new_action else None
    if old_due is None:
        return "scheduled"
    if new_due is None:
        return "unscheduled"
    return "earlier" if new_due < old_due else "later"
