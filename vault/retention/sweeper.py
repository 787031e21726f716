"""The sweeper: applies the retention items that are due, in batches.

Why one module of this size: one run's claim, apply and settle steps share the lease and batch
bookkeeping that make a killed run resumable; each action's application is a method here so the
whole life of a due item reads in one place.

Each run fixes ``now`` (the vault clock) at its start, gives records without an item one
(``sync_records``), then works through the due items in id order, one batch at a time:

1. **claim** (one short write transaction): ``SELECT ... WHERE state = 'pending' AND due_at <= now
   AND (due_at, id) > <cursor> ORDER BY due_at, id LIMIT n FOR UPDATE SKIP LOCKED`` (a range scan
   of the ``(state, due_at, id)`` index), then mark them ``claimed``
   with this run's token. On PostgreSQL concurrent sweepers skip each other's rows instead of
   waiting; on SQLite the write lock serialises the claims. Either way an item is claimed by one
   run only.
2. **apply** each claimed item's action (below), idempotently: applying an item again after a
   crash finds the work done and completes it (a shredded subject is ``already`` shredded, a
   moved category is not moved twice, a deleted record is gone).
3. **finish** (one write transaction): ``done`` (with an outcome), ``review`` (waiting for a
   reviewer), rescheduled (a record moved to separate storage gets its next due date), or
   released back to ``pending`` (held, or failed: the next run retries).

A run that stops half-way (an exception, an interrupt) releases its unfinished claims on the way
out; a run killed outright leaves them ``claimed`` and the first run that starts more than
``lease`` (15 minutes) after they were claimed takes them over. So the state is always one the next run completes.

Actions
    ``shred_subject`` (a subject's category): the category's fields are destroyed unless another
    category of the subject still needs them; when nothing of the subject is left, the subject is
    shredded (its data key destroyed; ``SubjectService.shred_many``), otherwise the fields are
    deleted. ``separate`` (after a withdrawal): the category's fields move to separate storage
    (vault.retention.separate) with the category's own due date, then go from the subject as
    above. ``restrict``: the same move, kept for ``restricted_period``; for a record, a
    ``separate_storage`` restriction (no more matching) and a due date ``restricted_period``
    later. ``delete_record``: the record, its pseudonyms and its text (and own key) are deleted.
    ``destroy`` (a separated item): its key, then its rows. ``review``: waits in ``review``
    until :meth:`RetentionService.complete_review`.

Legal holds (vault.retention.holds): held items are left ``pending`` and counted as held.
Audit: each destruction is audited by the service that does it (``subject.shred``,
``record.delete``, ``separated.destroy``, ``separated.create``), each run once more as
``retention.sweep`` with its counts.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Engine, and_, bindparam, delete, func, literal, or_, select, tuple_, update
from sqlalchemy.orm import Session

from pseudovault.vault.audit import AuditLog
from pseudovault.vault.clock import Clock
from pseudovault.vault.crypto.keystore import KeyHierarchy
from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.records import repository as records_repository
from pseudovault.vault.retention.categories import ENTRIES
from pseudovault.vault.retention.policies import Policy, PolicySet
from pseudovault.vault.retention.separate import SeparateStorage
from pseudovault.vault.store.data_models import ProcessingRestriction, RetentionEvent, RetentionItem, SeparatedItem
from pseudovault.vault.store.db import checkpoint_sqlite, one_of, one_of_param, session_scope
from pseudovault.vault.store.driver import DriverStatement, id_batches
from pseudovault.vault.subjects import repository as subjects_repository
from pseudovault.vault.subjects.service import SubjectService
from pseudovault.vault.views import View

__all__ = ["DEFAULT_LEASE", "MAX_BATCH_SIZE", "SweepReport", "SweepSource", "Sweeper"]

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=15)
MAX_BATCH_SIZE = 10_000

Progress = Callable[[int, int], None]


class Claimed(NamedTuple):
    """A retention item as a sweep claims it: what applying it needs (a row, not an ORM object)."""

    id: int
    kind: str
    target_id: str
    category: str
    action: str
    trigger_at: datetime | None
    due_at: datetime | None


# a batch claimed and read back in one statement (built once; see vault.store.db.one_of_param)
_CLAIM = DriverStatement(
    update(RetentionItem)
    .where(one_of_param(RetentionItem.id, "ids"))
    .values(state="claimed", claim=bindparam("token"), claimed_at=bindparam("now"), updated_at=bindparam("now"))
    .returning(*(getattr(RetentionItem, name) for name in Claimed._fields))
)
# a batch's other items of its subjects (those of other categories protect their fields)
_SUBJECT_ITEMS = DriverStatement(
    select(RetentionItem.target_id, RetentionItem.category, RetentionItem.id, RetentionItem.kind, RetentionItem.state).where(
        one_of_param(RetentionItem.target_id, "ids")
    )
)
# how a batch's items ended: one statement per (state, outcome) group, done ones stamped, each only
# where this run's claim still holds; a rescheduled item's own
_FINISH = DriverStatement(
    update(RetentionItem)
    .where(one_of_param(RetentionItem.id, "ids"), RetentionItem.claim == bindparam("token"))
    .values(state=bindparam("state"), outcome=bindparam("outcome"), claim=None, claimed_at=None, updated_at=bindparam("now"))
)
_FINISH_DONE = DriverStatement(
    update(RetentionItem)
    .where(one_of_param(RetentionItem.id, "ids"), RetentionItem.claim == bindparam("token"))
    .values(state="done", outcome=bindparam("outcome"), claim=None, claimed_at=None, updated_at=bindparam("now"),
            done_at=bindparam("now"))
)
_RESCHEDULE = DriverStatement(
    update(RetentionItem)
    .where(RetentionItem.id == bindparam("id"), RetentionItem.claim == bindparam("token"))
    .values(state="pending", outcome=bindparam("outcome"), stage=bindparam("stage"), trigger_at=bindparam("trigger_at"),
            due_at=bindparam("due_at"), action=bindparam("action"), claim=None, claimed_at=None, updated_at=bindparam("now"))
)


@dataclass
class SweepReport(View):
    """What a sweep did (or, with ``dry_run``, would do). ``outcomes`` counts items per outcome
    (shredded, fields_deleted, kept, separated, restricted, deleted, destroyed, review_due, gone,
    expired), ``by_category`` per category and outcome; ``held`` and ``failed`` items stay
    pending for a later run. ``planned`` lists, in a dry run, the due items (at most 1000).
    ``leased`` counts the items claimed by another run (one under way, or one killed whose lease
    has not run out): no run applies them before ``leased_until``, when the next run takes them over."""

    now: datetime
    dry_run: bool
    due: int = 0
    applied: int = 0
    held: int = 0
    failed: int = 0
    batches: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    by_category: dict[str, Counter[str]] = field(default_factory=dict)
    planned: list[dict[str, Any]] = field(default_factory=list)
    leased: int = 0
    leased_until: datetime | None = None

    def count(self, category: str, outcome: str, n: int = 1) -> None:
        self.outcomes[outcome] += n
        self.by_category.setdefault(category, Counter())[outcome] += n

    def extra(self) -> Mapping[str, Any]:
        return {
            "outcomes": dict(sorted(self.outcomes.items())),
            "by_category": {c: dict(sorted(v.items())) for c, v in sorted(self.by_category.items())},
        }


@dataclass
class _Result:
    """How one claimed item ends: ``done``, ``review``, ``reschedule`` or ``release``."""

    state: str
    outcome: str | None = None
    plan: tuple[str, datetime | None, datetime | None, str] | None = None  # stage, trigger, due, action


class SweepSource(Protocol):
    """What the sweeper needs of the retention service (:class:`vault.retention.service.RetentionService`,
    which owns the sweeper and hands itself in)."""

    @property
    def policies(self) -> PolicySet: ...

    def ensure_applied(self, session: Session | None = None) -> None: ...

    def sync_records(self, session: Session, policies: PolicySet | None = None) -> int: ...

    def held_items(self, session: Session, items: Sequence[tuple[int, str, str]], now: datetime) -> dict[int, str]: ...

    def trigger_events(self, session: Session, target_kind: str, ids: Collection[str]) -> dict[str, dict[str, datetime]]: ...

    def subject_fields(self, session: Session, subject_ids: Collection[str]) -> dict[str, set[str]]: ...

    def category_fields(self, session: Session, subject_ids: Collection[str]) -> dict[str, dict[str, set[str]]]: ...


class Sweeper:
    """Applies due retention items; see the module docstring. Scope ``admin``."""

    def __init__(
        self,
        service: SweepSource,
        data_engine: Engine,
        keys: KeyHierarchy,
        clock: Clock,
        audit: AuditLog,
        subjects: SubjectService,
        separate: SeparateStorage,
        *,
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        self._service = service
        self._engine = data_engine
        self._keys = keys
        self._clock = clock
        self._audit = audit
        self._subjects = subjects
        self._separate = separate
        self.lease = lease

    def __repr__(self) -> str:
        return "Sweeper()"

    # --- selecting due items --------------------------------------------------------------------

    def _due(self, now: datetime, target_id: str | None, actions: Collection[str] | None) -> Any:
        condition = and_(RetentionItem.state == "pending", RetentionItem.due_at.is_not(None), RetentionItem.due_at <= now)
        if target_id is not None:
            separated = select(SeparatedItem.id).where(SeparatedItem.origin_id == target_id)
            linked = records_repository.ids_of_subject_query(target_id)
            condition = and_(
                condition,
                or_(
                    RetentionItem.target_id == target_id,
                    and_(RetentionItem.kind == "separated", RetentionItem.target_id.in_(separated)),
                    and_(RetentionItem.kind == "record", RetentionItem.target_id.in_(linked)),
                ),
            )
        if actions is not None:
            condition = and_(condition, RetentionItem.action.in_(list(actions)))
        return condition

    def _take_over_stale(self, now: datetime) -> int:
        """Claims older than the lease (a run killed outright) go back to pending."""
        with session_scope(self._engine, write=True) as session:
            result = session.execute(
                update(RetentionItem)
                .where(RetentionItem.state == "claimed", RetentionItem.claimed_at < now - self.lease)
                .values(state="pending", claim=None, claimed_at=None)
                .execution_options(synchronize_session=False)
            )
            taken = int(getattr(result, "rowcount", 0) or 0)
        if taken:
            log.warning("sweep: took over %d item(s) claimed by a run that stopped more than %s ago", taken, self.lease)
        return taken

    def _leases(self, report: SweepReport) -> None:
        """Count the items another run holds, and when the last of its leases runs out."""
        with session_scope(self._engine) as session:
            count, newest = session.execute(
                select(func.count(), func.max(RetentionItem.claimed_at)).where(RetentionItem.state == "claimed")
            ).one()
        report.leased = int(count or 0)
        report.leased_until = newest + self.lease if newest is not None else None
        if report.leased:
            log.info("sweep: %d item(s) are claimed by another run until %s", report.leased, report.leased_until)

    def _claim(
        self, token: str, now: datetime, cursor: tuple[datetime, int] | None, batch_size: int, condition: Any
    ) -> list[Claimed]:
        """Claim the next batch in (due_at, id) order after ``cursor``: an index range scan on
        ``(state, due_at, id)`` that stops at ``batch_size`` rows, skipping rows other runs lock."""
        stmt = select(RetentionItem.id).where(condition)
        if cursor is not None:
            stmt = stmt.where(
                tuple_(RetentionItem.due_at, RetentionItem.id)
                > tuple_(literal(cursor[0], RetentionItem.due_at.type), literal(cursor[1], RetentionItem.id.type))
            )
        with session_scope(self._engine, write=True) as session:
            ids = list(
                session.connection().scalars(
                    stmt.order_by(RetentionItem.due_at, RetentionItem.id)
                    .limit(batch_size)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return []
            # claimed and read back in one statement, as rows (the session holds no RetentionItem:
            # nothing to synchronise, and no objects to build)
            rows = _CLAIM.rows(session.connection(), {"ids": ids, "token": token, "now": now})
            return sorted((Claimed(*row) for row in rows), key=lambda item: (item.due_at, item.id))

    def _release(self, token: str) -> int:
        with session_scope(self._engine, write=True) as session:
            result = session.execute(
                update(RetentionItem)
                .where(RetentionItem.claim == token, RetentionItem.state == "claimed")
                .values(state="pending", claim=None, claimed_at=None)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    # --- the run --------------------------------------------------------------------------------

    def sweep(
        self,
        *,
        batch_size: int = 500,
        dry_run: bool = False,
        progress: Progress | None = None,
        target_id: str | None = None,
        actions: Collection[str] | None = None,
    ) -> SweepReport:
        """Apply every item due now (or only those of ``target_id``: a subject with its
        separated data and records, or a record; or only ``actions``). ``dry_run`` lists what
        would be done and changes nothing. ``progress(done, total)`` is called after each batch;
        an exception from it stops the run, leaving a state the next run completes."""
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise InvalidInputError("batch_size", f"must be an integer from 1 to {MAX_BATCH_SIZE}")
        now = self._clock.now()
        report = SweepReport(now=now, dry_run=dry_run)
        condition = self._due(now, target_id, actions)
        if dry_run:
            self._leases(report)
            return self._plan(report, condition)
        self._service.ensure_applied()
        self._take_over_stale(now)
        self._leases(report)
        with session_scope(self._engine, write=True) as session:
            self._service.sync_records(session)
        with session_scope(self._engine) as session:
            report.due = int(session.scalar(select(func.count()).select_from(RetentionItem).where(condition)) or 0)
        token = secrets.token_hex(16)
        cursor: tuple[datetime, int] | None = None
        try:
            while True:
                claimed = self._claim(token, now, cursor, batch_size, condition)
                if not claimed:
                    break
                last = claimed[-1]
                assert last.due_at is not None
                cursor = (last.due_at, last.id)
                results = self._apply(claimed, now, report)
                self._finish(token, claimed, results, now)
                report.batches += 1
                if progress is not None:
                    progress(report.applied + report.held + report.failed, max(report.due, report.applied))
        finally:
            released = self._release(token)
            if released:
                log.warning("sweep stopped with %d claimed item(s) unfinished: released for the next run", released)
        if report.applied or report.held or report.failed:
            self._audit.append(
                "retention.sweep",
                detail={
                    "due": report.due,
                    "applied": report.applied,
                    "held": report.held,
                    "failed": report.failed,
                    **{f"n_{k}": v for k, v in sorted(report.outcomes.items())},
                },
            )
        log.info("sweep: %d applied, %d held, %d failed", report.applied, report.held, report.failed)
        return report

    def _plan(self, report: SweepReport, condition: Any) -> SweepReport:
        with session_scope(self._engine, write=True) as session:
            self._service.ensure_applied(session)
            self._service.sync_records(session)
            rows = list(session.scalars(select(RetentionItem).where(condition).order_by(RetentionItem.id)))
            held = self._service.held_items(session, [(r.id, r.kind, r.target_id) for r in rows], report.now)
            for row in rows:
                report.due += 1
                if row.id in held:
                    report.held += 1
                    report.count(row.category, "held")
                    continue
                report.count(row.category, row.action)
                if len(report.planned) < 1000:
                    report.planned.append(
                        {
                            "item_id": row.id,
                            "kind": row.kind,
                            "target_id": row.target_id,
                            "category": row.category,
                            "action": row.action,
                            "due_at": row.due_at.isoformat() if row.due_at else None,
                        }
                    )
            session.rollback()
        return report

    def _finish(self, token: str, claimed: Sequence[Claimed], results: dict[int, _Result], now: datetime) -> None:
        """Record how each claimed item ended, one UPDATE per (state, outcome) group (per item for
        a reschedule), each only where this run's claim still holds."""
        groups: dict[tuple[str, str | None], list[int]] = {}
        reschedules: list[dict[str, Any]] = []
        for item in claimed:
            result = results.get(item.id) or _Result("release", "unapplied")
            if result.state == "reschedule" and result.plan is not None:
                stage, trigger_at, due_at, action = result.plan
                reschedules.append({"id": item.id, "token": token, "outcome": result.outcome, "stage": stage,
                                    "trigger_at": trigger_at, "due_at": due_at, "action": action, "now": now})
            else:
                state = result.state if result.state in ("done", "review") else "pending"
                groups.setdefault((state, result.outcome), []).append(item.id)
        with session_scope(self._engine, write=True) as session:
            # Core statements on the session's connection: nothing of the ORM's is loaded or kept
            connection = session.connection()
            for (state, outcome), ids in groups.items():
                for batch in id_batches(ids):
                    params = {"ids": batch, "token": token, "outcome": outcome, "now": now}
                    if state == "done":
                        _FINISH_DONE.run(connection, params)
                    else:
                        _FINISH.run(connection, {**params, "state": state})
            _RESCHEDULE.run_many(connection, reschedules)

    # --- applying -------------------------------------------------------------------------------

    def _apply(self, claimed: Sequence[Claimed], now: datetime, report: SweepReport) -> dict[int, _Result]:
        results: dict[int, _Result] = {}
        with session_scope(self._engine) as session:
            held = self._service.held_items(session, [(i.id, i.kind, i.target_id) for i in claimed], now)
        live = []
        for item in claimed:
            if item.id in held:
                results[item.id] = _Result("release", "held")
                report.held += 1
                report.count(item.category, "held")
            else:
                live.append(item)
        groups: dict[str, list[Claimed]] = {}
        for item in live:
            if item.kind == "subject_category" and item.action in ("shred_subject", "restrict", "separate"):
                groups.setdefault("subject", []).append(item)
            elif item.action == "review":
                groups.setdefault("review", []).append(item)
            elif item.kind == "record" and item.action == "delete_record":
                groups.setdefault("delete_record", []).append(item)
            elif item.kind == "record" and item.action == "restrict":
                groups.setdefault("restrict_record", []).append(item)
            elif item.kind == "separated":
                groups.setdefault("separated", []).append(item)
            else:
                groups.setdefault("unknown", []).append(item)
        handlers: dict[str, Callable[[list[Claimed], datetime], dict[int, _Result]]] = {
            "subject": self._apply_subjects,
            "review": self._apply_reviews,
            "delete_record": self._apply_record_deletions,
            "restrict_record": self._apply_record_restrictions,
            "separated": self._apply_separated,
            "unknown": lambda items, _now: {i.id: _Result("release", "unknown_action") for i in items},
        }
        for name, items in groups.items():
            try:
                results.update(handlers[name](items, now))
            except Exception as exc:  # noqa: BLE001 - one failing group must not stop the others; retried next run
                log.error("sweep: %d %s item(s) failed (%s)", len(items), name, type(exc).__name__)
                for item in items:
                    results[item.id] = _Result("release", "error")
        for item in live:
            result = results.get(item.id)
            if result is None or result.state == "release":
                report.failed += 1
                report.count(item.category, "failed")
            else:
                report.applied += 1
                report.count(item.category, result.outcome or result.state)
        return results

    def _apply_reviews(self, items: list[Claimed], now: datetime) -> dict[int, _Result]:
        with session_scope(self._engine, write=True) as session:
            for item in items:
                self._audit.append(
                    "retention.review_due",
                    targets=[item.target_id],
                    detail={"item": item.id, "category": item.category, "kind": item.kind},
                    session=session,
                )
        return {i.id: _Result("review", "review_due") for i in items}

    def _apply_separated(self, items: list[Claimed], now: datetime) -> dict[int, _Result]:
        self._separate.destroy_many([i.target_id for i in items], reason_code="retention")
        return {i.id: _Result("done", "destroyed") for i in items}

    def _apply_record_restrictions(self, items: list[Claimed], now: datetime) -> dict[int, _Result]:
        policies = self._service.policies
        results: dict[int, _Result] = {}
        with session_scope(self._engine, write=True) as session:
            present = records_repository.present(session, [i.target_id for i in items])
            for item in items:
                if item.target_id not in present:
                    results[item.id] = _Result("done", "gone")
                    continue
                policy = policies[item.category]
                self._separate.restrict_record(session, item.target_id, now)
                period = policy.restricted_period
                due = policies.due(policy, now, period) if period is not None else None
                results[item.id] = _Result("reschedule", "restricted", ("restricted_period", now, due, "delete_record"))
                self._audit.append(
                    "retention.restrict",
                    targets=[item.target_id],
                    detail={"category": item.category, "kind": "record"},
                    session=session,
                )
        return results

    def _apply_record_deletions(self, items: list[Claimed], now: datetime) -> dict[int, _Result]:
        deleted = self.delete_records([i.target_id for i in items], reason_code="retention")
        return {i.id: _Result("done", "deleted" if i.target_id in deleted else "gone") for i in items}

    def delete_records(self, record_ids: Collection[str], *, reason_code: str) -> set[str]:
        """Delete records for good: their own keys (key store), then their text, pseudonyms,
        restrictions, events and rows; each audited as ``record.delete``. Returns the ids that
        existed. (Holds are the caller's business.)"""
        ids = list(dict.fromkeys(record_ids))
        if not ids:
            return set()
        with session_scope(self._engine) as session:
            rows = records_repository.own_keys(session, ids)
        with session_scope(self._keys.engine, write=True) as key_session:
            for record_id in ids:
                self._keys.destroy_record_key(key_session, record_id)
        with session_scope(self._engine, write=True) as session:
            categories = records_repository.categories(session, ids)
            # the session holds none of these rows as objects: nothing to synchronise
            unsynchronised = {"synchronize_session": False}
            session.execute(
                delete(ProcessingRestriction).where(
                    ProcessingRestriction.target_kind == "record", one_of(ProcessingRestriction.target_id, ids)
                ),
                execution_options=unsynchronised,
            )
            session.execute(
                delete(RetentionEvent).where(
                    RetentionEvent.target_kind == "record", one_of(RetentionEvent.target_id, ids)
                ),
                execution_options=unsynchronised,
            )
            records_repository.delete_records(session, ids)  # text, pseudonyms, rows
            for record_id in ids:
                if record_id in categories:
                    self._audit.append(
                        "record.delete",
                        targets=[record_id],
                        detail={"reason": reason_code, "category": categories[record_id]},
                        session=session,
                    )
        checkpoint_sqlite(self._keys.engine)
        checkpoint_sqlite(self._engine)
        return set(rows)

    # --- subjects -------------------------------------------------------------------------------

    def _apply_subjects(self, items: list[Claimed], now: datetime) -> dict[int, _Result]:
        by_subject: dict[str, list[Claimed]] = {}
        for item in items:
            by_subject.setdefault(item.target_id, []).append(item)
        ids = list(by_subject)
        with session_scope(self._engine) as session:
            present = subjects_repository.present(session, ids)
            fields = self._service.subject_fields(session, present)
            categories = self._service.category_fields(session, present)
            others: dict[str, set[str]] = {sid: set() for sid in present}
            claimed_ids = {i.id for i in items}
            # by target id only (its index), the state is checked here
            connection = session.connection()
            for batch in id_batches(present):
                for sid, code, item_id, kind, state in _SUBJECT_ITEMS.rows(connection, {"ids": batch}):
                    if kind == "subject_category" and state != "done" and item_id not in claimed_ids:
                        others[sid].add(code)
            events = self._service.trigger_events(session, "subject", present)
            policies = self._service.policies
            per_entry = [sid for sid in present if any(
                (p := policies.get(i.category)) is not None and p.per_entry for i in by_subject[sid])]
            times = subjects_repository.field_times(session, per_entry) if per_entry else {}
        results: dict[int, _Result] = {}
        reschedule: dict[int, tuple[str, datetime | None, datetime | None, str]] = {}
        whole: list[str] = []
        partial: dict[str, set[str]] = {}
        for sid, due in by_subject.items():
            if sid not in present:
                for item in due:
                    results[item.id] = _Result("done", "gone")
                continue
            all_fields = fields[sid]
            cats = categories[sid]

            def resolve(code: str, sid_fields: set[str] = all_fields, sid_cats: dict[str, set[str]] = cats) -> set[str]:
                names = sid_cats.get(code, set())
                return set(sid_fields) if "*" in names else names & sid_fields

            protected: set[str] = set()
            for code in others[sid]:
                protected |= resolve(code)
            moved: dict[int, str] = {}
            destroy: set[str] = set()
            for item in due:
                names = resolve(item.category)
                policy = policies.get(item.category)
                if policy is not None and policy.per_entry and item.action == "shred_subject":
                    # only the entries whose own period has run; the item goes on with the rest
                    names, plan = self._expired_entries(policy, names, times.get(sid, {}), events.get(sid, {}), now)
                    reschedule[item.id] = plan
                if item.action in ("separate", "restrict"):
                    latest = None
                    if policy is not None and policy.per_entry:  # kept until its newest entry's period has run
                        collected = events.get(sid, {}).get("collected")
                        known = [t for n in names if (t := times.get(sid, {}).get(n) or collected) is not None]
                        latest = max(known) if known else None
                    moved[item.id] = self._move(sid, item, names, events.get(sid, {}), now, latest)
                destroy |= names
            destroy -= protected
            if not all_fields - destroy:
                whole.append(sid)
                fate = "shredded"
            elif destroy:
                partial[sid] = destroy
                fate = "fields_deleted"
            else:
                fate = "kept"
            for item in due:
                if item.id in reschedule and fate != "shredded":
                    results[item.id] = _Result("reschedule", fate, reschedule[item.id])
                else:
                    results[item.id] = _Result("done", moved.get(item.id, fate))
        if whole:
            reason = "retention"
            self._subjects.shred_many(whole, reason)
        for sid, names in partial.items():
            self._subjects.update(sid, dict.fromkeys(sorted(names)))
        return results

    def _expired_entries(
        self, policy: Policy, names: set[str], times: Mapping[str, datetime | None], events: Mapping[str, datetime],
        now: datetime,
    ) -> tuple[set[str], tuple[str, datetime | None, datetime | None, str]]:
        """Of a per-entry category's fields, those whose own period has run (each from its value's
        collection), and the item's next plan: due with the oldest entry left, or waiting for
        entries (ENTRIES) when none is left."""
        policies_due = self._service.policies.due
        expired: set[str] = set()
        left: list[datetime] = []
        for name in names:
            collected = times.get(name) or events.get("collected")
            if collected is None:
                continue
            if policies_due(policy, collected) <= now:
                expired.add(name)
            else:
                left.append(collected)
        if not left:
            return expired, (ENTRIES, None, None, policy.action)
        oldest = min(left)
        return expired, ("period", oldest, policies_due(policy, oldest), policy.action)

    def _move(
        self, subject_id: str, item: Claimed, names: set[str], events: dict[str, datetime], now: datetime,
        latest_entry: datetime | None = None,
    ) -> str:
        """Move one category of a subject to separate storage (once: a retry after a crash finds
        the item made by the first attempt). Returns the outcome. ``latest_entry``: a per-entry
        category's newest entry, which its period in separate storage runs from."""
        policies = self._service.policies
        policy = policies[item.category]
        if item.action == "separate":
            reason = "withdrawal"
            trigger = latest_entry or events.get(policy.trigger) or item.trigger_at or now
            stage = "period"
            due = policies.due(policy, trigger) if policy.enabled else None
        else:
            reason = "retention"
            trigger, stage = now, "restricted_period"
            period = policy.restricted_period
            due = policies.due(policy, now, period) if period is not None else None
        if due is not None and due <= now:
            return "expired"
        if not names:
            return "separated" if item.action == "separate" else "restricted"
        with session_scope(self._engine) as session:
            existing = session.scalar(
                select(SeparatedItem.id).where(
                    SeparatedItem.origin_id == subject_id,
                    SeparatedItem.category == item.category,
                    SeparatedItem.reason_code == reason,
                )
            )
        if existing is None:
            self._separate.move(subject_id, item.category, sorted(names), reason_code=reason, trigger_at=trigger,
                                due_at=due, stage=stage)
        return "separated" if item.action == "separate" else "restricted"

