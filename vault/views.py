"""Views: what the domain's services give back, and their one JSON form.

A view is a frozen dataclass of ids, codes, counts and timestamps (never PII unless its name says
so, e.g. :class:`vault.records.views.RecordText`, whose repr hides it). :meth:`View.as_dict` is the
only place a view becomes JSON values, for the CLI's ``--json``, the API's response models and the
audit detail alike::

    datetime, date      ISO 8601 text (``isoformat``), None stays None
    bytes               lower-case hex
    a View              its as_dict()
    tuple, list         a list, each item converted
    set, frozenset      a sorted list
    Mapping             a dict, each value converted
    Enum                its value
    anything else       as it is (str, int, float, bool, None)

Every dataclass field is included, in declaration order, except a field declared with
``field(metadata=HIDDEN)`` (kept for the domain, not shown) and one declared with
``field(metadata=OMIT_IF_NONE)`` while it is None. A view adds or replaces entries (a count, a
flag, a value in another form) by overriding :meth:`View.extra`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any

__all__ = ["HIDDEN", "OMIT_IF_NONE", "View", "to_json"]

#: field metadata: leave the field out of as_dict() while it is None
OMIT_IF_NONE: Mapping[str, bool] = {"omit_if_none": True}
#: field metadata: never in as_dict()
HIDDEN: Mapping[str, bool] = {"hidden": True}


def to_json(value: Any) -> Any:
    """``value`` as JSON values, by the rules of this module."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, View):
        return value.as_dict()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(to_json(item) for item in value)
    if isinstance(value, (tuple, list)):
        return [to_json(item) for item in value]
    raise TypeError(f"a view cannot show a {type(value).__name__}")


class View:
    """The base of the domain's views; a subclass is a dataclass (frozen, unless it is a report
    filled in as work proceeds)."""

    __slots__ = ()

    def as_dict(self) -> dict[str, Any]:
        extra = self.extra()
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]  # every subclass is a dataclass
            if field.name in extra:  # replaced, in its place
                out[field.name] = to_json(extra[field.name])
                continue
            value = getattr(self, field.name)
            if field.metadata.get("hidden") or (value is None and field.metadata.get("omit_if_none")):
                continue
            out[field.name] = to_json(value)
        for key, value in extra.items():
            if key not in out:
                out[key] = to_json(value)
        return out

    def extra(self) -> Mapping[str, Any]:
        """Entries computed from the fields, added to (or replacing ones of) :meth:`as_dict`."""
        return {}
