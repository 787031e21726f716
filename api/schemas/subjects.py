"""Request and response bodies of the subjects endpoints (:mod:`api.routers.subjects`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from pseudovault.api.schemas.common import PastTimestamp, RequestModel, ResponseModel
from pseudovault.vault.retention.views import ItemView
from pseudovault.vault.store.base import AUDIT_PURPOSE_LENGTH
from pseudovault.vault.subjects.service import MAX_FIELDS, MAX_VALUE_BYTES

__all__ = ["FIELD_NAME_PATTERN", "FieldName", "FieldValue", "Purpose", "CategoryCode", "MAX_CATEGORIES", "Event", "CategoryFields", "SubjectCreate", "SubjectCreated", "RevealRequest", "RevealedFields", "FieldVerifyRequest", "FieldVerifyResult", "SubjectUpdate", "SubjectUpdated", "ShredReceipt", "SubjectSummary", "SubjectPage", "CategorizeRequest", "SubjectCategories", "EventRequest", "EventPreviewRequest", "RetentionItemOut", "RetentionItems", "EventEffectOut", "EventPreviewOut"]


FIELD_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


FieldName = Annotated[str, StringConstraints(pattern=FIELD_NAME_PATTERN)]


FieldValue = Annotated[str, StringConstraints(min_length=1, max_length=MAX_VALUE_BYTES)]


Purpose = Annotated[str, StringConstraints(min_length=1, max_length=AUDIT_PURPOSE_LENGTH, pattern=r"\S")]


CategoryCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


#: at most this many categories in one request (the catalogue has fewer)
MAX_CATEGORIES = 64


#: the earliest time an event may be recorded at: earlier ones are typing errors, and times near
#: year 1 would overflow in the calendar arithmetic of due dates
#: the trigger events a retention period can run from (vault.retention.policies.TRIGGERS)
Event = Literal[
    "collected", "withdrawal", "contract_end", "payment", "complaint_closed", "last_activity", "fraud_confirmed"
]


_EXAMPLE_ID = "0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10"


_CATEGORIES_DESCRIPTION = (
    "Data category code or alias of the retention policies in force (e.g. `member_data` or "
    "`member`, `payment_supply` or `payment`) -> null for every field of the subject, or the names "
    "of the fields it covers. Categories of anti-abuse records are refused (422)."
)


_CATEGORIES_EXAMPLE = {"member": None, "payment": ["order_ref", "amount"]}


#: a category's field names: at least one (null covers every field)
CategoryFields = Annotated[list[FieldName], Field(min_length=1, max_length=MAX_FIELDS)]


class SubjectCreate(RequestModel):
    fields: dict[FieldName, FieldValue] = Field(
        max_length=MAX_FIELDS,
        description="Field names (lower case, digits, underscores) to values (UTF-8 text of at most "
        f"{MAX_VALUE_BYTES} bytes). Each value is encrypted under the subject's own key.",
        examples=[{"email": "kim@example.com", "name": "Kim Minji"}],
    )
    categories: dict[CategoryCode, CategoryFields | None] | None = Field(
        None,
        min_length=1,
        max_length=MAX_CATEGORIES,
        description=_CATEGORIES_DESCRIPTION + " Validated before the subject is created: an unknown "
        "category creates nothing.",
        examples=[_CATEGORIES_EXAMPLE],
    )


class SubjectCreated(ResponseModel):
    subject_id: str = Field(examples=[_EXAMPLE_ID])


class RevealRequest(RequestModel):
    purpose: Purpose = Field(
        description="Why the PII is revealed. Recorded in the audit log as given: state a case or "
        "ticket, never personal data.",
        examples=["chargeback dispute, case 4411"],
    )
    fields: list[FieldName] | None = Field(
        None,
        max_length=MAX_FIELDS,
        description="Only these fields (those the subject has); all of them when absent.",
        examples=[["email"]],
    )


class RevealedFields(ResponseModel):
    subject_id: str = Field(examples=[_EXAMPLE_ID])
    fields: dict[str, str] = Field(examples=[{"email": "kim@example.com"}])


class FieldVerifyRequest(RequestModel):
    field: FieldName = Field(description="A one-way field (PSEUDOVAULT_ONE_WAY_FIELDS), e.g. `password`.",
                             examples=["password"])
    value: FieldValue = Field(description="The value to check against its stored hash. Never stored or logged.",
                              examples=["correct horse battery staple"])


class FieldVerifyResult(ResponseModel):
    subject_id: str = Field(examples=[_EXAMPLE_ID])
    field: str = Field(examples=["password"])
    match: bool = Field(description="Whether the value matches; false as well when the subject has no such field.")


class SubjectUpdate(RequestModel):
    fields: dict[FieldName, FieldValue | None] = Field(
        min_length=1,
        max_length=MAX_FIELDS,
        description="Fields to set (added if new); null deletes a field.",
        examples=[{"phone": "010-1234-5678", "name": None}],
    )


class SubjectUpdated(ResponseModel):
    subject_id: str = Field(examples=[_EXAMPLE_ID])
    fields_set: list[str] = Field(examples=[["phone"]])
    fields_deleted: list[str] = Field(examples=[["name"]])


class ShredReceipt(ResponseModel):
    subject_id: str = Field(examples=[_EXAMPLE_ID])
    shredded_at: datetime
    already: bool = Field(description="True when the subject had been shredded before this request.")


class SubjectSummary(ResponseModel):
    subject_id: str
    created_at: datetime
    updated_at: datetime
    fields: list[str] = Field(description="Field names only; values are never listed.")


class SubjectPage(ResponseModel):
    items: list[SubjectSummary]
    next_cursor: str | None = Field(description="Pass as `after` for the next page; null on the last page.")


class CategorizeRequest(RequestModel):
    categories: dict[CategoryCode, CategoryFields | None] = Field(
        min_length=1,
        max_length=MAX_CATEGORIES,
        description=_CATEGORIES_DESCRIPTION + " Added to the categories the subject has.",
        examples=[_CATEGORIES_EXAMPLE],
    )


class SubjectCategories(ResponseModel):
    subject_id: str = Field(examples=[_EXAMPLE_ID])
    categories: dict[str, list[str]] = Field(
        description="Category code -> the field names it covers (`[\"*\"]`: every field).",
        examples=[{"member_data": ["*"], "payment_supply": ["amount", "order_ref"]}],
    )


class EventRequest(RequestModel):
    event: Event = Field(description="The trigger event that happened.", examples=["withdrawal"])
    at: PastTimestamp | None = Field(
        None,
        description="When it happened (ISO 8601 with a UTC offset; not in the future, not before 1970); "
        "now when absent. Recording an event again replaces its time: the latest occurrence counts.",
        examples=["2026-01-15T10:00:00Z"],
    )
    confirm: bool = Field(
        False,
        description="Record it although it makes data due for destruction at once (a backdated event, "
        "usually; see the preview). Without it such an event is a 409 `event_destroys_data`, whose body "
        "lists the items in `due_now`, and nothing is recorded.",
    )


class EventPreviewRequest(RequestModel):
    event: Event = Field(description="The trigger event to preview.", examples=["withdrawal"])
    at: PastTimestamp | None = Field(
        None, description="When it happened (as for recording it); now when absent.", examples=["2024-06-01T00:00:00Z"]
    )


class RetentionItemOut(ResponseModel):
    """One stored due date: what, of which category, due when, to undergo which action."""

    item_id: int
    kind: Literal["subject_category", "record", "separated"] = Field(
        description="A category of a subject, a record, or a separated item (its `target_id`)."
    )
    target_id: str
    category: str
    stage: str = Field(description="Which period runs: `period`, `withdrawal`, `restricted_period`, `ceiling`, "
                       "`entries` (a per-entry log holding no entry: the next one schedules it), ...")
    trigger_at: datetime | None = Field(description="When the event the period runs from happened.")
    due_at: datetime | None = Field(description="When the action is due (null: not scheduled yet).")
    action: str = Field(description="shred_subject, delete_record, restrict, review, separate or destroy.")
    state: Literal["pending", "claimed", "review", "done"]
    outcome: str | None = Field(description="How it ended (or was last applied), e.g. `separated`, `shredded`.")
    done_at: datetime | None


class RetentionItems(ResponseModel):
    items: list[RetentionItemOut]

    @classmethod
    def of_views(cls, views: list[ItemView]) -> RetentionItems:
        return cls(items=[RetentionItemOut.of(v) for v in views])


class EventEffectOut(ResponseModel):
    """An item the event makes due at once, and what follows for it."""

    item_id: int
    kind: Literal["subject_category", "record", "separated"]
    target_id: str
    category: str
    action: str
    due_at: datetime
    effect: Literal["destroy", "separate", "restrict", "review"] = Field(
        description="`destroy`: shredded or deleted (by the next sweep; a withdrawal's move to separate storage "
        "whose own period has already run destroys the data with the event itself); `separate`: moved to "
        "separate storage; `restrict`: restricted; `review`: put up for review."
    )


class EventPreviewOut(ResponseModel):
    """What recording the event would do; nothing was changed."""

    target_kind: Literal["subject", "record"]
    target_id: str
    event: str
    at: datetime
    destroys: bool = Field(description="Whether recording it needs `confirm`: it makes data due for destruction at once.")
    items: list[RetentionItemOut] = Field(description="The target's retention items as they would be.")
    due_now: list[EventEffectOut]
