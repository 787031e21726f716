"""Request and response bodies of the retention endpoints (:mod:`api.routers.retention`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from pseudovault.api.schemas.common import ReasonCode, RequestModel, ResponseModel
from pseudovault.vault.retention.sweeper import MAX_BATCH_SIZE

__all__ = ["MAX_POLICY_TEXT", "PolicyOut", "PolicySetOut", "PolicyDiffRequest", "ApplyRequest", "ItemChangeOut", "ChangeCounts", "PolicyDiffOut", "ReportGroup", "AwaitingGroup", "ReportOut", "SweepRequest", "SweepOut", "ReviewRequest"]


#: the largest policy file accepted in a diff request (the shipped presets are about 10 KiB)
MAX_POLICY_TEXT = 256 * 1024


_SUBJECT_EXAMPLE = "0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10"


class PolicyOut(ResponseModel):
    category: str = Field(examples=["payment"])
    name: str | None = Field(None, examples=["Payment and settlement records"])
    period: str | None = Field(description="ISO 8601 period, e.g. P5Y; null for a review-only policy.", examples=["P5Y"])
    trigger: str = Field(description="The event the period runs from.", examples=["payment"])
    basis: str = Field(description="The legal basis, as the policy file states it.")
    action: str = Field(description="What happens at expiry.", examples=["shred_subject"])
    enabled: bool
    on_withdrawal: str = Field(description="At a withdrawal: keep running, or move to separate storage.")
    on_erasure: str = Field(description="At an erasure request: destroy, or retain under this policy.")
    review_interval: str | None
    restricted_period: str | None = Field(description="How long it is kept in separate storage, when it moves there.")
    for_records: bool
    default_reason_code: str | None
    aliases: list[str]
    optional: bool
    repealed: str | None = Field(description="The date the law behind it was repealed, for a kept-for-reference preset.")
    note: str | None
    per_entry: bool | None = Field(
        None,
        description="A log kept per entry: each field's value is kept for the period from its own collection "
        "(absent: the category runs from the subject's event).",
    )
    ceiling: str | None = Field(
        None,
        description="How long data may wait for its starting event: when it never comes, the period runs from "
        "collection for this long instead (absent: it may wait for ever, and the report shows it waiting).",
        examples=["7y"],
    )


class PolicySetOut(ResponseModel):
    source: str = Field(description="Where the policies come from: the shipped presets or the operator's file.")
    timezone: str = Field(description="The time zone due dates are computed in (a period ends at local midnight).")
    fingerprint: str = Field(description="SHA-256 of the policies' canonical form: what stored due dates were computed under.")
    policies: list[PolicyOut]


class PolicyDiffRequest(RequestModel):
    policies: str = Field(
        min_length=1,
        max_length=MAX_POLICY_TEXT,
        description="A policy file's text (TOML, the format of `pseudovault retention policies --template`), "
        "read over the shipped presets like the operator's file: each `[policies.<category>]` table is a "
        "complete policy; categories it leaves out keep theirs.",
        examples=[
            '[policies.access_log]\nperiod = "6mo"\ntrigger = "collected"\naction = "shred_subject"\n'
            'basis = "Protection of Communications Secrets Act, Art. 15-2: at least 3 months; 6 by internal policy"\n'
        ],
    )


class ApplyRequest(RequestModel):
    dry_run: bool = Field(False, description="Show what would change; change nothing.")


class ItemChangeOut(ResponseModel):
    kind: str = Field(examples=["subject"])
    target_id: str = Field(examples=[_SUBJECT_EXAMPLE])
    category: str
    old_due: datetime | None
    new_due: datetime | None
    old_action: str
    new_action: str
    change: Literal["earlier", "later", "scheduled", "unscheduled", "action"]


class ChangeCounts(ResponseModel):
    earlier: int
    later: int
    scheduled: int
    unscheduled: int
    action: int
    due_now: int = Field(description="Items the change makes due at once: the next sweep destroys them.")


class PolicyDiffOut(ResponseModel):
    stored_fingerprint: str | None = Field(description="The policies the stored due dates were computed under.")
    to_fingerprint: str
    policies_changed: list[str] = Field(description="Categories whose policy differs.")
    applied: bool = Field(description="True when the change was applied (stored due dates recomputed).")
    now: datetime
    summary: dict[str, ChangeCounts] = Field(description="Per category: how many due dates move which way.")
    changes: list[ItemChangeOut]


class ReportGroup(ResponseModel):
    category: str
    action: str
    items: int
    overdue: int
    held: int = Field(description="Items under a legal hold: they stay until it is released.")
    by_ceiling: int = Field(description="Items due because their starting event never came (the policy's ceiling).")
    first_due: str
    last_due: str
    by_month: dict[str, int] = Field(
        description="How many fall due in each month (`YYYY-MM` in the policies' time zone); overdue ones in past months.",
        examples=[{"2027-01": 12, "2027-02": 3}],
    )
    basis: str | None


class AwaitingGroup(ResponseModel):
    category: str
    trigger: str = Field(description="The event the period waits for.", examples=["payment"])
    items: int = Field(description="Items waiting for it (no due date, or only their ceiling or expiry).")
    under_ceiling: int = Field(description="Of those, how many will go at the policy's ceiling if it never comes.")
    oldest: datetime | None = Field(description="When the data of the oldest of them was collected.")
    oldest_days: int | None = Field(description="How many days ago that was.")
    ceiling: str | None = Field(description="The policy's ceiling (null: they may wait for ever).")


class ReportOut(ResponseModel):
    now: datetime
    until: datetime
    days: int
    total: int
    held: int
    categories: list[ReportGroup]
    reviews_waiting: dict[str, int] = Field(description="Per category: items whose review fell due and waits for a decision.")
    awaiting_event: list[AwaitingGroup] = Field(
        description="Per category: data whose period waits for its starting event (a payment, a contract's end, "
        "a withdrawal), so that nothing is kept unnoticed for want of an event."
    )


class SweepRequest(RequestModel):
    dry_run: bool = Field(False, description="List what is due; change nothing.")
    batch_size: int = Field(500, ge=1, le=MAX_BATCH_SIZE, description="Items claimed and applied per transaction.")


class SweepOut(ResponseModel):
    now: datetime
    dry_run: bool
    due: int
    applied: int
    held: int = Field(description="Due items under a legal hold: left for a sweep after the release.")
    failed: int = Field(description="Items that could not be applied: left pending for the next sweep.")
    batches: int
    outcomes: dict[str, int] = Field(examples=[{"shredded": 120, "separated": 14}])
    by_category: dict[str, dict[str, int]]
    planned: list[dict[str, Any]] = Field(description="In a dry run: the due items (at most 1000), ids and codes only.")
    leased: int = Field(
        description="Items claimed by another run (one under way, or a killed one whose lease has not run out): "
        "not applied by this run."
    )
    leased_until: datetime | None = Field(description="When the last of those claims runs out and a sweep takes them over.")


class ReviewRequest(RequestModel):
    decision: Literal["keep", "destroy"] = Field(
        description="keep: until the next review; destroy: now, with the category's destroying action."
    )
    reason_code: ReasonCode = Field("reviewed", description="Why, as a code (audited).")
