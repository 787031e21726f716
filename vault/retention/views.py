"""What the retention service gives back: stored due dates (items), the changes a policy change
makes, and the error that says the policies in force were not applied yet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pseudovault.vault.errors import ConflictError
from pseudovault.vault.store.data_models import (
    RetentionItem,
)
from pseudovault.vault.views import View

__all__ = ["ItemChange", "ItemView", "PoliciesChangedError", "PolicyDiff", "item_view"]


class PoliciesChangedError(ConflictError):
    """The policies in force are not the ones the stored due dates were computed under."""

    code = "policies_changed"

    def __init__(self, stored: str, in_force: str) -> None:
        super().__init__(
            f"the retention policies in force ({in_force[:12]}) differ from those the stored due dates were "
            f"computed under ({stored[:12]}): review 'pseudovault retention apply-policies --dry-run', then apply them"
        )
        self.stored = stored
        self.in_force = in_force


@dataclass(frozen=True)
class ItemView(View):
    """One stored due date: what, of which category, due when, to undergo which action."""

    item_id: int
    kind: str
    target_id: str
    category: str
    stage: str
    trigger_at: datetime | None
    due_at: datetime | None
    action: str
    state: str
    outcome: str | None
    done_at: datetime | None


def item_view(row: RetentionItem) -> ItemView:
    return ItemView(
        item_id=row.id,
        kind=row.kind,
        target_id=row.target_id,
        category=row.category,
        stage=row.stage,
        trigger_at=row.trigger_at,
        due_at=row.due_at,
        action=row.action,
        state=row.state,
        outcome=row.outcome,
        done_at=row.done_at,
    )


@dataclass(frozen=True)
class ItemChange(View):
    """How a policy change moves one item's due date or action."""

    kind: str
    target_id: str
    category: str
    old_due: datetime | None
    new_due: datetime | None
    old_action: str
    new_action: str
    change: str  # earlier | later | unscheduled | scheduled | action


@dataclass(frozen=True)
class PolicyDiff(View):
    """What switching from the stored policies to ``to`` would change. ``due_now`` counts items
    the change would make due at once (destroyed by the next sweep)."""

    stored_fingerprint: str | None
    to_fingerprint: str
    policies_changed: tuple[str, ...]
    changes: tuple[ItemChange, ...]
    applied: bool
    now: datetime

    def summary(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for c in self.changes:
            entry = out.setdefault(c.category, {"earlier": 0, "later": 0, "scheduled": 0, "unscheduled": 0,
                                                "action": 0, "due_now": 0})
            entry[c.change] += 1
            if c.new_due is not None and c.new_due <= self.now and (c.old_due is None or c.old_due > self.now):
                entry["due_now"] += 1
        return out

    def extra(self) -> Mapping[str, Any]:
        return {"summary": self.summary()}
