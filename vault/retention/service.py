"""Retention: subjects' categories, trigger events, stored due dates, policy changes and reports.

Why one module of this size: categories, trigger events, the stored due dates and the applied
policy state change together, in one transaction and one lock order (a new category or event
recomputes the subject's items; a policy change recomputes every open item). Views, plans (pure
due-date code) and reports are in their own modules beside it.

Categories
    A subject's fields carry data categories (``subject_categories``): a category applies to
    every field (``*``) or to named fields (``payment_supply`` for ``order_ref`` and ``amount``,
    ``member_data`` for the rest). Only categories that are not anti-abuse record categories may
    be given to subjects; records carry their one category themselves (vault.records).

Trigger events
    ``retention_events`` holds the time each trigger event last happened to a subject or a record
    (recording it again replaces the time: the latest occurrence counts). ``collected`` is the
    subject's creation time unless recorded otherwise. A record's period runs from its own event
    if recorded, else its linked subject's, else the record's creation time (so a record is never
    kept longer for want of an event).

Stored expiry (``retention_items``)
    One item per subject category, record and separated item, with its due date and action,
    computed when a category is given, an event is recorded, a record is first seen
    (:meth:`RetentionService.sync_records`, run by every sweep) and when the policies change.
    Subject category: due = the policy's period after its trigger event (vault.retention.periods:
    from midnight after the last day); none while the event has not happened. Once the subject
    withdraws, a category with ``on_withdrawal = "separate"`` is due at once with the action
    ``separate``. Record: the same, and never later than the record's own ``expires_at``; a
    ``review`` category is due at the record's ``review_at``. A disabled policy schedules nothing
    (due date NULL). The sweeper (vault.retention.sweeper) applies due items.

Policies in force
    The due dates are computed under one policy set; ``retention_policy_state`` stores its
    fingerprint. The first use stores the set in force; afterwards, when the vault is opened with
    a different set (the operator edited the file), every operation that computes or applies due
    dates is refused with :class:`PoliciesChangedError` until :meth:`apply_policies` has
    recomputed them (its dry run, and :meth:`diff` for any candidate file, show what would be
    destroyed earlier or later). The policy change is audited (``retention.policy_change``).
    Other processes follow: every operation reads the stored state in its own transaction, and a
    process that finds a set applied since it started (not the one it was started with) adopts it
    from the stored copy, at once, without a restart.

Scopes (for the HTTP layer): categorize and subject events ``subjects:write``; record events
``records:write``; policies, report, diff, apply, review, sweep ``admin``.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Engine, and_, bindparam, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pseudovault.vault.audit import AuditLog
from pseudovault.vault.clock import Clock, past_timestamp
from pseudovault.vault.crypto.keystore import KeyHierarchy
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError
from pseudovault.vault.idempotency import IdempotencyClaim
from pseudovault.vault.ids import validate_record_id
from pseudovault.vault.records import repository as records_repository
from pseudovault.vault.retention.categories import TRIGGERS
from pseudovault.vault.retention.holds import HoldService, held_items
from pseudovault.vault.retention.plans import DECIDED, Plan, change_kind, record_plan, separated_plan, subject_plan
from pseudovault.vault.retention.policies import PolicySet
from pseudovault.vault.retention.reports import due_report, status_counts
from pseudovault.vault.retention.separate import SeparateStorage
from pseudovault.vault.retention.sweeper import Sweeper
from pseudovault.vault.retention.views import (
    DestructiveEventError,
    EventEffect,
    EventPreview,
    ItemChange,
    ItemView,
    PoliciesChangedError,
    PolicyDiff,
    item_view,
)
from pseudovault.vault.store.data_models import (
    RetentionEvent,
    RetentionItem,
    RetentionPolicyState,
    SeparatedItem,
    SubjectCategory,
)
from pseudovault.vault.store.db import one_of, one_of_param, session_scope
from pseudovault.vault.store.driver import DriverStatement, id_batches
from pseudovault.vault.subjects import repository as subjects_repository
from pseudovault.vault.subjects.service import SubjectService, validate_field_name, validate_reason_code, validate_subject_id

__all__ = ["ALL_FIELDS", "CategorySpec", "RetentionService", "parse_category_specs"]


log = logging.getLogger(__name__)


ALL_FIELDS = "*"


_OPEN_STATES = ("pending", "claimed", "review")


_SYNC_BATCH = 1000

# the sweeper's batch reads of a thousand subjects (or targets) at a time, built once and run on
# the driver's cursor (vault.store.driver); executed with "ids" (and "kind")
_CATEGORY_FIELDS = DriverStatement(
    select(SubjectCategory.subject_id, SubjectCategory.category, SubjectCategory.field).where(
        one_of_param(SubjectCategory.subject_id, "ids")
    )
)
_TRIGGER_EVENTS = DriverStatement(
    select(RetentionEvent.target_id, RetentionEvent.event, RetentionEvent.at).where(
        RetentionEvent.target_kind == bindparam("kind"), one_of_param(RetentionEvent.target_id, "ids")
    )
)


@functools.lru_cache(maxsize=32)
def _in_categories(count: int) -> DriverStatement:
    """Whether a subject is in one of ``count`` categories (bound as ``subject_id``, ``c0``...):
    built once per count, with a bind per code (the per-entry categories in force, a handful), so
    that it runs on the driver's cursor on every subject update (vault.store.driver)."""
    codes: list[BindParameter[Any]] = [bindparam(f"c{i}") for i in range(count)]
    return DriverStatement(
        select(exists().where(SubjectCategory.subject_id == bindparam("subject_id"), SubjectCategory.category.in_(codes)))
    )


