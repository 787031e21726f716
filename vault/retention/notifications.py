"""Notification tasks: telling the third parties that received a subject's data of its
correction or erasure, and keeping a record that they were told.

A completed correction (PIPA Art. 36) and an erasure (Art. 21, 36) must reach the recipients the
data was provided to (the provisions log, vault.retention.rights). Each recipient to tell becomes
a task in ``notifications``: ``pending`` until it is marked ``notified`` (with when and by which
means, a code such as ``email``, ``letter`` or ``api``) or ``failed``. A task names the subject
by its id, the recipient (a company), the items concerned (field names or category codes) and
the request it follows from: no personal data. Tasks stay after the subject's erasure (the
provisions log goes with the subject; these are the proof that the recipients were told).

The functions work in the caller's session; the rights and erasure services open the tasks in
the transaction that completes the correction or the erasure, and audit them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError
from pseudovault.vault.ids import validate_code
from pseudovault.vault.store.data_models import Notification
from pseudovault.vault.views import View

__all__ = ["CAUSES", "STATES", "NotificationView", "close", "get", "listing", "open_tasks"]

CAUSES = ("correction", "erasure")
STATES = ("pending", "notified", "failed")


@dataclass(frozen=True)
class NotificationView(View):
    notification_id: str
    subject_id: str
    recipient: str
    items: tuple[str, ...]
    cause: str
    request_id: str | None
    state: str
    created_at: datetime
    closed_at: datetime | None
    means: str | None


def _view(row: Notification) -> NotificationView:
    return NotificationView(row.id, row.subject_id, row.recipient, tuple(json.loads(row.items)), row.cause,
                            row.request_id, row.state, row.created_at, row.closed_at, row.means)


def open_tasks(
    session: Session,
    subject_id: str,
    cause: str,
    request_id: str | None,
    recipients: Iterable[tuple[str, Iterable[str]]],
    now: datetime,
) -> list[NotificationView]:
    """One pending task per recipient (its items merged), in the caller's transaction."""
    if cause not in CAUSES:
        raise ValueError(f"unknown cause {cause!r}")
    merged: dict[str, set[str]] = {}
    for recipient, items in recipients:
        merged.setdefault(recipient, set()).update(items)
    rows = [
        Notification(id=str(uuid.uuid4()), subject_id=subject_id, recipient=recipient,
                     items=json.dumps(sorted(items)), cause=cause, request_id=request_id, state="pending",
                     created_at=now, closed_at=None, means=None)
        for recipient, items in sorted(merged.items())
    ]
    session.add_all(rows)
    session.flush()
    return [_view(r) for r in rows]


def get(session: Session, notification_id: str) -> NotificationView:
    row = session.get(Notification, notification_id)
    if row is None:
        raise NotFoundError("notification", notification_id)
    return _view(row)


def close(session: Session, notification_id: str, state: str, means: str | None, at: datetime) -> NotificationView:
    """Mark a pending task ``notified`` (``means`` required) or ``failed``; a failed task may be
    marked notified later (a second attempt), a notified one is final (ConflictError)."""
    if state not in ("notified", "failed"):
        raise InvalidInputError("state", "must be notified or failed")
    if means is not None:
        means = validate_code(means, "means")
    if state == "notified" and means is None:
        raise InvalidInputError("means", "is required: how the recipient was told (a code, e.g. email)")
    row = session.get(Notification, notification_id, with_for_update=True)
    if row is None:
        raise NotFoundError("notification", notification_id)
    if row.state == "notified":
        raise ConflictError(f"notification {notification_id} is already notified")
    if at < row.created_at:
        raise InvalidInputError("at", "must not be before the task was opened")
    row.state, row.means, row.closed_at = state, means, at
    session.flush()
    return _view(row)


def listing(session: Session, *, state: str | None = None, subject_id: str | None = None,
            limit: int = 100) -> list[NotificationView]:
    """Tasks oldest first, optionally of one state or one subject."""
    if state is not None and state not in STATES:
        raise InvalidInputError("state", f"must be one of: {', '.join(STATES)}")
    stmt = select(Notification).order_by(Notification.created_at, Notification.recipient, Notification.id).limit(limit)
    if state is not None:
        stmt = stmt.where(Notification.state == state)
    if subject_id is not None:
        stmt = stmt.where(Notification.subject_id == subject_id)
    return [_view(r) for r in session.scalars(stmt)]
