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

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import PlainTextResponse

from pseudovault.api.auth import Admin, ApiRoute
from pseudovault.api.deps import VaultDep
from pseudovault.api.schemas.retention import (
    _SUBJECT_EXAMPLE,
    ApplyRequest,
    PolicyDiffOut,
    PolicyDiffRequest,
    PolicySetOut,
    ReportOut,
    ReviewRequest,
    SweepOut,
    SweepRequest,
)
from pseudovault.api.schemas.subjects import RetentionItemOut, RetentionItems
from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.retention.notice import notice
from pseudovault.vault.retention.policies import PolicyFileError
from pseudovault.vault.retention.policy_file import parse_policies, shipped_presets

__all__ = ["router"]


router = APIRouter(prefix="/v1/retention", route_class=ApiRoute, tags=["retention"])


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


@router.get(
    "/notice",
    summary="The retention section of a privacy policy",
    description="Written from the policies in force, so that the published notice and what the vault does "
    "cannot drift apart: per category, what is kept, for how long, from which event and on which legal basis. "
    "`lang` `ko` (default) or `en`; `format` `md` (Markdown, default) or `html` (every text escaped).",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/markdown": {}, "text/html": {}}}},
)
def retention_notice(
    vault: VaultDep,
    _caller: Admin,
    lang: Annotated[Literal["ko", "en"], Query(description="The notice's language.")] = "ko",
    fmt: Annotated[Literal["md", "html"], Query(alias="format", description="Markdown or HTML.")] = "md",
) -> Response:
    text = notice(vault.retention.policies, lang=lang, fmt=fmt)
    media = "text/markdown" if fmt == "md" else "text/html"
    return Response(text, media_type=f"{media}; charset=utf-8")


@router.post(
    "/sweep",
    summary="Apply the due retention actions",
    description="Shreds, deletes, moves to separate storage or flags for review every item due now, in "
    "batches; held items stay. Safe alongside other sweepers. `dry_run` lists what is due. Audited as "
    "`retention.sweep` with counts.",
)
def sweep(body: SweepRequest, vault: VaultDep, _caller: Admin) -> SweepOut:
    result = vault.retention.sweeper.sweep(batch_size=body.batch_size, dry_run=body.dry_run)
    return SweepOut.of(result)


@router.get(
    "/items/{target_id}",
    summary="The due dates of a subject or record",
    description="Every stored retention item of a subject (with its separated data) or a record: category, "
    "trigger, due date, action and state.",
)
def items(target_id: TargetIdPath, vault: VaultDep, _caller: Admin) -> RetentionItems:
    return RetentionItems.of_views(vault.retention.items(str(target_id)))


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
    return RetentionItemOut.of(view)