#: a subject's categories: codes (every field), or code -> field names (None: every field)
CategorySpec = Mapping[str, Collection[str] | None] | Collection[str]


def parse_category_specs(specs: list[str]) -> dict[str, list[str] | None]:
    """``["member", "payment_supply:order_ref,amount"]`` as ``{code: fields or None}``."""
    parsed: dict[str, list[str] | None] = {}
    for spec in specs:
        code, sep, names = spec.partition(":")
        fields = [n.strip() for n in names.split(",") if n.strip()] if sep else None
        if sep and not fields:
            raise InvalidInputError("--category", "CODE:FIELD,FIELD names at least one field after the colon")
        previous = parsed.get(code, [])
        parsed[code] = None if previous is None or fields is None else [*previous, *fields]
    return parsed


def _has_item(record_id: ColumnElement[str], category: ColumnElement[str]) -> ColumnElement[bool]:
    """A record has its retention item: the predicate vault.records.repository.missing_ids negates."""
    return exists().where(
        RetentionItem.kind == "record", RetentionItem.target_id == record_id, RetentionItem.category == category
    )


class _Discard(Exception):  # noqa: N818  (not an error: it carries a preview out of a rolled-back transaction)
    def __init__(self, preview: EventPreview) -> None:
        super().__init__("preview")
        self.preview = preview


