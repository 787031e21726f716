"""Retention: the policies in force, what falls due, the sweeper, policy changes and reviews.

The privacy officer's side of the vault, over vault.retention (the same service the
``pseudovault retention ...`` commands use). Every route needs ``admin``: nothing here returns
PII, only ids, categories, dates, counts and legal bases.

A sweep over HTTP runs in the request, like ``pseudovault retention sweep``: it is safe to run
alongside other sweepers (the in-server periodic task, the CLI, other servers), each due item is
applied once; a request that is cut off leaves a state the next sweep completes. A large backlog
(after an outage, or a policy change that makes many items due at once) is better swept from the
command line, which shows a progress bar.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query
from pydantic import Field

from pseudovault.api.auth import Admin, ApiRoute
from pseudovault.api.deps import VaultDep
from pseudovault.api.routers.subjects import RetentionItemOut, RetentionItems
from pseudovault.api.schemas import ReasonCode, RequestModel, ResponseModel
from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.retention.policies import PolicyFileError, parse_policies, shipped_presets
from pseudovault.vault.retention.sweeper import MAX_BATCH_SIZE

__all__ = ["router"]

router = APIRouter(prefix="/v1/retention", route_class=ApiRoute, tags=["retention"])

#: the largest policy file accepted in a diff request (the shipped presets are about 10 KiB)
MAX_POLICY_TEXT = 256 * 1024

_SUBJECT_EXAMPLE = "0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10"


# --- policies ------------------------------------------------------------------------------------------------


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


# --- due dates, reports, sweeps ----------------------------------------------------------------------------


class ReportGroup(ResponseModel):
    category: str
    action: str
    items: int
    overdue: int
    held: int = Field(description="Items under a legal hold: they stay until it is released.")
    first_due: str
    last_due: str
    basis: str | None


class ReportOut(ResponseModel):
    now: datetime
    until: datetime
    days: int
    total: int
    held: int
    categories: list[ReportGroup]
    reviews_waiting: dict[str, int] = Field(description="Per category: items whose review fell due and waits for a decision.")


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


class ReviewRequest(RequestModel):
    decision: Literal["keep", "destroy"] = Field(
        description="keep: until the next review; destroy: now, with the category's destroying action."
    )
    reason_code: ReasonCode = Field("reviewed", description="Why, as a code (audited).")


TargetIdPath = Annotated[
    UUID,
    Path(
        description="A subject's id (its items and its separated data's) or a record's id.",
        examples=[_SUBJECT_EXAMPLE],
    ),
]


@router.get(
    "/policies",
    summary="The retention policies in force",
    description="Every category's period, trigger event, legal basis and action at expiry, as loaded from the "
    "shipped presets and the operator's file (`PSEUDOVAULT_RETENTION_POLICIES`).",
)
def list_policies(vault: VaultDep, _caller: Admin) -> PolicySetOut:
    return PolicySetOut.model_validate(vault.retention.policies.as_dict())


@router.post(
    "/policies/diff",
    summary="Preview a policy change",
    description="What switching to the given policy file would change: every stored due date that would move "
    "earlier or later, be scheduled or unscheduled, and how many items would fall due at once. Changes "
    "nothing. An invalid file is 422 naming the line and the reason.",
)
def diff_policies(body: PolicyDiffRequest, vault: VaultDep, _caller: Admin) -> PolicyDiffOut:
    try:
        candidate = parse_policies(body.policies, source="request", catalogue=shipped_presets())
    except PolicyFileError as exc:
        where = f"line {exc.line}: " if exc.line is not None else ""
        raise InvalidInputError("policies", f"{where}{exc.reason}") from None
    return PolicyDiffOut.model_validate(vault.retention.diff(candidate).as_dict())


@router.post(
    "/policies/apply",
    summary="Recompute due dates under the policies in force",
    description="After the operator's policy file changed (and the server restarted with it), recomputes every "
    "stored due date. Until then the sweeper refuses to run (409), so nothing is destroyed under "
    "due dates of the old policies. `dry_run` previews. Audited as `retention.policy_change`.",
)
def apply_policies(body: ApplyRequest, vault: VaultDep, _caller: Admin) -> PolicyDiffOut:
    return PolicyDiffOut.model_validate(vault.retention.apply_policies(dry_run=body.dry_run).as_dict())


@router.get(
    "/report",
    summary="What falls due",
    description="Per category and action: the items due within `days` days (overdue ones included), how many "
    "are held, the first and last due date, and the reviews waiting for a decision.",
)
def report(
    vault: VaultDep,
    _caller: Admin,
    days: Annotated[int, Query(ge=0, le=36_600, description="Look this many days ahead.")] = 30,
) -> ReportOut:
    return ReportOut.model_validate(vault.retention.report(days))


@router.post(
    "/sweep",
    summary="Apply the due retention actions",
    description="Shreds, deletes, moves to separate storage or flags for review every item due now, in "
    "batches; held items stay. Safe alongside other sweepers. `dry_run` lists what is due. Audited as "
    "`retention.sweep` with counts.",
)
def sweep(body: SweepRequest, vault: VaultDep, _caller: Admin) -> SweepOut:
    result = vault.retention.sweeper.sweep(batch_size=body.batch_size, dry_run=body.dry_run)
    return SweepOut.model_validate(result.as_dict())


@router.get(
    "/items/{target_id}",
    summary="The due dates of a subject or record",
    description="Every stored retention item of a subject (with its separated data) or a record: category, "
    "trigger, due date, action and state.",
)
def items(target_id: TargetIdPath, vault: VaultDep, _caller: Admin) -> RetentionItems:
    return RetentionItems.of(vault.retention.items(str(target_id)))


@router.post(
    "/items/{item_id}/review",
    summary="Decide a review",
    description="For an item whose review fell due (state `review`): keep it until the next review, or "
    "destroy it now. 409 when the item is not waiting for a review. Audited as `retention.review`.",
)
def review(
    item_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="The retention item's id.")],
    body: ReviewRequest,
    vault: VaultDep,
    _caller: Admin,
) -> RetentionItemOut:
    view = vault.retention.complete_review(item_id, decision=body.decision, reason_code=body.reason_code)
    return RetentionItemOut.pick(view.as_dict())
