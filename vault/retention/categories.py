"""Retention categories: how long a kind of data is kept, from which event, under which legal basis.

The catalogue is data, not code, and it is written in one place: :data:`PRESETS` are the shipped
retention presets (``vault/retention/presets.toml``, read by :mod:`vault.retention.policy_file`),
the same file that holds each category's period, trigger event and legal basis for retention. An
operator's policy file gives a vault its own catalogue (``PolicySet.catalogue()``), so records
follow the periods in force. Nothing else in the vault branches on a category's code; it asks the
catalogue.

Periods follow :mod:`vault.retention.periods` (``P5Y``, ``P3M``, ``P1Y6M``, or ``5y``, ``3mo``);
they are added in calendar terms (:func:`add_period`): one month after January 31 is the last day
of February, one year after February 29 is February 28.

A category with ``retention = None`` is kept without an end date and re-reviewed every
``review_interval`` instead (``rejoin_restriction``). ``for_records`` says whether anti-abuse
records (vault.records) may carry the category; the others describe subjects' data and logs.
``default_reason_code`` is the reason code a record gets when none is given (the CLI's default).

The presets are the categories of the privacy policies the project grew from (Korean law):
contract and withdrawal records 5 years, payment and supply records 5 years, consumer
complaints 3 years (E-Commerce Consumer Protection Act); access logs 3 months (Protection of
Communications Secrets Act); unauthorized registration and use 6 months, fraudulent transactions
3 years, bad-usage rejoin records 1 year, member data 1 year after withdrawal (internal policy);
rejoin restrictions without end date, reviewed yearly; dormant accounts (optional: repealed 2023).
Records may use ``unauthorized_registration``, ``fraudulent_transaction``, ``bad_usage_rejoin``
and ``rejoin_restriction``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.ids import CODE
from pseudovault.vault.retention.periods import Period, add_period, parse_period
from pseudovault.vault.views import View

__all__ = [
    "CEILING",
    "ENTRIES",
    "FROM_CREATION",
    "Period",
    "Category",
    "CategoryCatalogue",
    "TRIGGERS",
    "add_period",
    "parse_period",
]

_CODE = CODE

#: the events a retention period can run from
TRIGGERS = (
    "collected",
    "withdrawal",
    "contract_end",
    "payment",
    "complaint_closed",
    "last_activity",
    "fraud_confirmed",
)
_EVENTS = frozenset(TRIGGERS)
#: the events a record's period runs from its own creation when they were never recorded: its
#: collection (a fraud record is collected when the fraud is found). A period that runs from any
#: other event (a withdrawal, a contract's end) waits for it.
FROM_CREATION = frozenset({"collected", "fraud_confirmed"})

#: the stage of an item whose starting event has not come: due at its policy's ceiling after
#: collection (``trigger_at`` is the collection time); the event, when it comes, replaces it
CEILING = "ceiling"

#: the stage of a per-entry category's item while the subject holds none of its entries: it
#: stays pending (never done) and the next entry stored schedules it again
ENTRIES = "entries"


@dataclass(frozen=True)
class Category(View):
    """One retention category. ``retention`` None means "no end date, reviewed every ``review_interval``"."""

    code: str
    name: str
    retention: Period | None
    starts_from: str
    legal_basis: str
    review_interval: Period | None = None
    for_records: bool = False
    default_reason_code: str | None = None
    optional: bool = False
    note: str | None = None

    def expires_at(self, start: datetime) -> datetime | None:
        """When data of this category collected (or whose starting event happened) at ``start`` expires."""
        return None if self.retention is None else add_period(start, self.retention)

    @property
    def waits_for_event(self) -> bool:
        """Whether the period runs from an event other than collection (so nothing created now
        has an end date until that event is recorded)."""
        return self.starts_from not in FROM_CREATION

    def review_at(self, start: datetime) -> datetime | None:
        """When data kept without an end date is next reviewed, or None."""
        return None if self.review_interval is None else add_period(start, self.review_interval)

    def extra(self) -> Mapping[str, Any]:
        return {
            "retention": self.retention.iso() if self.retention else None,
            "review_interval": self.review_interval.iso() if self.review_interval else None,
        }


def _category(entry: Mapping[str, Any]) -> Category:
    known = {
        "code",
        "name",
        "retention",
        "starts_from",
        "legal_basis",
        "review_interval",
        "for_records",
        "default_reason_code",
        "optional",
        "note",
    }
    unknown = set(entry) - known
    if unknown:
        raise ValueError(f"unknown category key(s): {', '.join(sorted(unknown))}")
    code = entry.get("code")
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise ValueError("a category code must match [a-z][a-z0-9_]{0,39}")
    retention = entry.get("retention")
    review = entry.get("review_interval")
    category = Category(
        code=code,
        name=str(entry.get("name") or code),
        retention=None if retention is None else parse_period(retention),
        starts_from=str(entry.get("starts_from", "collection")),
        legal_basis=str(entry.get("legal_basis", "")),
        review_interval=None if review is None else parse_period(review),
        for_records=bool(entry.get("for_records", False)),
        default_reason_code=entry.get("default_reason_code"),
        optional=bool(entry.get("optional", False)),
        note=entry.get("note"),
    )
    if category.starts_from not in _EVENTS:
        raise ValueError(f"category {code}: starts_from must be one of {', '.join(sorted(_EVENTS))}")
    if not category.legal_basis:
        raise ValueError(f"category {code}: a legal basis is required")
    if category.retention is None and category.review_interval is None:
        raise ValueError(f"category {code}: without a retention period it needs a review interval")
    if category.default_reason_code is not None and not _CODE.fullmatch(str(category.default_reason_code)):
        raise ValueError(f"category {code}: default_reason_code must match [a-z][a-z0-9_]{{0,39}}")
    return category


class CategoryCatalogue:
    """The categories by code; read-only once built."""

    def __init__(self, entries: tuple[Mapping[str, Any], ...] | list[Mapping[str, Any]]) -> None:
        categories: dict[str, Category] = {}
        for entry in entries:
            category = _category(entry)
            if category.code in categories:
                raise ValueError(f"category {category.code} is defined twice")
            categories[category.code] = category
        self._categories = MappingProxyType(categories)

    def __iter__(self) -> Iterator[Category]:
        return iter(self._categories.values())

    def __len__(self) -> int:
        return len(self._categories)

    def __contains__(self, code: object) -> bool:
        return code in self._categories

    def get(self, code: str) -> Category | None:
        return self._categories.get(code)

    def codes(self) -> tuple[str, ...]:
        return tuple(self._categories)

    def record_codes(self) -> tuple[str, ...]:
        """The codes anti-abuse records may use."""
        return tuple(c.code for c in self._categories.values() if c.for_records)

    def for_record(self, code: object, field: str = "category") -> Category:
        """The category ``code`` if records may use it; InvalidInputError naming why not otherwise."""
        allowed = ", ".join(self.record_codes())
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            raise InvalidInputError(field, f"must be a category code, one of: {allowed}")
        category = self._categories.get(code)
        if category is None:
            raise InvalidInputError(field, f"unknown category {code!r}; records use one of: {allowed}")
        if not category.for_records:
            raise InvalidInputError(
                field,
                f"category {code!r} describes {category.name.lower()}, not an anti-abuse record; "
                f"records use one of: {allowed}",
            )
        return category

    def __repr__(self) -> str:
        return f"CategoryCatalogue({len(self)} categories)"