class RetentionService:
    """Categories, events, stored due dates, policy changes and reports. See the module docstring."""

    def __init__(
        self,
        data_engine: Engine,
        keys: KeyHierarchy,
        clock: Clock,
        audit: AuditLog,
        subjects: SubjectService,
        separate: SeparateStorage,
        holds: HoldService,
        policies: PolicySet,
    ) -> None:
        self._engine = data_engine
        self._keys = keys
        self._clock = clock
        self._audit = audit
        self.subjects = subjects
        self.separate = separate
        self.holds = holds
        self._policies = policies
        self.sweeper = Sweeper(self, data_engine, keys, clock, audit, subjects, separate)
        # the policy state stored when this process started: a different one stored later was
        # applied by another process, and is followed (see ensure_applied)
        with session_scope(self._engine) as session:
            row = session.get(RetentionPolicyState, 1)
            self._stored_at_start = row.fingerprint if row is not None else None

    def __repr__(self) -> str:
        return f"RetentionService(policies={self._policies!r})"

    @property
    def policies(self) -> PolicySet:
        """The policies in force (scope ``admin`` to list them; they hold no PII)."""
        return self._policies

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def clock(self) -> Clock:
        return self._clock

    # --- the policies the due dates were computed under --------------------------------------------

    def applied_state(self) -> dict[str, Any] | None:
        """The stored policy state: fingerprint, source, applied_at; None before first use."""
        with session_scope(self._engine) as session:
            row = session.get(RetentionPolicyState, 1)
            if row is None:
                return None
            return {"fingerprint": row.fingerprint, "source": row.source, "applied_at": row.applied_at.isoformat()}

    def ensure_applied(self, session: Session | None = None) -> None:
        """Store the policies in force on first use; PoliciesChangedError if others are stored."""
        if session is None:
            try:
                with session_scope(self._engine, write=True) as own:
                    self.ensure_applied(own)
            except IntegrityError:  # another process stored them at the same moment
                with session_scope(self._engine) as own:
                    self.ensure_applied(own)
            return
        row = session.get(RetentionPolicyState, 1)
        if row is None:
            session.add(self._state_row(self._policies))
            session.flush()
            return
        if row.fingerprint == self._policies.fingerprint:
            return
        if row.fingerprint == self._stored_at_start:
            # this process was started with a policy file that differs from the applied one
            raise PoliciesChangedError(row.fingerprint, self._policies.fingerprint)
        # another process applied other policies since this one started: follow them
        adopted = PolicySet.from_dict(json.loads(row.policies))
        log.info("retention policies applied by another process adopted (%s)", adopted.fingerprint[:12])
        self._policies = adopted
        self._stored_at_start = row.fingerprint

    def _state_row(self, policies: PolicySet) -> RetentionPolicyState:
        return RetentionPolicyState(
            id=1,
            fingerprint=policies.fingerprint,
            source=policies.source,
            applied_at=self._clock.now(),
            policies=json.dumps(policies.as_dict(), sort_keys=True, separators=(",", ":")),
        )

    # --- categories -----------------------------------------------------------------------------------

    def validate_categories(self, categories: CategorySpec) -> dict[str, tuple[str, ...] | None]:
        """``{category code: field names or None (every field)}``; aliases resolved. Subjects take
        only categories that are not anti-abuse record categories."""
        if isinstance(categories, (str, bytes)):
            raise TypeError("categories must be a collection of codes or a mapping, not a single string")
        items: Iterable[tuple[Any, Any]]
        items = categories.items() if isinstance(categories, Mapping) else ((c, None) for c in categories)
        out: dict[str, tuple[str, ...] | None] = {}
        for code, fields in items:
            policy = self._policies.resolve(code, "categories")
            if policy.for_records:
                raise InvalidInputError("categories", f"{policy.category} is a category of anti-abuse records, not of subjects")
            if fields is not None:
                if isinstance(fields, (str, bytes)):
                    raise TypeError("the fields of a category must be a collection of names")
                names = tuple(sorted({validate_field_name(f, f"categories.{policy.category}") for f in fields}))
                if not names:
                    raise InvalidInputError(f"categories.{policy.category}", "name at least one field, or none for all")
            else:
                names = None
            previous = out.get(policy.category, ())
            if previous is None or names is None:
                out[policy.category] = None
            else:
                out[policy.category] = tuple(sorted(set(previous) | set(names)))
        return out

    def categorize(self, subject_id: str, categories: CategorySpec) -> list[ItemView]:
        """Give the subject's fields data categories (adding to those it has) and compute their due
        dates. Scope ``subjects:write``. Returns the subject's items."""
        subject_id = validate_subject_id(subject_id)
        wanted = self.validate_categories(categories)
        if not wanted:
            raise InvalidInputError("categories", "at least one category")
        with session_scope(self._engine, write=True) as session:
            self.ensure_applied(session)
            created_at = subjects_repository.created_at(session, subject_id)
            if created_at is None:
                raise NotFoundError("subject", subject_id)
            self._categorize(session, subject_id, created_at, wanted)
        return self.items(subject_id)

    def _categorize(
        self, session: Session, subject_id: str, created_at: datetime, wanted: Mapping[str, tuple[str, ...] | None]
    ) -> None:
        """Add ``wanted`` (validated) to the subject's categories in ``session``, with its audit entry."""
        now = self._clock.now()
        existing = {
            (c, f)
            for c, f in session.execute(
                select(SubjectCategory.category, SubjectCategory.field).where(SubjectCategory.subject_id == subject_id)
            )
        }
        added = 0
        for code, fields in wanted.items():
            for name in fields or (ALL_FIELDS,):
                if (code, name) not in existing:
                    session.add(SubjectCategory(subject_id=subject_id, category=code, field=name, added_at=now))
                    added += 1
        if session.get(RetentionEvent, ("subject", subject_id, "collected")) is None:
            session.add(RetentionEvent(target_kind="subject", target_id=subject_id, event="collected", at=created_at))
        session.flush()
        self._refresh_subjects(session, [subject_id], self._policies, now)
        self._audit.append(
            "retention.categorize",
            targets=[subject_id],
            detail={"categories": len(wanted), "added": added},
            session=session,
        )

    def create_subject(
        self, fields: Mapping[str, str], categories: CategorySpec, *, idempotency: IdempotencyClaim | None = None
    ) -> str:
        """A new subject with ``fields`` and ``categories`` (validated before anything is written),
        in one data-store transaction with both audit entries: a crash leaves the subject with its
        categories or nothing. Scope ``subjects:write``. Under an idempotency key a retry answers
        with the subject the key made."""
        wanted = self.validate_categories(categories)

        def categorize(session: Session, subject_id: str, created_at: datetime) -> None:
            if wanted:
                self.ensure_applied(session)
                self._categorize(session, subject_id, created_at, wanted)

        if idempotency is None:
            return self.subjects.create(fields, then=categorize)
        return self.subjects.create_once(fields, idempotency, then=categorize)[0]

    def categories_of(self, subject_id: str) -> dict[str, list[str]]:
        """``{category: field names}`` (``["*"]`` for every field) of a subject."""
        subject_id = validate_subject_id(subject_id)
        out: dict[str, list[str]] = {}
        with session_scope(self._engine) as session:
            for code, name in session.execute(
                select(SubjectCategory.category, SubjectCategory.field)
                .where(SubjectCategory.subject_id == subject_id)
                .order_by(SubjectCategory.category, SubjectCategory.field)
            ):
                out.setdefault(code, []).append(name)
        return out

    # --- events ---------------------------------------------------------------------------------------

    def record_event(
        self, target_kind: str, target_id: str, event: str, *, at: datetime | None = None, confirm: bool = False
    ) -> list[ItemView]:
        """Record that ``event`` happened to a subject or a record (at ``at``, default now; not in
        the future, not before 1970) and recompute the due dates that run from it. A subject's ``withdrawal`` moves
        the categories kept under another law to separate storage at once (unless the subject is
        held: the next sweep after the release does it). Scope ``subjects:write`` for subjects,
        ``records:write`` for records. Returns the target's items.

        An event that makes data due for destruction at once (a backdated withdrawal, payment or
        confirmation, say) is refused with :class:`DestructiveEventError`, which carries the
        preview, and nothing is recorded, unless ``confirm``; :meth:`preview_event` shows the same
        without changing anything."""
        self._event(target_kind, target_id, event, at, record=True, confirm=confirm)
        return self.items(target_id)

    def preview_event(
        self, target_kind: str, target_id: str, event: str, *, at: datetime | None = None
    ) -> EventPreview:
        """What :meth:`record_event` would do, changing nothing: the target's items as they would
        be, and each item the event would make due at once with what follows (``destroy``,
        ``separate``, ``restrict``, ``review``). Same scopes as :meth:`record_event`."""
        return self._event(target_kind, target_id, event, at, record=False, confirm=False)

    def _event(
        self, target_kind: str, target_id: str, event: str, at: datetime | None, *, record: bool, confirm: bool
    ) -> EventPreview:
        if target_kind not in ("subject", "record"):
            raise InvalidInputError("target_kind", "must be subject or record")
        target_id = validate_subject_id(target_id) if target_kind == "subject" else validate_record_id(target_id)
        if event not in TRIGGERS:
            raise InvalidInputError("event", f"must be one of: {', '.join(TRIGGERS)}")
        if not isinstance(confirm, bool):
            raise InvalidInputError("confirm", "must be true or false")
        now = self._clock.now()
        at = now if at is None else past_timestamp(at, "at", now)
        try:
            with session_scope(self._engine, write=True) as session:
                self.ensure_applied(session)
                repository = subjects_repository if target_kind == "subject" else records_repository
                if not repository.exists(session, target_id):
                    raise NotFoundError(target_kind, target_id)
                subjects = [target_id] if target_kind == "subject" else []
                records = records_repository.ids_of_subject(session, target_id) if subjects else [target_id]
                # what is due without the event, planned as it stands (a record gets its item at the
                # first sweep after its creation, so one may have none yet, and one whose expiry passed
                # is due anyway): only what the event makes due at once is the event's to confirm
                self._refresh(session, subjects, records, now)
                due_before = {row.id for row in session.scalars(self._due_now_items(subjects, records, now))}
                row = session.get(RetentionEvent, (target_kind, target_id, event))
                if row is None:
                    session.add(RetentionEvent(target_kind=target_kind, target_id=target_id, event=event, at=at))
                else:
                    row.at = at
                session.flush()
                self._refresh(session, subjects, records, now)
                preview = EventPreview(
                    target_kind=target_kind,
                    target_id=target_id,
                    event=event,
                    at=at,
                    items=tuple(item_view(r) for r in session.scalars(self._items_of(target_id))),
                    due_now=tuple(
                        self._effect(session, r, now)
                        for r in session.scalars(self._due_now_items(subjects, records, now))
                        if r.id not in due_before
                    ),
                )
                if not record:
                    raise _Discard(preview)
                if preview.destroys and not confirm:
                    raise DestructiveEventError(preview)
                detail: dict[str, Any] = {"target_kind": target_kind, "event": event}
                if preview.due_now:  # what it made due at once, and how much of it is destroyed
                    detail["due_now"] = len(preview.due_now)
                    detail["destroys"] = sum(1 for e in preview.due_now if e.effect == "destroy")
                self._audit.append("retention.event", targets=[target_id], detail=detail, session=session)
        except _Discard as discarded:  # the preview: rolled back, nothing changed
            return discarded.preview
        if target_kind == "subject" and event == "withdrawal":
            self.sweeper.sweep(target_id=target_id, actions=("separate",))
        return preview

    def _refresh(self, session: Session, subject_ids: Sequence[str], record_ids: Sequence[str], now: datetime) -> None:
        """Plan the pending items of these subjects and records again, as their events now stand."""
        if subject_ids:
            self._refresh_subjects(session, subject_ids, self._policies, now)
        self._refresh_records(session, record_ids, self._policies, now)  # each flushes what it planned

    @staticmethod
    def _due_now_items(subject_ids: Sequence[str], record_ids: Sequence[str], now: datetime) -> Any:
        """The pending items of these subjects (with their separated data) and records due by ``now``."""
        separated = select(SeparatedItem.id).where(one_of(SeparatedItem.origin_id, list(subject_ids)))
        return (
            select(RetentionItem)
            .where(
                RetentionItem.state == "pending",
                RetentionItem.due_at <= now,
                or_(
                    and_(RetentionItem.kind == "subject_category", one_of(RetentionItem.target_id, list(subject_ids))),
                    and_(RetentionItem.kind == "separated", RetentionItem.target_id.in_(separated)),
                    and_(RetentionItem.kind == "record", one_of(RetentionItem.target_id, list(record_ids))),
                )
            )
            .order_by(RetentionItem.id)
        )

    def _effect(self, session: Session, item: RetentionItem, now: datetime) -> EventEffect:
        """What follows for an item due now (the sweeper's rules: a move to separate storage whose
        own period has already run destroys the data instead)."""
        assert item.due_at is not None
        effect = "review" if item.action == "review" else "restrict" if item.action == "restrict" else "destroy"
        if item.action == "separate":
            policy = self._policies[item.category]  # the item was planned under it
            events = self.trigger_events(session, "subject", [item.target_id]).get(item.target_id, {})
            trigger = events.get(policy.trigger) or item.trigger_at or now
            final = self._policies.due(policy, trigger) if policy.enabled else None
            effect = "destroy" if final is not None and final <= now else "separate"
        return EventEffect(
            item_id=item.id, kind=item.kind, target_id=item.target_id, category=item.category, action=item.action,
            due_at=item.due_at, effect=effect,
        )

    # --- items ------------------------------------------------------------------------------------------

    def items(self, target_id: str, *, include_done: bool = True) -> list[ItemView]:
        """The retention items of a subject (and its separated data) or a record."""
        target_id = validate_subject_id(target_id, "target_id")
        with session_scope(self._engine) as session:
            stmt = self._items_of(target_id)
            if not include_done:
                stmt = stmt.where(RetentionItem.state != "done")
            return [item_view(r) for r in session.scalars(stmt)]

    @staticmethod
    def _items_of(target_id: str) -> Any:
        separated = select(SeparatedItem.id).where(SeparatedItem.origin_id == target_id)
        return (
            select(RetentionItem)
            .where(
                or_(
                    RetentionItem.target_id == target_id,
                    and_(RetentionItem.kind == "separated", RetentionItem.target_id.in_(separated)),
                )
            )
            .order_by(RetentionItem.id)
        )

    def get_item(self, item_id: int) -> ItemView:
        with session_scope(self._engine) as session:
            row = session.get(RetentionItem, item_id)
            if row is None:
                raise NotFoundError("retention item", str(item_id))
            return item_view(row)

    # --- computing and storing due dates ----------------------------------------------------------------

    @staticmethod
    def trigger_events(session: Session, target_kind: str, ids: Collection[str]) -> dict[str, dict[str, datetime]]:
        out: dict[str, dict[str, datetime]] = {}
        connection = session.connection()
        for batch in id_batches(ids):
            for target_id, event, at in _TRIGGER_EVENTS.rows(connection, {"kind": target_kind, "ids": batch}):
                out.setdefault(target_id, {})[event] = at
        return out

    @staticmethod
    def _store(session: Session, item: RetentionItem | None, kind: str, target_id: str, category: str,
               plan: Plan, now: datetime) -> RetentionItem:
        if item is None:
            item = RetentionItem(
                kind=kind, target_id=target_id, category=category, stage=plan.stage, trigger_at=plan.trigger_at,
                due_at=plan.due_at, action=plan.action, state="pending", updated_at=now,
            )
            session.add(item)
            return item
        if (item.stage, item.trigger_at, item.due_at, item.action) != (plan.stage, plan.trigger_at, plan.due_at, plan.action):
            item.stage, item.trigger_at, item.due_at, item.action = plan.stage, plan.trigger_at, plan.due_at, plan.action
            item.updated_at = now
        return item

    def _refresh_subjects(self, session: Session, subject_ids: Sequence[str], policies: PolicySet, now: datetime) -> None:
        if not subject_ids:
            return
        events = self.trigger_events(session, "subject", subject_ids)
        categories: dict[str, set[str]] = {}
        for sid, code in session.execute(
            select(SubjectCategory.subject_id, SubjectCategory.category)
            .where(SubjectCategory.subject_id.in_(list(subject_ids)))
            .distinct()
        ):
            categories.setdefault(sid, set()).add(code)
        existing = {
            (i.target_id, i.category): i
            for i in session.scalars(
                select(RetentionItem).where(
                    RetentionItem.kind == "subject_category", RetentionItem.target_id.in_(list(subject_ids))
                )
            )
        }
        entries = self._entry_times(session, subject_ids, categories, policies)
        for sid in subject_ids:
            for code in sorted(categories.get(sid, ())):
                policy = policies.get(code)
                item = existing.get((sid, code))
                if policy is None or (item is not None and item.state != "pending"):
                    continue
                self._store(session, item, "subject_category", sid, code,
                            subject_plan(policies, policy, events.get(sid, {}), item, entries.get((sid, code), ())), now)
        session.flush()

    def _entry_times(
        self, session: Session, subject_ids: Sequence[str], categories: Mapping[str, set[str]], policies: PolicySet
    ) -> dict[tuple[str, str], list[datetime | None]]:
        """For each (subject, per-entry category): when each of the category's fields was collected."""
        wanted = [sid for sid in subject_ids
                  if any((p := policies.get(c)) is not None and p.per_entry for c in categories.get(sid, ()))]
        if not wanted:
            return {}
        times = subjects_repository.field_times(session, wanted)
        covered = self.category_fields(session, wanted)
        out: dict[tuple[str, str], list[datetime | None]] = {}
        for sid in wanted:
            for code, names in covered[sid].items():
                policy = policies.get(code)
                if policy is None or not policy.per_entry:
                    continue
                fields = times[sid]
                chosen = fields if "*" in names else {n: t for n, t in fields.items() if n in names}
                out[(sid, code)] = list(chosen.values())
        return out

    def per_entry_categories(self) -> list[str]:
        """The codes of the per-entry categories in force: a subject in one of them has its due
        dates computed again when its fields are set (:meth:`fields_set`)."""
        return [p.category for p in self._policies if p.per_entry]

    def fields_set(self, session: Session, subject_id: str, now: datetime, *, in_category: bool | None = None) -> None:
        """A subject's fields were set (vault.subjects, in its transaction): a per-entry category
        runs from each value's own collection, so its due date is computed again. Nothing when the
        policies in force are not applied yet (applying them recomputes everything).
        ``in_category``: whether the subject is in one of :meth:`per_entry_categories`, when the
        caller read it in a statement of its own (None: looked up here)."""
        per_entry = self.per_entry_categories()
        if not per_entry:
            return
        if in_category is None:
            params = {f"c{i}": code for i, code in enumerate(per_entry)}
            params["subject_id"] = subject_id
            found = _in_categories(len(per_entry)).first(session.connection(), params)
            in_category = bool(found and found[0])
        if not in_category:
            return  # the common case: an update that no per-entry category covers costs one lookup
        try:
            self.ensure_applied(session)
        except PoliciesChangedError:
            return
        self._refresh_subjects(session, [subject_id], self._policies, now)

    def record_expiry_changed(self, session: Session, record_id: str, now: datetime) -> None:
        """A record's expiry was moved (vault.records, in its update's transaction): its retention
        item, due at the expiry, is dated again, so that a ban extended past its first expiry is
        not deleted at it, and one brought forward is deleted at its new end. Nothing when the
        policies in force are not applied yet (applying them dates every item again)."""
        try:
            self.ensure_applied(session)
        except PoliciesChangedError:
            return
        self._refresh_records(session, [record_id], self._policies, now)

    def _refresh_records(self, session: Session, record_ids: Sequence[str], policies: PolicySet, now: datetime) -> None:
        if not record_ids:
            return
        records = records_repository.facts(session, record_ids)
        events = self.trigger_events(session, "record", [r.id for r in records])
        subject_events = self.trigger_events(session, "subject", {r.subject_id for r in records if r.subject_id})
        existing = {
            i.target_id: i
            for i in session.scalars(
                select(RetentionItem).where(RetentionItem.kind == "record", RetentionItem.target_id.in_(list(record_ids)))
            )
        }
        for record in records:
            policy = policies.get(record.category)
            item = existing.get(record.id)
            if policy is None or (item is not None and item.state != "pending"):
                continue
            plan = record_plan(policies, policy, record, events.get(record.id, {}),
                                subject_events.get(record.subject_id or "", {}), item)
            self._store(session, item, "record", record.id, record.category, plan, now)
        session.flush()

    def sync_records(self, session: Session, policies: PolicySet | None = None) -> int:
        """Give every record without a retention item one (in ``session``); returns how many."""
        policies = policies or self._policies
        now = self._clock.now()
        added = 0
        while True:
            missing = records_repository.missing_ids(session, _has_item, _SYNC_BATCH)
            if not missing:
                return added
            self._refresh_records(session, missing, policies, now)
            added += len(missing)

    def _recompute_all(self, session: Session, policies: PolicySet, now: datetime) -> list[ItemChange]:
        """Recompute every open item under ``policies`` (in ``session``); returns what changed.

        Records not seen yet get their items under the stored policies first, so that what the
        change does to them is reported too."""
        state = session.get(RetentionPolicyState, 1)
        self.sync_records(session, PolicySet.from_dict(json.loads(state.policies)) if state is not None else policies)
        before = {
            i.id: (i.due_at, i.action)
            for i in session.scalars(select(RetentionItem).where(RetentionItem.state == "pending"))
        }
        last = 0
        while True:
            rows = list(
                session.scalars(
                    select(RetentionItem)
                    .where(RetentionItem.state == "pending", RetentionItem.id > last)
                    .order_by(RetentionItem.id)
                    .limit(_SYNC_BATCH)
                )
            )
            if not rows:
                break
            last = rows[-1].id
            subjects = sorted({r.target_id for r in rows if r.kind == "subject_category"})
            records = sorted({r.target_id for r in rows if r.kind == "record"})
            self._refresh_subjects(session, subjects, policies, now)
            self._refresh_records(session, records, policies, now)
            for item in rows:
                if item.kind == "separated":
                    policy = policies.get(item.category)
                    if policy is not None:
                        self._store(session, item, "separated", item.target_id, item.category,
                                    separated_plan(policies, policy, item), now)
            session.flush()
        changes = []
        for item in session.scalars(
            select(RetentionItem).where(RetentionItem.id.in_(list(before))).order_by(RetentionItem.id)
        ):
            old_due, old_action = before[item.id]
            change = change_kind(old_due, item.due_at, old_action, item.action)
            if change is not None:
                changes.append(ItemChange(item.kind, item.target_id, item.category, old_due, item.due_at, old_action,
                                          item.action, change))
        return changes

    # --- policy changes -------------------------------------------------------------------------------

    def _stored_policies(self, session: Session) -> tuple[str | None, dict[str, dict[str, Any]]]:
        row = session.get(RetentionPolicyState, 1)
        if row is None:
            return None, {}
        stored = json.loads(row.policies)
        return row.fingerprint, {p["category"]: p for p in stored.get("policies", [])}

    def diff(self, candidate: PolicySet | None = None) -> PolicyDiff:
        """What the stored due dates would become under ``candidate`` (default: the policies in
        force), changing nothing. Scope ``admin``."""
        candidate = candidate or self._policies
        now = self._clock.now()
        with session_scope(self._engine, write=True) as session:
            fingerprint, stored = self._stored_policies(session)
            changes = self._recompute_all(session, candidate, now)
            session.rollback()
        changed = tuple(c for c in candidate.codes() if stored.get(c) != candidate[c].as_dict()) if stored else ()
        return PolicyDiff(fingerprint, candidate.fingerprint, changed, tuple(changes), False, now)

    def apply_policies(self, *, dry_run: bool = False) -> PolicyDiff:
        """Recompute every stored due date under the policies in force and record them as applied
        (audited ``retention.policy_change``). ``dry_run`` only reports. Scope ``admin``."""
        if dry_run:
            return self.diff()
        now = self._clock.now()
        with session_scope(self._engine, write=True) as session:
            fingerprint, stored = self._stored_policies(session)
            changes = self._recompute_all(session, self._policies, now)
            row = session.get(RetentionPolicyState, 1)
            new = self._state_row(self._policies)
            if row is None:
                session.add(new)
            else:
                row.fingerprint, row.source, row.applied_at, row.policies = new.fingerprint, new.source, new.applied_at, new.policies
            changed = tuple(c for c in self._policies.codes() if stored.get(c) != self._policies[c].as_dict()) if stored else ()
            self._audit.append(
                "retention.policy_change",
                targets=[],
                detail={
                    "from": (fingerprint or "none")[:16],
                    "to": self._policies.fingerprint[:16],
                    "policies_changed": len(changed),
                    "items_changed": len(changes),
                    "earlier": sum(1 for c in changes if c.change == "earlier"),
                    "later": sum(1 for c in changes if c.change == "later"),
                },
                session=session,
            )
        log.info("retention policies applied: %d policies changed, %d items changed", len(changed), len(changes))
        return PolicyDiff(fingerprint, self._policies.fingerprint, changed, tuple(changes), True, now)

    # --- reports ----------------------------------------------------------------------------------------

    def report(self, days: int) -> dict[str, Any]:
        """What falls due within ``days`` days (overdue items included), per category and action,
        with how many are held, and the reviews waiting for a decision. Changes nothing. Scope
        ``admin``. (:func:`vault.retention.reports.due_report`)"""
        if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 36_600:
            raise InvalidInputError("days", "must be an integer from 0 to 36600")
        now = self._clock.now()
        with session_scope(self._engine, write=True) as session:
            self.ensure_applied(session)
            self.sync_records(session)
            report = due_report(session, self._policies, now, days)
            session.rollback()
        return report

    @staticmethod
    def held_items(session: Session, items: Sequence[tuple[int, str, str]], now: datetime) -> dict[int, str]:
        """``{item id: hold id}`` for the items under an active legal hold (:func:`vault.retention.holds.held_items`)."""
        return held_items(session, items, now)

    # --- status -------------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Counts for ``pseudovault status``: ids and numbers only (:func:`vault.retention.reports.status_counts`)."""
        with session_scope(self._engine) as session:
            return status_counts(session, self._policies, self._clock.now())

    # --- reviews ----------------------------------------------------------------------------------------

    def complete_review(self, item_id: int, *, decision: str, reason_code: str = "reviewed") -> ItemView:
        """Decide a review: ``keep`` schedules the next review (``review_interval`` from now);
        ``destroy`` makes the item due now with the category's destroying action (the next sweep,
        or this call's, applies it). Audited ``retention.review``. Scope ``admin``."""
        if decision not in ("keep", "destroy"):
            raise InvalidInputError("decision", "must be keep or destroy")
        reason_code = validate_reason_code(reason_code)
        now = self._clock.now()
        with session_scope(self._engine, write=True) as session:
            self.ensure_applied(session)
            row = session.get(RetentionItem, item_id, with_for_update=True)
            if row is None:
                raise NotFoundError("retention item", str(item_id))
            if row.state != "review":
                raise ConflictError(f"retention item {item_id} is not waiting for a review")
            policy = self._policies[row.category]
            if decision == "keep":
                interval = policy.review_interval or policy.first_period()
                row.stage, row.trigger_at, row.due_at = "review_interval", now, self._policies.due(policy, now, interval)
                row.action = "review"
            else:
                row.stage, row.due_at = DECIDED, now
                row.action = "delete_record" if row.kind == "record" else "shred_subject"
            row.state, row.updated_at, row.outcome = "pending", now, f"review_{decision}"
            self._audit.append(
                "retention.review",
                targets=[row.target_id],
                detail={"item": row.id, "category": row.category, "decision": decision, "reason": reason_code},
                session=session,
            )
            view = item_view(row)
        if decision == "destroy":
            self.sweeper.sweep(target_id=view.target_id)
            return self.get_item(item_id)
        return view

    # --- subject fields (for the sweeper and erasure) ----------------------------------------------------

    @staticmethod
    def subject_fields(session: Session, subject_ids: Collection[str]) -> dict[str, set[str]]:
        """``{subject: names of its stored fields}`` (vault.subjects.repository)."""
        return subjects_repository.field_names(session, subject_ids)

    @staticmethod
    def category_fields(session: Session, subject_ids: Collection[str]) -> dict[str, dict[str, set[str]]]:
        """``{subject: {category: field names or {"*"}}}``."""
        out: dict[str, dict[str, set[str]]] = {sid: {} for sid in subject_ids}
        connection = session.connection()
        for batch in id_batches(subject_ids):
            for sid, code, name in _CATEGORY_FIELDS.rows(connection, {"ids": batch}):
                out[sid].setdefault(code, set()).add(name)
        return out
