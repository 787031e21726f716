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

__all__ = [
    "DestructiveEventError",
    "EventEffect",
    "EventPreview",
    "ItemChange",
    "ItemView",
    "PoliciesChangedError",
    "PolicyDiff",
    "item_view",
]


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


#: what an item due at once leads to: ``destroy`` (shredded, deleted, or moved to separate storage
#: already past its own expiry), ``separate``, ``restrict`` or ``review``
EFFECTS = ("destroy", "separate", "restrict", "review")


@dataclass(frozen=True)
class EventEffect(View):
    """An item that an event makes due at once, and what follows: a withdrawal's move to separate
    storage happens with the event itself; everything else with the next sweep."""

    item_id: int
    kind: str
    target_id: str
    category: str
    action: str
    due_at: datetime
    effect: str  # one of EFFECTS


@dataclass(frozen=True)
class EventPreview(View):
    """What recording an event would do (nothing was changed): the target's items as they would
    be, and the items it would make due at once."""

    target_kind: str
    target_id: str
    event: str
    at: datetime
    items: tuple[ItemView, ...]
    due_now: tuple[EventEffect, ...]

    @property
    def destroys(self) -> bool:
        return any(e.effect == "destroy" for e in self.due_now)

    def extra(self) -> Mapping[str, Any]:
        return {"destroys": self.destroys}


class DestructiveEventError(ConflictError):
    """The event (usually backdated) would make data due for destruction at once; it was not
    recorded. Preview it (``dry_run``), then record it with ``confirm``."""

    code = "event_destroys_data"

    def __init__(self, preview: EventPreview) -> None:
        destroyed = [e for e in preview.due_now if e.effect == "destroy"]
        categories = sorted({e.category for e in destroyed})
        super().__init__(
            f"recording {preview.event} at {preview.at.isoformat()} would make {len(destroyed)} item(s) due for "
            f"destruction at once ({', '.join(categories)}); nothing was recorded: preview it, then confirm"
        )
        self.preview = preview
