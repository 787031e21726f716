"""What the record service gives back: the vocabulary of a record (statuses, severities, text fields,
limits) and its views. Views hold ids, codes, timestamps and pseudonyms; only :class:`RecordText`
holds decrypted text, and its repr does not show it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn, cast

from pseudovault.keys.secrets import SecretBytes
from pseudovault.vault.errors import ConflictError
from pseudovault.vault.views import OMIT_IF_NONE, View

__all__ = [
    "DuplicateRecordError",
    "LIVE_STATUSES",
    "MAX_BATCH",
    "MAX_IDENTIFIERS",
    "MAX_LIST_LIMIT",
    "MAX_TEXT_BYTES",
    "PreparedRecord",
    "RecordPage",
    "RecordText",
    "RecordView",
    "SCHEMA_VERSION",
    "SEVERITIES",
    "STATUSES",
    "TEXT_FIELDS",
    "effective_status",
]


SCHEMA_VERSION = 1


STATUSES = ("active", "under_review", "revoked", "expired")


SEVERITIES = ("low", "medium", "high", "critical")


LIVE_STATUSES = ("active", "under_review")


TEXT_FIELDS = ("reason", "evidence", "notes")


MAX_IDENTIFIERS = 64


MAX_TEXT_BYTES = 64 * 1024


MAX_LIST_LIMIT = 1000


MAX_BATCH = 10_000


class DuplicateRecordError(ConflictError):
    """A record with this ``external_ref`` exists already: ``record_id`` is that record's id."""

    def __init__(self, record_id: str) -> None:
        super().__init__(f"a record with this external_ref exists already: {record_id}")
        self.record_id = record_id


def effective_status(stored: str, expires_at: datetime | None, now: datetime) -> str:
    """``expired`` for a live record past ``expires_at``, else the stored status."""
    if stored in LIVE_STATUSES and expires_at is not None and expires_at <= now:
        return "expired"
    return stored


@dataclass(frozen=True)
class RecordView(View):
    """A record without its text: codes, timestamps, identifier kinds and counts.

    ``identifier_kinds`` maps each kind to how many identifiers of it the record has;
    ``pseudonyms`` is None unless asked for (``include_pseudonyms=True``), then one entry per
    stored pseudonym with the bytes in hex.
    """

    record_id: str
    domain: str
    category: str
    reason_code: str
    severity: str
    status: str
    status_reason_code: str | None
    source: str
    external_ref: str | None
    subject_id: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    review_at: datetime | None
    text_fields: tuple[str, ...]
    identifier_kinds: Mapping[str, int]
    lookup_versions: tuple[int, ...]
    pseudonyms: tuple[Mapping[str, Any], ...] | None = field(default=None, metadata=OMIT_IF_NONE)

    @property
    def identifiers(self) -> int:
        """How many identifiers the record has, of every kind."""
        return sum(self.identifier_kinds.values())

    def extra(self) -> Mapping[str, Any]:
        return {"identifiers": self.identifiers}


@dataclass(frozen=True, repr=False)
class RecordText(View):
    """A record's decrypted text. ``available`` is False when it has none (never had any, or it
    was shredded with its subject); every field is then None. The repr shows no text."""

    record_id: str
    reason: str | None
    evidence: str | None
    notes: str | None
    available: bool

    def __repr__(self) -> str:
        present = [name for name in TEXT_FIELDS if getattr(self, name) is not None]
        return f"RecordText(record_id={self.record_id!r}, fields={present})"

    __str__ = __repr__


@dataclass(frozen=True)
class RecordPage(View):
    """One page of :meth:`RecordService.list`; pass ``next_after`` as ``after`` for the next."""

    items: tuple[RecordView, ...]
    next_after: str | None


@dataclass(frozen=True, repr=False, eq=False)
class PreparedRecord:
    """A validated record ready to insert (see :meth:`RecordService.prepare`); nothing written yet.

    It holds ciphertexts, pseudonyms and, for a record with its own key, the unwrapped data key:
    keep it in memory only, briefly. The repr shows the id only.
    """

    record_id: str
    row: Mapping[str, Any]
    fields: tuple[Mapping[str, Any], ...]
    identifiers: tuple[Mapping[str, Any], ...]
    own_key: SecretBytes | None = field(default=None)

    @property
    def external_ref(self) -> str | None:
        return cast("str | None", self.row["external_ref"])

    @property
    def subject_id(self) -> str | None:
        return cast("str | None", self.row["subject_id"])

    def __repr__(self) -> str:
        return f"PreparedRecord(record_id={self.record_id!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("PreparedRecord cannot be pickled")
