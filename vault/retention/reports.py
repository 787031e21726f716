"""Reports of retention: what falls due in a window, and the counts ``pseudovault status`` shows.

Read-only queries over the retention tables in the caller's session; ids, codes, counts and
timestamps only. :meth:`vault.retention.service.RetentionService.report` and ``status`` run them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from pseudovault.vault.records import repository as records_repository
from pseudovault.vault.retention.categories import CEILING
from pseudovault.vault.retention.holds import held_items
from pseudovault.vault.retention.policies import PolicySet
from pseudovault.vault.store.data_models import (
    LegalHold,
    ProcessingRestriction,
    RetentionItem,
    RetentionPolicyState,
    RightsRequest,
    SeparatedItem,
)
from pseudovault.vault.subjects import repository as subjects_repository

__all__ = ["awaiting_events", "due_report", "status_counts"]


def awaiting_events(session: Session, policies: PolicySet, now: datetime) -> list[dict[str, Any]]:
    """Per category, the items whose period waits for its starting event (a payment, a contract's
    end, a withdrawal) and has no date: how many, since when their data was collected (the
    oldest), the event, and the policy's ceiling (None: they may wait forever). Items that wait
    under a ceiling have a date (stage ``ceiling``) and are counted in ``under_ceiling``."""
    pending = (
        RetentionItem.state == "pending",
        or_(and_(RetentionItem.stage == "period", RetentionItem.trigger_at.is_(None)), RetentionItem.stage == CEILING),
    )
    rows: list[Any] = []
    for created_at_of, kind in ((subjects_repository.created_at_of, "subject_category"),
                                (records_repository.created_at_of, "record")):
        rows += session.execute(
            select(RetentionItem.category, RetentionItem.stage, func.count(),
                   func.min(created_at_of(RetentionItem.target_id)))
            .where(RetentionItem.kind == kind, *pending)
            .group_by(RetentionItem.category, RetentionItem.stage)
        ).all()
    groups: dict[str, dict[str, Any]] = {}
    for category, stage, count, oldest in rows:
        policy = policies.get(category)
        if policy is None or not policy.enabled:
            continue
        g = groups.setdefault(category, {"category": category, "trigger": policy.trigger, "items": 0,
                                         "under_ceiling": 0, "oldest": None, "oldest_days": None,
                                         "ceiling": policy.ceiling.short() if policy.ceiling else None})
        g["items"] += int(count)
        g["under_ceiling"] += int(count) if stage == CEILING else 0
        if oldest is not None and (g["oldest"] is None or oldest < g["oldest"]):
            g["oldest"] = oldest
    out = sorted(groups.values(), key=lambda g: g["category"])
    for g in out:
        if g["oldest"] is not None:
            g["oldest_days"] = (now - g["oldest"]).days
            g["oldest"] = g["oldest"].isoformat()
    return out


def due_report(session: Session, policies: PolicySet, now: datetime, days: int) -> dict[str, Any]:
    """What falls due by ``now + days`` (overdue items included), per category and action, with
    how many are held, how many fall due in each month (``by_month``, months of the policies'
    time zone), and the reviews waiting for a decision."""
    until = now + timedelta(days=days)
    rows = session.execute(
        select(RetentionItem.id, RetentionItem.kind, RetentionItem.target_id, RetentionItem.category,
               RetentionItem.action, RetentionItem.due_at, RetentionItem.stage)
        .where(RetentionItem.state.in_(("pending", "claimed")), RetentionItem.due_at.is_not(None),
               RetentionItem.due_at <= until)
        .order_by(RetentionItem.due_at, RetentionItem.id)
    ).all()
    held = held_items(session, [(r.id, r.kind, r.target_id) for r in rows], now)
    reviews = session.execute(
        select(RetentionItem.category, func.count()).where(RetentionItem.state == "review")
        .group_by(RetentionItem.category)
    ).all()
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        g = groups.setdefault((r.category, r.action), {"category": r.category, "action": r.action, "items": 0,
                                                      "overdue": 0, "held": 0, "by_ceiling": 0, "first_due": None,
                                                      "last_due": None, "by_month": {}})
        g["items"] += 1
        g["by_ceiling"] += int(r.stage == CEILING)
        g["overdue"] += int(r.due_at <= now)
        g["held"] += int(r.id in held)
        g["first_due"] = g["first_due"] or r.due_at.isoformat()
        g["last_due"] = r.due_at.isoformat()
        month = r.due_at.astimezone(policies.zone).strftime("%Y-%m")
        g["by_month"][month] = g["by_month"].get(month, 0) + 1
    categories = sorted(groups.values(), key=lambda g: (g["first_due"], g["category"], g["action"]))
    for g in categories:
        policy = policies.get(g["category"])
        g["basis"] = policy.basis if policy else None
    return {
        "now": now.isoformat(),
        "until": until.isoformat(),
        "days": days,
        "total": len(rows),
        "held": len(held),
        "categories": categories,
        "reviews_waiting": {category: int(count) for category, count in reviews},
        "awaiting_event": awaiting_events(session, policies, now),
    }


def status_counts(session: Session, policies: PolicySet, now: datetime) -> dict[str, Any]:
    """The policies in force and whether they are applied, items per state, what is due now,
    active holds, separate storage, restrictions and open or overdue requests."""
    states = {state: int(count) for state, count in session.execute(select(RetentionItem.state, func.count()).group_by(RetentionItem.state))}
    due_now = session.scalar(
        select(func.count()).select_from(RetentionItem).where(
            RetentionItem.state == "pending", RetentionItem.due_at.is_not(None), RetentionItem.due_at <= now
        )
    )
    holds = session.scalar(
        select(func.count()).select_from(LegalHold).where(
            LegalHold.released_at.is_(None), or_(LegalHold.until.is_(None), LegalHold.until > now)
        )
    )
    separated = session.scalar(select(func.count()).select_from(SeparatedItem))
    restrictions = session.scalar(select(func.count()).select_from(ProcessingRestriction))
    open_requests = session.scalar(select(func.count()).select_from(RightsRequest).where(RightsRequest.state == "open"))
    overdue = session.scalar(
        select(func.count()).select_from(RightsRequest).where(RightsRequest.state == "open", RightsRequest.due_at <= now)
    )
    state = session.get(RetentionPolicyState, 1)
    return {
        "policies": {
            "source": policies.source,
            "fingerprint": policies.fingerprint,
            "applied": state is None or state.fingerprint == policies.fingerprint,
            "applied_at": state.applied_at.isoformat() if state is not None else None,
        },
        "items": {s: int(states.get(s, 0)) for s in ("pending", "claimed", "review", "done")},
        "due_now": int(due_now or 0),
        "holds_active": int(holds or 0),
        "separated_items": int(separated or 0),
        "restrictions": int(restrictions or 0),
        "requests_open": int(open_requests or 0),
        "requests_overdue": int(overdue or 0),
        "awaiting_event": {g["category"]: {"items": g["items"], "under_ceiling": g["under_ceiling"],
                                           "oldest_days": g["oldest_days"]}
                           for g in awaiting_events(session, policies, now)},
    }
