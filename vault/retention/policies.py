"""Retention policies: one per data category, in a TOML file the operator edits.

The shipped presets (``vault/retention/presets.toml``) are the category catalogue: the codes,
names and catalogue attributes (``for_records``, ``default_reason_code``, ``aliases``,
``optional``, ``repealed``) and the default policy of every category. :mod:`vault.retention.categories`
(what fraud records validate against) is built from them, so a period or a legal basis is written
in one place only. An operator's file (``PSEUDOVAULT_RETENTION_POLICIES``) replaces the policies
of the categories it names, each table complete; the categories it does not name keep their
preset. It cannot add a category or change a catalogue attribute.

File format::

    version = 1                 # optional; 1 is the only version
    timezone = "Asia/Seoul"     # optional, default "UTC": the zone in which days are counted

    [policies.payment_supply]
    name = "Records of payment and supply of goods"        # optional in an operator's file
    period = "5y"               # vault.retention.periods grammar; omitted only with action review
    trigger = "payment"         # the event the period runs from (TRIGGERS)
    basis = "Act on Consumer Protection in Electronic Commerce, Art. 6"    # required, one line
    action = "shred_subject"    # at expiry: shred_subject | delete_record | restrict | review
    enabled = true              # optional, default true; a disabled policy schedules nothing
    on_withdrawal = "separate"  # optional: keep (default) | separate (move to separate storage)
    on_erasure = "retain"       # optional: destroy (default) | retain (kept until its expiry)
    review_interval = "1y"      # with action review: how often it is reviewed again
    restricted_period = "4y"    # with action restrict: how long separated data is kept
    note = "..."                # optional, shown in listings

Rules checked at load, each failure a :class:`PolicyFileError` naming the file, the line and the
reason (nothing is loaded): valid TOML; known top-level and policy keys; a known category code;
periods in the grammar (no negative, zero or unreadable period); a trigger, an action and a
non-empty basis present; the action fits the category (anti-abuse record categories
(``for_records``) take delete_record, restrict or review; the others shred_subject, restrict or
review); ``restricted_period`` exactly with restrict, ``review_interval`` exactly with review;
``on_withdrawal = "separate"`` only for subjects' data. Semantic errors are located by finding
the key (or the policy's table header) in the source text: write one ``[policies.<code>]``
table per policy (dotted keys work too; inline tables are reported at their first line).

A :class:`PolicySet` has a ``fingerprint`` (SHA-256 of its canonical JSON) so the vault can tell
whether stored expiry dates were computed under the policies in force (vault.retention.service).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.ids import CODE as _CODE
from pseudovault.vault.retention.categories import CategoryCatalogue
from pseudovault.vault.retention.periods import Period, due_at, parse_period
from pseudovault.vault.views import HIDDEN, OMIT_IF_NONE, View

__all__ = ["ACTIONS", "PRESETS_SOURCE", "Policy", "PolicyFileError", "PolicySet", "RECORD_ACTIONS", "SUBJECT_ACTIONS"]


#: what happens at expiry
ACTIONS = ("shred_subject", "delete_record", "restrict", "review")


SUBJECT_ACTIONS = ("shred_subject", "restrict", "review")


RECORD_ACTIONS = ("delete_record", "restrict", "review")


ON_WITHDRAWAL = ("keep", "separate")


ON_ERASURE = ("destroy", "retain")


PRESETS_SOURCE = "presets"


class PolicyFileError(InvalidInputError):
    """A policy file that cannot be loaded: ``source`` (its path), ``line`` (1-based, or None
    when the problem has no line, such as an unreadable file) and ``reason``."""

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        super().__init__(f"{source}:{line}" if line is not None else source, reason)
        self.source = source
        self.line = line


@dataclass(frozen=True)
class Policy(View):
    """The retention policy of one category. ``line`` is where it was defined (not compared)."""

    category: str
    name: str
    period: Period | None
    trigger: str
    basis: str
    action: str
    enabled: bool = True
    on_withdrawal: str = "keep"
    on_erasure: str = "destroy"
    review_interval: Period | None = None
    restricted_period: Period | None = None
    for_records: bool = False
    default_reason_code: str | None = None
    aliases: tuple[str, ...] = ()
    optional: bool = False
    repealed: date | None = None
    note: str | None = None
    #: how long data may wait for its starting event: when the event never comes, the period runs
    #: from collection (the subject's or the record's creation) for this long instead
    ceiling: Period | None = field(default=None, metadata=OMIT_IF_NONE)
    #: a log kept per entry: each field's value runs its period from its own collection (True),
    #: not the category from the subject's (None: absent from the fingerprint when unused)
    per_entry: bool | None = field(default=None, metadata=OMIT_IF_NONE)
    line: int | None = field(default=None, compare=False, metadata=HIDDEN)

    def first_period(self) -> Period:
        """The period from the trigger to the first due date: ``period``, or for a review without
        one, ``review_interval``."""
        period = self.period or self.review_interval
        assert period is not None  # guaranteed at load
        return period

    def extra(self) -> Mapping[str, Any]:
        shown: dict[str, Any] = {
            "period": self.period.short() if self.period else None,
            "review_interval": self.review_interval.short() if self.review_interval else None,
            "restricted_period": self.restricted_period.short() if self.restricted_period else None,
        }
        if self.ceiling is not None:  # absent otherwise: a set without ceilings keeps its fingerprint
            shown["ceiling"] = self.ceiling.short()
        return shown


class PolicySet:
    """The policies in force, by category code; read-only."""

    def __init__(self, policies: Mapping[str, Policy], *, timezone: str = "UTC", source: str = PRESETS_SOURCE) -> None:
        self._policies = MappingProxyType(dict(policies))
        self._aliases = MappingProxyType({alias: p.category for p in policies.values() for alias in p.aliases})
        self.timezone = timezone
        self.zone: tzinfo = ZoneInfo(timezone)
        self.source = source
        canonical = json.dumps(
            {"timezone": timezone, "policies": [self._policies[c].as_dict() for c in sorted(self._policies)]},
            sort_keys=True,
            separators=(",", ":"),
        )
        self.fingerprint = hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicySet:
        """The set :meth:`as_dict` wrote (as stored with the due dates computed under it)."""

        def period(value: str | None) -> Period | None:
            return parse_period(value) if value else None

        policies = {
            p["category"]: Policy(
                category=p["category"],
                name=p["name"],
                period=period(p["period"]),
                trigger=p["trigger"],
                basis=p["basis"],
                action=p["action"],
                enabled=p["enabled"],
                on_withdrawal=p["on_withdrawal"],
                on_erasure=p["on_erasure"],
                review_interval=period(p["review_interval"]),
                restricted_period=period(p["restricted_period"]),
                for_records=p["for_records"],
                default_reason_code=p["default_reason_code"],
                aliases=tuple(p["aliases"]),
                optional=p["optional"],
                repealed=date.fromisoformat(p["repealed"]) if p["repealed"] else None,
                note=p["note"],
                ceiling=period(p.get("ceiling")),
                per_entry=p.get("per_entry"),
            )
            for p in data["policies"]
        }
        return cls(policies, timezone=data["timezone"], source=data["source"])

    def __iter__(self) -> Iterator[Policy]:
        return iter(self._policies.values())

    def __len__(self) -> int:
        return len(self._policies)

    def __contains__(self, code: object) -> bool:
        return code in self._policies

    def __getitem__(self, code: str) -> Policy:
        return self._policies[code]

    def get(self, code: str) -> Policy | None:
        return self._policies.get(code)

    def codes(self) -> tuple[str, ...]:
        return tuple(self._policies)

    def resolve(self, code: object, field: str = "category") -> Policy:
        """The policy of the category ``code`` (or one of its aliases); InvalidInputError otherwise."""
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            raise InvalidInputError(field, "must be a category code, e.g. member_data")
        policy = self._policies.get(self._aliases.get(code, code))
        if policy is None:
            raise InvalidInputError(field, f"unknown category {code!r}; one of: {', '.join(self.codes())}")
        return policy

    def due(self, policy: Policy, event_at: datetime, period: Period | None = None) -> datetime:
        """When data of ``policy`` whose clock started at ``event_at`` is due (see periods.due_at)."""
        return due_at(event_at, period or policy.first_period(), self.zone)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "timezone": self.timezone,
            "fingerprint": self.fingerprint,
            "policies": [p.as_dict() for p in self._policies.values()],
        }

    def catalogue_entries(self) -> tuple[Mapping[str, Any], ...]:
        """The categories as :mod:`vault.retention.categories` reads them (its ``PRESETS`` shape)."""
        return tuple(
            MappingProxyType(
                {
                    "code": p.category,
                    "name": p.name,
                    "retention": p.period.iso() if p.period else None,
                    "starts_from": p.trigger,
                    "legal_basis": p.basis,
                    "review_interval": p.review_interval.iso() if p.review_interval else None,
                    "for_records": p.for_records,
                    "default_reason_code": p.default_reason_code,
                    "optional": p.optional,
                    "note": p.note,
                }
            )
            for p in self._policies.values()
        )

    def catalogue(self) -> CategoryCatalogue:
        """The category catalogue of fraud records under these policies."""
        return CategoryCatalogue(self.catalogue_entries())

    def __repr__(self) -> str:
        return f"PolicySet({len(self)} policies, source={self.source!r})"


_PART = r"""(?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*')"""


_HEADER = re.compile(rf"\[\s*({_PART}(?:\s*\.\s*{_PART})*)\s*\]\s*(?:#.*)?")


_KEY = re.compile(rf"({_PART}(?:\s*\.\s*{_PART})*)\s*=")


_SPLIT = re.compile(r""""([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+)""")
