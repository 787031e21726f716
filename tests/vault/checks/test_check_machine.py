"""Ban checks against a model, driven by a Hypothesis state machine on SQLite and PostgreSQL.

Rules create records (one at a time, or through the bulk import) over a small pool of identifiers (variants that normalize alike, digit and
letter look-alikes, NAT64 and IPv4-mapped forms of one address, two addresses of one IPv6 /64),
in two domains, some linked to a subject; change their status, severity and expiry; revoke them;
restrict, lift and shred their subjects; move the clock; run retention (which must never delete
a record that still matches); rotate the lookup key. Checks and
batches of checks are compared with a model written from the documented rules (docs/api.md, "Ban
checks"): a record matches while it is active or under review, unexpired, of the check's domain
and its subject is not restricted; an identifier of the same kind matches ``exact`` when its
normal form is equal, else ``lookalike`` when its confusable skeleton is; an exact hit hides the
look-alike hit of the same stored identifier; each hit is decided by the policy, one match per
record and match type, strongest first; the decision is the strongest.

Every check is answered three ways, each compared with the model: by a vault with the check miss
filter on (misses answered in process; its own bans added before they commit), by a second vault
over the same stores without the filter (another process's view: lookup keys refreshed after a
rotation), and on PostgreSQL also through the asyncio path the API server uses (``finish_async``).
Each example works in domains of its own, so the records of earlier examples never match.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, precondition, rule
from machine_support import run_machine

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.checks.decisions import Decision, strongest
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError
from pseudovault.vault.identifiers import NormalizedIdentifier
from pseudovault.vault.records.bulk import import_records
from pseudovault.vault.records.validation import normalize_identifiers
from pseudovault.vault.vault import RecordsConfig, Vault

if TYPE_CHECKING:
    from conftest import StoreUrls

POOL: dict[str, list[str]] = {
    "email": ["johnny@example.com", "Johnny@EXAMPLE.com", "j0hnny@example.com", "JOHNNY@example.com",
              "g00gle@example.com", "google@example.com", "minji.kim@example.org"],
    "phone": ["+82 10-1234-5678", "010-1234-5678", "010-9876-5432"],
    "ip": ["192.0.2.1", "64:ff9b::192.0.2.1", "::ffff:192.0.2.1", "192.0.2.2", "2001:db8::1",
           "2001:db8::2", "2001:db8:0:1::1"],
    "device_id": ["dev-1", "DEV-1", "0123456789ABCDEF", "0123456789abcdef", "dev-2"],
    "account_id": ["user_1", "user_l", "USER_1", "admin"],
}
PAIRS = [(kind, value) for kind, values in POOL.items() for value in values]
CATEGORIES = ["fraudulent_transaction", "unauthorized_registration", "bad_usage_rejoin", "rejoin_restriction"]
SEVERITIES = ["low", "medium", "high", "critical"]
LIVE = ("active", "under_review")
#: lookup-key rotations per example (each enabled version is one more pseudonym per candidate)
MAX_ROTATIONS = 2
_DECISION_RANK = {"allow": 0, "review": 1, "deny": 2}
_SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}

signups = st.lists(st.sampled_from(PAIRS), min_size=1, max_size=3)
sides = st.sampled_from(["a", "b"])  # the example's two domains


@dataclass
class ModelRecord:
    pairs: list[tuple[str, str]]  # as the record was made with them
    items: list[NormalizedIdentifier]
    category: str
    severity: str
    domain: str
    subject_id: str | None
    status: str = "active"
    expires_at: datetime | None = None


@dataclass
class Model:
    records: dict[str, ModelRecord] = field(default_factory=dict)
    restricted: set[str] = field(default_factory=set)


_examples = itertools.count()
NO_RECORD = "00000000-0000-4000-8000-000000000000"  # what a refused create leaves in the bundle


class CheckMachine(RuleBasedStateMachine):
    vault: Vault  # the miss filter on
    fresh: Vault  # the same stores, no filter
    clock: FrozenClock
    loop: asyncio.AbstractEventLoop | None  # PostgreSQL: the asyncio path

    subjects = Bundle("subjects")
    records = Bundle("records")

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.prefix = f"m{next(_examples)}"
        self.shredded: set[str] = set()
        self.stored: list[tuple[str, str]] = []  # the identifiers records of this example were made with
        self.rotations = 0
        self.imports = 0
        for info in self.vault.lookup.versions():  # each example starts with its primary version alone
            if info.status == "enabled" and not info.primary:
                self.vault.lookup.disable(info.version)
        self.fresh.lookup.refresh()

    def _domain(self, side: str) -> str:
        return f"{self.prefix}{side}"

    def _live(self, record: ModelRecord, domain: str, now: datetime) -> bool:
        return (
            record.domain == domain
            and record.status in LIVE
            and (record.expires_at is None or record.expires_at > now)
            and (record.subject_id is None or record.subject_id not in self.model.restricted)
        )

    def _expected(self, pairs: list[tuple[str, str]], domain: str) -> dict[str, Any]:
        items = normalize_identifiers(self.vault.normalizer, pairs)
        policy = self.vault.checks.policy
        now = self.clock.now()
        groups: dict[tuple[str, str], tuple[ModelRecord, set[str], list[str]]] = {}
        for record_id, record in self.model.records.items():
            if not self._live(record, domain, now):
                continue
            for stored in record.items:
                same_kind = [item for item in items if item.kind == stored.kind]
                exact = [item for item in same_kind if item.value == stored.value]
                alike = [
                    item for item in same_kind
                    if stored.skeleton is not None and item.skeleton == stored.skeleton and item.value != stored.value
                ]
                for match, hits in (("exact", exact), ("lookalike", [] if exact else alike)):
                    for item in hits:
                        entry = groups.setdefault((record_id, match), (record, set(), []))
                        entry[1].add(item.kind)
                        entry[2].append(policy.decide(
                            record.category, item.kind, record.severity, match, under_review=record.status == "under_review"
                        ))
        matches = []
        for (record_id, match), (record, kinds, decisions) in groups.items():
            decision = strongest(decisions)
            matches.append((
                (-_DECISION_RANK[decision], -_SEVERITY_RANK[record.severity], record_id, match != "exact"),
                decision,
                {
                    "record_id": record_id, "category": record.category, "reason_code": "fraud",
                    "severity": record.severity, "status": record.status, "matched_kinds": sorted(kinds), "match": match,
                },
            ))
        matches.sort(key=lambda m: m[0])
        return {
            "decision": strongest(m[1] for m in matches),
            "matches": [m[2] for m in matches],
            "checked_kinds": sorted({item.kind for item in items}),
        }

    @staticmethod
    def _plain(decision: Decision) -> dict[str, Any]:
        out = dict(decision.as_dict())
        out["matches"] = [dict(m, matched_kinds=list(m["matched_kinds"])) for m in out["matches"]]
        out["checked_kinds"] = list(out["checked_kinds"])
        return out

    def _answers(self, pairs: list[tuple[str, str]], domain: str) -> list[tuple[str, dict[str, Any]]]:
        answers = [
            ("filtered", self._plain(self.vault.checks.check(pairs, domain=domain))),
            ("fresh", self._plain(self.fresh.checks.check(pairs, domain=domain))),
        ]
        if self.loop is not None:
            checks = self.vault.checks
            decision = self.loop.run_until_complete(checks.finish_async(checks.prepare(pairs, domain=domain)))
            answers.append(("async", self._plain(decision)))
        return answers

    def _record(self, record_id: str) -> ModelRecord | None:
        return self.model.records.get(record_id)

    def _sync(self, record_id: str) -> None:
        """The model's status and expiry of ``record_id`` from the vault's view (the vault clamps
        an expiry to the category's period; the model takes what it stored)."""
        view = self.vault.records.get(record_id)
        record = self.model.records[record_id]
        record.status, record.expires_at, record.severity = view.status, view.expires_at, view.severity

    # --- rules ------------------------------------------------------------------------------------

    @rule(target=subjects)
    def add_subject(self) -> str:
        return self.vault.subjects.create({"name": "Kim Minji"})

    @rule(
        target=records,
        pairs=st.lists(st.sampled_from(PAIRS), min_size=1, max_size=3, unique=True),
        category=st.sampled_from(CATEGORIES),
        severity=st.sampled_from(SEVERITIES),
        side=sides,
        days=st.none() | st.integers(min_value=1, max_value=400),
        subject=st.one_of(st.none(), subjects, subjects),  # mostly linked: restrictions and shreds reach them
    )
    def create_record(
        self, pairs: list[tuple[str, str]], category: str, severity: str, side: str, days: int | None, subject: str | None
    ) -> str:
        now = self.clock.now()
        expires_at = None if days is None else now + timedelta(days=days)
        period = self.vault.records.catalogue.for_record(category)
        limit = None if period.waits_for_event else period.expires_at(now)
        too_late = expires_at is not None and limit is not None and expires_at > limit
        try:
            record_id = self.vault.records.create(
                pairs, category=category, reason_code="fraud", severity=severity, domain=self._domain(side),
                expires_at=expires_at, subject_id=subject,
            )
        except InvalidInputError as refused:
            assert too_late and refused.field == "expires_at", refused
            return NO_RECORD
        except NotFoundError:
            assert subject in self.shredded
            return NO_RECORD
        assert not too_late and subject not in self.shredded
        self.stored.extend(pairs)
        items = normalize_identifiers(self.vault.normalizer, pairs)
        self.model.records[record_id] = ModelRecord(pairs, items, category, severity, self._domain(side), subject)
        self._sync(record_id)
        return record_id

    @rule(
        pairs=st.lists(st.sampled_from(PAIRS), min_size=1, max_size=3, unique=True),
        category=st.sampled_from(CATEGORIES),
        severity=st.sampled_from(SEVERITIES),
        side=sides,
        days=st.none() | st.integers(min_value=1, max_value=400),
    )
    def import_record(
        self, pairs: list[tuple[str, str]], category: str, severity: str, side: str, days: int | None
    ) -> None:
        """The same record through the bulk import (its own normalization and row writer)."""
        now = self.clock.now()
        row: dict[str, Any] = {
            "identifiers": [{"kind": kind, "value": value} for kind, value in pairs],
            "category": category, "reason_code": "fraud", "severity": severity,
        }
        if days is not None:
            row["expires_at"] = (now + timedelta(days=days)).isoformat()
        period = self.vault.records.catalogue.for_record(category)
        limit = None if period.waits_for_event else period.expires_at(now)
        too_late = days is not None and limit is not None and now + timedelta(days=days) > limit
        domain = self._domain(side)
        before = self._listed(domain)
        self.imports += 1
        report = import_records(
            self.vault.records, io.StringIO(json.dumps(row) + "\n"), format="jsonl", domain=domain,
            import_id=f"{self.prefix}-{self.imports}",
        )
        assert (report.imported, report.rejected) == ((0, 1) if too_late else (1, 0)), report.as_dict()
        if too_late:
            return
        (record_id,) = self._listed(domain) - before
        items = normalize_identifiers(self.vault.normalizer, pairs)
        self.model.records[record_id] = ModelRecord(pairs, items, category, severity, domain, None)
        self._sync(record_id)
        self.stored.extend(pairs)

    def _listed(self, domain: str) -> set[str]:
        return {view.record_id for view in self.vault.records.list(domain=domain, limit=1000).items}

    def _change(self, record_id: str, change: Callable[[], object]) -> None:
        """Run a status change of ``record_id``: refused only for a record that does not exist
        (NotFoundError) or no longer changes (ConflictError: revoked or expired)."""
        record = self._record(record_id)
        try:
            change()
        except NotFoundError:
            assert record is None
            return
        except ConflictError:
            assert record is not None and not self._changeable(record)
            return
        assert record is not None
        self._sync(record_id)

    @rule(record_id=records, status=st.sampled_from(LIVE))
    def set_status(self, record_id: str, status: str) -> None:
        self._change(record_id, lambda: self.vault.records.set_status(record_id, status, reason_code="reviewed"))

    @rule(record_id=records)
    def revoke(self, record_id: str) -> None:
        self._change(record_id, lambda: self.vault.records.revoke(record_id, reason_code="appeal"))

    @rule(record_id=records, severity=st.none() | st.sampled_from(SEVERITIES), days=st.none() | st.integers(1, 800))
    def update(self, record_id: str, severity: str | None, days: int | None) -> None:
        if severity is None and days is None:
            return
        record = self._record(record_id)
        expires_at = None if days is None else self.clock.now() + timedelta(days=days)
        try:
            self.vault.records.update(record_id, severity=severity, expires_at=expires_at)
        except NotFoundError:
            assert record is None
            return
        except (ConflictError, InvalidInputError):
            assert record is not None
            return
        assert record is not None
        self._sync(record_id)

    def _changeable(self, record: ModelRecord) -> bool:
        return record.status in LIVE and (record.expires_at is None or record.expires_at > self.clock.now())

    @rule(subject=subjects)
    def restrict(self, subject: str) -> None:
        try:
            self.vault.rights.restrict_processing(subject)
        except NotFoundError:
            assert subject in self.shredded
            return
        self.model.restricted.add(subject)

    @rule(record_id=records)
    def restrict_a_record_subject(self, record_id: str) -> None:
        """Restrict the processing of a record's subject (its record then stops matching)."""
        record = self._record(record_id)
        if record is not None and record.subject_id is not None:
            self.restrict(record.subject_id)

    @rule(subject=subjects)
    def lift(self, subject: str) -> None:
        self.vault.rights.lift_restriction(subject)
        self.model.restricted.discard(subject)

    @rule(subject=subjects)
    def shred(self, subject: str) -> None:
        self.vault.subjects.shred(subject)
        self.shredded.add(subject)
        for record in self.model.records.values():  # the bans stay; their link to the subject goes
            if record.subject_id == subject:
                record.subject_id = None

    @rule(days=st.one_of(st.integers(min_value=1, max_value=30), st.integers(min_value=31, max_value=500)))
    def advance(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))

    @rule()
    def sweep(self) -> None:
        """Run retention: it may delete records whose period ended, never one that still matches."""
        now = self.clock.now()
        matching = {rid for rid, record in self.model.records.items() if self._changeable(record)}
        self.vault.retention.sweeper.sweep()
        for record_id, record in list(self.model.records.items()):
            try:
                view = self.vault.records.get(record_id)
            except NotFoundError:
                assert record_id not in matching, "a sweep deleted a ban that still matched"
                del self.model.records[record_id]
                continue
            if view.subject_id != record.subject_id:  # the subject's own period ended: shredded
                assert view.subject_id is None and record.subject_id is not None
                self.shredded.add(record.subject_id)
                record.subject_id = None
            record.status, record.expires_at, record.severity = view.status, view.expires_at, view.severity
        assert self.clock.now() == now

    @precondition(lambda self: self.rotations < MAX_ROTATIONS)
    @rule()
    def rotate_lookup_key(self) -> None:
        self.vault.lookup.rotate(promote=True)
        self.rotations += 1
        self.fresh.lookup.refresh()

    def _signup(self, data: Any) -> list[tuple[str, str]]:
        """1 to 3 identifiers from the pool, often one that a record of this example stored (or a
        variant of it: the pool's values of one kind normalize alike or look alike)."""
        pairs: list[tuple[str, str]] = data.draw(signups)
        if self.stored and data.draw(st.integers(min_value=0, max_value=3)):
            pairs[0] = data.draw(st.sampled_from(self.stored))
        return pairs

    @rule(data=st.data(), side=sides)
    def check(self, data: Any, side: str) -> None:
        self.check_pairs(self._signup(data), self._domain(side))

    def check_pairs(self, pairs: list[tuple[str, str]], domain: str) -> None:
        expected = self._expected(pairs, domain)
        for name, answer in self._answers(pairs, domain):
            assert answer == expected, name

    @rule(record_id=records)
    def check_a_record(self, record_id: str) -> None:
        """A signup with a record's own identifiers, in its domain: a hit while the record is live."""
        record = self._record(record_id)
        if record is not None:
            self.check_pairs(record.pairs, record.domain)

    @rule(data=st.data(), size=st.integers(min_value=1, max_value=4), side=sides)
    def check_batch(self, data: Any, size: int, side: str) -> None:
        batch = [self._signup(data) for _ in range(size)]
        domain = self._domain(side)
        expected = [self._expected(pairs, domain) for pairs in batch]
        for vault in (self.vault, self.fresh):
            assert [self._plain(d) for d in vault.checks.check_batch(batch, domain=domain)] == expected


def _run(store_urls: StoreUrls, *, max_examples: int, steps: int) -> None:
    clock = FrozenClock()
    provider = FakeKmsProvider(now=clock.now())
    loop = asyncio.new_event_loop() if store_urls.backend == "postgres" else None
    try:
        with (
            Vault.create(
                provider, store_urls.data, store_urls.keys, clock=clock, records_config=RecordsConfig(miss_filter=60.0)
            ) as vault,
            Vault.open(provider, store_urls.data, store_urls.keys, clock=clock) as fresh,
        ):
            miss_filter = vault.checks.miss_filter
            assert miss_filter is not None and miss_filter.wait_ready(60), "the miss filter did not build"

            class Machine(CheckMachine):
                pass

            Machine.vault, Machine.fresh, Machine.clock, Machine.loop = vault, fresh, clock, loop
            run_machine(Machine, max_examples=max_examples, steps=steps)
    finally:
        if loop is not None:
            loop.close()


def test_checks_follow_the_model_sqlite(sqlite_urls: StoreUrls) -> None:
    _run(sqlite_urls, max_examples=150, steps=30)


@pytest.mark.postgres
def test_checks_follow_the_model_postgres(postgres_urls: StoreUrls) -> None:
    _run(postgres_urls, max_examples=40, steps=25)
