"""The API's request and response bodies, generated from its OpenAPI description by
tools/regenerate.py (datamodel-code-generator): do not edit."""
# ruff: noqa

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pseudovault_client._model import Model
from pydantic import AwareDatetime, ConfigDict, Field, RootModel, StringConstraints
from typing_extensions import TypeAliasType


class AccessExport(Model):
    """
    Everything the vault holds about a subject, decrypted.
    """

    model_config = ConfigDict(
        extra='allow',
    )
    subject_id: Annotated[str, Field(title='Subject Id')]
    exported_at: Annotated[AwareDatetime, Field(title='Exported At')]
    fields: Annotated[dict[str, str], Field(title='Fields')]
    """
    The subject's fields, decrypted.
    """
    categories: Annotated[list[ExportCategory], Field(title='Categories')]
    """
    Its data categories, with legal bases and due dates.
    """
    records: Annotated[list[ExportedRecord], Field(title='Records')]
    """
    The fraud records linked to it, with their decrypted text.
    """
    separate_storage: Annotated[list[ExportSeparated], Field(title='Separate Storage')]
    """
    What of it is kept apart under another law.
    """
    restrictions: Annotated[
        list[str], Field(examples=[['correction_pending']], title='Restrictions')
    ]
    """
    Restrictions of processing in force: `restriction_request`, `correction_pending`.
    """
    provisions: Annotated[list[ProvisionOut], Field(title='Provisions')]
    """
    Provisions of its data to third parties.
    """
    consents: Annotated[list[ConsentOut], Field(title='Consents')]
    """
    Its consents, in force and withdrawn.
    """
    requests: Annotated[list[RightsRequestOut], Field(title='Requests')]
    """
    Its requests, this one's access request included.
    """


class AccessExportRequest(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    subject_id: Annotated[
        UUID,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    """
    The subject whose data is exported.
    """
    purpose: Annotated[
        str,
        Field(
            examples=['access request REQ-2026-031'],
            max_length=200,
            min_length=1,
            pattern='\\S',
            title='Purpose',
        ),
    ]
    """
    Why the data is exported, recorded in the audit log as given: name the access request or ticket, never personal data.
    """
    request_id: Annotated[
        UUID | None,
        Field(examples=['3d9e7a41-6c2b-4f8e-a1d5-7b0c9e2f4a86'], title='Request Id'),
    ] = None
    """
    The access request this export completes (one of the subject's, of kind `access`, still open). When absent, every open access request of the subject is completed.
    """


class ApiKeyIssued(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    key_id: Annotated[str, Field(examples=['k3mzq7a2xb'], title='Key Id')]
    name: Annotated[str, Field(title='Name')]
    scopes: Annotated[list[str], Field(title='Scopes')]
    created_at: Annotated[AwareDatetime, Field(title='Created At')]
    last_used_at: Annotated[AwareDatetime | None, Field(title='Last Used At')]
    """
    Written at most once a minute.
    """
    expires_at: Annotated[AwareDatetime | None, Field(title='Expires At')]
    rotated_at: Annotated[AwareDatetime | None, Field(title='Rotated At')]
    previous_valid_until: Annotated[
        AwareDatetime | None, Field(title='Previous Valid Until')
    ]
    """
    After a rotation: until when the token it replaced is accepted.
    """
    revoked_at: Annotated[AwareDatetime | None, Field(title='Revoked At')]
    active: Annotated[bool, Field(title='Active')]
    """
    Not revoked and not expired.
    """
    token: Annotated[str, Field(title='Token')]
    """
    The token, shown this once: store it now. `Bearer <token>`.
    """


class ApiKeyList(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    items: Annotated[list[ApiKeyOut], Field(title='Items')]


class ApiKeyOut(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    key_id: Annotated[str, Field(examples=['k3mzq7a2xb'], title='Key Id')]
    name: Annotated[str, Field(title='Name')]
    scopes: Annotated[list[str], Field(title='Scopes')]
    created_at: Annotated[AwareDatetime, Field(title='Created At')]
    last_used_at: Annotated[AwareDatetime | None, Field(title='Last Used At')]
    """
    Written at most once a minute.
    """
    expires_at: Annotated[AwareDatetime | None, Field(title='Expires At')]
    rotated_at: Annotated[AwareDatetime | None, Field(title='Rotated At')]
    previous_valid_until: Annotated[
        AwareDatetime | None, Field(title='Previous Valid Until')
    ]
    """
    After a rotation: until when the token it replaced is accepted.
    """
    revoked_at: Annotated[AwareDatetime | None, Field(title='Revoked At')]
    active: Annotated[bool, Field(title='Active')]
    """
    Not revoked and not expired.
    """


class ApiKeyRotate(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    grace_seconds: Annotated[
        int, Field(examples=[86400], ge=0, le=2592000, title='Grace Seconds')
    ]
    """
    How long the token it replaces stays valid, for the service to switch over (0: refused at once). Required: a rotation that cuts a running service off should be a choice.
    """


class ApplyRequest(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    dry_run: Annotated[bool | None, Field(title='Dry Run')] = False
    """
    Show what would change; change nothing.
    """


class AuditEntry(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    seq: Annotated[int, Field(title='Seq')]
    at: Annotated[AwareDatetime, Field(title='At')]
    actor_kind: Annotated[str, Field(examples=['api_key'], title='Actor Kind')]
    actor_id: Annotated[str, Field(examples=['k3v7q2m4xa'], title='Actor Id')]
    action: Annotated[str, Field(examples=['subject.reveal'], title='Action')]
    targets: Annotated[list[str], Field(title='Targets')]
    purpose: Annotated[str | None, Field(title='Purpose')]
    outcome: Annotated[str, Field(examples=['ok'], title='Outcome')]
    client: Annotated[str | None, Field(title='Client')]
    """
    The client address of the request, when there was one.
    """
    detail: Annotated[
        dict[str, int | bool | str], Field(examples=[{'fields': 2}], title='Detail')
    ]
    prev_hash: Annotated[str, Field(title='Prev Hash')]
    entry_hash: Annotated[str, Field(title='Entry Hash')]


class AuditPage(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    items: Annotated[list[AuditEntry], Field(title='Items')]
    next_cursor: Annotated[int | None, Field(title='Next Cursor')]
    """
    Pass as `cursor` for the next page; null on the last page.
    """


class AwaitingGroup(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    category: Annotated[str, Field(title='Category')]
    trigger: Annotated[str, Field(examples=['payment'], title='Trigger')]
    """
    The event the period waits for.
    """
    items: Annotated[int, Field(title='Items')]
    """
    Items waiting for it (no due date, or only their ceiling or expiry).
    """
    under_ceiling: Annotated[int, Field(title='Under Ceiling')]
    """
    Of those, how many will go at the policy's ceiling if it never comes.
    """
    oldest: Annotated[AwareDatetime | None, Field(title='Oldest')]
    """
    When the data of the oldest of them was collected.
    """
    oldest_days: Annotated[int | None, Field(title='Oldest Days')]
    """
    How many days ago that was.
    """
    ceiling: Annotated[str | None, Field(title='Ceiling')]
    """
    The policy's ceiling (null: they may wait for ever).
    """


class Categories1Item(RootModel[str]):
    root: Annotated[str, Field(pattern='^[a-z][a-z0-9_]{0,63}$')]


class Categories1(RootModel[list[Categories1Item]]):
    root: Annotated[list[Categories1Item], Field(max_length=1000, min_length=1)]


class CategorizeRequest(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    categories: Annotated[
        dict[
            Annotated[str, StringConstraints(pattern=r'^[a-z][a-z0-9_]{0,39}$')],
            Categories | None,
        ],
        Field(
            examples=[{'payment': ['order_ref', 'amount']}],
            max_length=64,
            min_length=1,
            title='Categories',
        ),
    ]
    """
    Data category code or alias of the retention policies in force (e.g. `member_data` or `member`, `payment_supply` or `payment`) -> null for every field of the subject, or the names of the fields it covers. Categories of anti-abuse records are refused (422). Added to the categories the subject has.
    """


class Category(RootModel[str]):
    root: Annotated[str, Field(pattern='^[a-z][a-z0-9_]{0,63}$')]


class Categories(RootModel[list[Category]]):
    root: Annotated[list[Category], Field(max_length=1000, min_length=1)]


class ChangeCounts(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    earlier: Annotated[int, Field(title='Earlier')]
    later: Annotated[int, Field(title='Later')]
    scheduled: Annotated[int, Field(title='Scheduled')]
    unscheduled: Annotated[int, Field(title='Unscheduled')]
    action: Annotated[int, Field(title='Action')]
    due_now: Annotated[int, Field(title='Due Now')]
    """
    Items the change makes due at once: the next sweep destroys them.
    """


class CheckBatchRequest(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    signups: Annotated[
        list[Signup],
        Field(
            examples=[
                [
                    {'identifiers': [{'kind': 'email', 'value': 'user@example.com'}]},
                    {
                        'identifiers': [
                            {'kind': 'ip', 'value': '192.0.2.10'},
                            {'kind': 'device_id', 'value': 'dev-0001'},
                        ]
                    },
                ]
            ],
            max_length=1000,
            min_length=1,
            title='Signups',
        ),
    ]
    """
    Signups to check, each with its identifiers. At most `PSEUDOVAULT_CHECK_BATCH_MAX` signups and `PSEUDOVAULT_CHECK_BATCH_MAX_IDS` identifiers in all (defaults 1000 and 5000).
    """
    domain: Annotated[
        str | None,
        Field(
            examples=['default'], pattern='^[a-z0-9][a-z0-9_.:-]{0,63}$', title='Domain'
        ),
    ] = 'default'
    """
    The pseudonymisation domain (a tenant or a purpose) whose records are checked.
    """


class CheckBatchResponse(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    decisions: Annotated[list[CheckDecision], Field(title='Decisions')]
    """
    One decision per signup, in the order sent.
    """


class CheckDecision(Model):
    """
    The answer to one signup; a hit and a miss have the same shape.
    """

    model_config = ConfigDict(
        extra='allow',
    )
    decision: Annotated[Literal['allow', 'review', 'deny'], Field(title='Decision')]
    """
    The strongest decision over every match under the decision policy; `allow` when nothing matched.
    """
    matches: Annotated[list[CheckMatch], Field(title='Matches')]
    """
    Matched records, strongest first; empty for a miss.
    """
    checked_kinds: Annotated[list[str], Field(title='Checked Kinds')]
    """
    The identifier kinds that were checked.
    """


class CheckMatch(Model):
    """
    A record the check matched: codes and kinds, never an identifier.
    """

    model_config = ConfigDict(
        extra='allow',
    )
    record_id: Annotated[
        str, Field(examples=['6f1c2a9e-3b7d-4e8a-9c41-5d2f0b8e7a13'], title='Record Id')
    ]
    category: Annotated[
        str, Field(examples=['fraudulent_transaction'], title='Category')
    ]
    reason_code: Annotated[str, Field(examples=['chargeback'], title='Reason Code')]
    severity: Annotated[
        Literal['low', 'medium', 'high', 'critical'],
        Field(examples=['high'], title='Severity'),
    ]
    status: Annotated[
        Literal['active', 'under_review'], Field(examples=['active'], title='Status')
    ]
    matched_kinds: Annotated[
        list[str], Field(examples=[['email']], title='Matched Kinds')
    ]
    """
    The identifier kinds that matched.
    """
    match: Annotated[
        Literal['exact', 'lookalike'], Field(examples=['exact'], title='Match')
    ]
    """
    `exact`: the same normalized identifier; `lookalike`: the same confusable skeleton (a review signal, never more).
    """


class CheckRequest(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    identifiers: Annotated[
        list[Identifier],
        Field(
            examples=[
                [
                    {'kind': 'email', 'value': 'user@example.com'},
                    {'kind': 'phone', 'value': '+82 10-1234-5678'},
                ]
            ],
            max_length=64,
            min_length=1,
            title='Identifiers',
        ),
    ]
    """
    The new account's identifiers (1 to 64).
    """
    domain: Annotated[
        str | None,
        Field(
            examples=['default'], pattern='^[a-z0-9][a-z0-9_.:-]{0,63}$', title='Domain'
        ),
    ] = 'default'
    """
    The pseudonymisation domain (a tenant or a purpose) whose records are checked.
    """


class Checkpoint(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    seq: Annotated[int, Field(title='Seq')]
    entry_hash: Annotated[str, Field(title='Entry Hash')]
    signed_at: Annotated[AwareDatetime, Field(title='Signed At')]
    key_id: Annotated[str, Field(examples=['ed25519:3f9c0a1b2c3d4e5f'], title='Key Id')]
    signature: Annotated[str, Field(title='Signature')]
    """
    The Ed25519 signature, hex.
    """


class ConsentCreate(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    subject_id: Annotated[
        UUID,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    purpose: Annotated[
        str,
        Field(
            examples=['keep_after_withdrawal'],
            pattern='^[a-z][a-z0-9_]{0,39}$',
            title='Purpose',
        ),
    ]
    """
    What the consent is to, as a code.
    """
    text_version: Annotated[
        str,
        Field(
            examples=['privacy-2026-03'],
            pattern='^[A-Za-z0-9][A-Za-z0-9._:\\-]{0,63}$',
            title='Text Version',
        ),
    ]
    """
    The version of the consent text shown (never the text).
    """
    granted_at: Annotated[AwareDatetime | None, Field(title='Granted At')] = None
    """
    When it was given; now when absent.
    """


class ConsentList(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    items: Annotated[list[ConsentOut], Field(title='Items')]
    """
    Oldest first, withdrawn ones included.
    """


class ConsentOut(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    consent_id: Annotated[str, Field(title='Consent Id')]
    subject_id: Annotated[
        str,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    purpose: Annotated[str, Field(examples=['keep_after_withdrawal'], title='Purpose')]
    text_version: Annotated[
        str, Field(examples=['privacy-2026-03'], title='Text Version')
    ]
    granted_at: Annotated[AwareDatetime, Field(title='Granted At')]
    withdrawn_at: Annotated[AwareDatetime | None, Field(title='Withdrawn At')]
    active: Annotated[bool, Field(title='Active')]
    """
    Given and not withdrawn.
    """


class ConsentWithdraw(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    subject_id: Annotated[
        UUID,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    purpose: Annotated[
        str,
        Field(
            examples=['keep_after_withdrawal'],
            pattern='^[a-z][a-z0-9_]{0,39}$',
            title='Purpose',
        ),
    ]
    request_id: Annotated[UUID | None, Field(title='Request Id')] = None
    """
    The consent-withdrawal request this answers; absent: every open one of the subject.
    """
    withdrawn_at: Annotated[AwareDatetime | None, Field(title='Withdrawn At')] = None
    """
    When it was withdrawn; now when absent.
    """


class CorrectionComplete(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    fields: Annotated[
        dict[
            Annotated[str, StringConstraints(pattern=r'^[a-z][a-z0-9_]{0,63}$')],
            Fields | None,
        ],
        Field(
            examples=[{'email': 'minji.kim@example.com'}],
            max_length=1000,
            title='Fields',
        ),
    ]
    """
    The corrected fields: new values (a field the subject lacks is added), null deletes a field. Empty when the data turned out to be right (the request is closed as `confirmed`).
    """


class CorrectionReject(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    reason_code: Annotated[
        str | None,
        Field(
            examples=['not_inaccurate'],
            pattern='^[a-z][a-z0-9_]{0,39}$',
            title='Reason Code',
        ),
    ] = 'rejected'
    """
    Why the correction is refused (the outcome).
    """


class CorrectionResultOut(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    request_id: Annotated[
        str,
        Field(examples=['3d9e7a41-6c2b-4f8e-a1d5-7b0c9e2f4a86'], title='Request Id'),
    ]
    subject_id: Annotated[
        str,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    fields_changed: Annotated[
        list[str], Field(examples=[['email']], title='Fields Changed')
    ]
    """
    Names of the fields set or deleted (never values).
    """
    notify: Annotated[list[NotifyOut], Field(title='Notify')]
    """
    The provisions that included a corrected field, a category covering one, or `*`: the recipients to tell of the correction.
    """


class DeliveryList(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    enabled: Annotated[bool, Field(title='Enabled')]
    """
    Whether a webhook endpoint is configured.
    """
    items: Annotated[list[DeliveryOut], Field(title='Items')]
    """
    Newest first.
    """


class DeliveryOut(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    delivery_id: Annotated[str, Field(title='Delivery Id')]
    """
    Sent as the `Pseudovault-Delivery` header: receivers de-duplicate by it.
    """
    event: Annotated[str, Field(examples=['erasure.completed'], title='Event')]
    subject_id: Annotated[str, Field(title='Subject Id')]
    state: Annotated[Literal['pending', 'delivered', 'failed'], Field(title='State')]
    attempts: Annotated[int, Field(title='Attempts')]
    created_at: Annotated[AwareDatetime, Field(title='Created At')]
    next_attempt_at: Annotated[AwareDatetime | None, Field(title='Next Attempt At')]
    delivered_at: Annotated[AwareDatetime | None, Field(title='Delivered At')]
    last_status: Annotated[int | None, Field(title='Last Status')]
    """
    The endpoint's last HTTP status (null: no answer).
    """


class Epoch(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    epoch: Annotated[int, Field(title='Epoch')]
    kek_id: Annotated[str, Field(title='Kek Id')]
    status: Annotated[str, Field(title='Status')]
    current: Annotated[bool, Field(title='Current')]
    created_at: Annotated[AwareDatetime, Field(title='Created At')]
    destroyed_at: Annotated[AwareDatetime | None, Field(title='Destroyed At')]
    data_keys: Annotated[int, Field(title='Data Keys')]


class ErasureCreate(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    subject_id: Annotated[
        UUID,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    request_id: Annotated[
        RequestId | None, Field(examples=['DSR-2026-00017'], title='Request Id')
    ] = None
    """
    Idempotency key (a case or ticket id, never personal data): retrying with the same id returns the same receipt. A UUID is assigned when absent.
    """


class ErasureOut(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    request_id: Annotated[str, Field(examples=['DSR-2026-00017'], title='Request Id')]
    subject_id: Annotated[
        str,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    already: Annotated[bool, Field(title='Already')]
    """
    True when this answers with the receipt of an earlier request.
    """
    receipt: ReceiptDocument
    document: Annotated[str, Field(title='Document')]
    """
    The receipt file's exact text (canonical JSON and a newline): store it as is to verify it later; re-encoding the parsed receipt differently breaks the check.
    """


class EventEffectOut(Model):
    """
    An item the event makes due at once, and what follows for it.
    """

    model_config = ConfigDict(
        extra='allow',
    )
    item_id: Annotated[int, Field(title='Item Id')]
    kind: Annotated[
        Literal['subject_category', 'record', 'separated'], Field(title='Kind')
    ]
    target_id: Annotated[str, Field(title='Target Id')]
    category: Annotated[str, Field(title='Category')]
    action: Annotated[str, Field(title='Action')]
    due_at: Annotated[AwareDatetime, Field(title='Due At')]
    effect: Annotated[
        Literal['destroy', 'separate', 'restrict', 'review'], Field(title='Effect')
    ]
    """
    `destroy`: shredded or deleted (by the next sweep; a withdrawal's move to separate storage whose own period has already run destroys the data with the event itself); `separate`: moved to separate storage; `restrict`: restricted; `review`: put up for review.
    """


class EventPreviewOut(Model):
    """
    What recording the event would do; nothing was changed.
    """

    model_config = ConfigDict(
        extra='allow',
    )
    target_kind: Annotated[Literal['subject', 'record'], Field(title='Target Kind')]
    target_id: Annotated[str, Field(title='Target Id')]
    event: Annotated[str, Field(title='Event')]
    at: Annotated[AwareDatetime, Field(title='At')]
    destroys: Annotated[bool, Field(title='Destroys')]
    """
    Whether recording it needs `confirm`: it makes data due for destruction at once.
    """
    items: Annotated[list[RetentionItemOut], Field(title='Items')]
    """
    The target's retention items as they would be.
    """
    due_now: Annotated[list[EventEffectOut], Field(title='Due Now')]


class EventPreviewRequest(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    event: Annotated[
        Literal[
            'collected',
            'withdrawal',
            'contract_end',
            'payment',
            'complaint_closed',
            'last_activity',
            'fraud_confirmed',
        ],
        Field(examples=['withdrawal'], title='Event'),
    ]
    """
    The trigger event to preview.
    """
    at: Annotated[
        AwareDatetime | None, Field(examples=['2024-06-01T00:00:00Z'], title='At')
    ] = None
    """
    When it happened (as for recording it); now when absent.
    """


class EventRequest(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    event: Annotated[
        Literal[
            'collected',
            'withdrawal',
            'contract_end',
            'payment',
            'complaint_closed',
            'last_activity',
            'fraud_confirmed',
        ],
        Field(examples=['withdrawal'], title='Event'),
    ]
    """
    The trigger event that happened.
    """
    at: Annotated[
        AwareDatetime | None, Field(examples=['2026-01-15T10:00:00Z'], title='At')
    ] = None
    """
    When it happened (ISO 8601 with a UTC offset; not in the future, not before 1970); now when absent. Recording an event again replaces its time: the latest occurrence counts.
    """
    confirm: Annotated[bool | None, Field(title='Confirm')] = False
    """
    Record it although it makes data due for destruction at once (a backdated event, usually; see the preview). Without it such an event is a 409 `event_destroys_data`, whose body lists the items in `due_now`, and nothing is recorded.
    """


class Evidence(RootModel[str]):
    root: Annotated[
        str,
        Field(
            examples=['order 991 disputed'],
            max_length=65536,
            min_length=1,
            pattern='\\S',
            title='Evidence',
        ),
    ]
    """
    Free text, encrypted.
    """


class ExportCategory(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    category: Annotated[str, Field(examples=['payment_supply'], title='Category')]
    name: Annotated[str, Field(title='Name')]
    """
    The category's name in its retention policy.
    """
    fields: Annotated[list[str], Field(examples=[['phone']], title='Fields')]
    """
    The subject's fields in the category (`*`: all of them).
    """
    legal_basis: Annotated[str | None, Field(title='Legal Basis')]
    """
    Why it is kept (null when no policy names the category).
    """
    period: Annotated[str | None, Field(examples=['5y'], title='Period')]
    """
    How long, e.g. `5y`.
    """
    due_at: Annotated[AwareDatetime | None, Field(title='Due At')]
    """
    When it is due for its policy's action (null until its trigger event).
    """


class ExportSeparated(Model):
    """
    An item of the subject's data in separate storage: names and dates; its values are read
    with `restricted:read`.
    """

    model_config = ConfigDict(
        extra='allow',
    )
    item_id: Annotated[str, Field(title='Item Id')]
    origin_id: Annotated[str, Field(title='Origin Id')]
    """
    The subject it came from.
    """
    category: Annotated[str, Field(title='Category')]
    reason_code: Annotated[str, Field(title='Reason Code')]
    created_at: Annotated[AwareDatetime, Field(title='Created At')]
    fields: Annotated[list[str], Field(title='Fields')]
    due_at: Annotated[AwareDatetime | None, Field(title='Due At')]
    legal_basis: Annotated[str | None, Field(title='Legal Basis')]


class ExportedRecord(Model):
    """
    A record linked to the subject (as `GET /v1/records/{record_id}` answers it), with its
    decrypted text.
    """

    model_config = ConfigDict(
        extra='allow',
    )
    record_id: Annotated[str, Field(title='Record Id')]
    domain: Annotated[str, Field(title='Domain')]
    category: Annotated[str, Field(title='Category')]
    reason_code: Annotated[str, Field(title='Reason Code')]
    severity: Annotated[
        Literal['low', 'medium', 'high', 'critical'], Field(title='Severity')
    ]
    status: Annotated[
        Literal['active', 'under_review', 'revoked', 'expired'], Field(title='Status')
    ]
    """
    The effective status: a live record past `expires_at` is `expired`.
    """
    status_reason_code: Annotated[str | None, Field(title='Status Reason Code')]
    source: Annotated[str, Field(title='Source')]
    external_ref: Annotated[str | None, Field(title='External Ref')]
    subject_id: Annotated[str | None, Field(title='Subject Id')]
    created_at: Annotated[AwareDatetime, Field(title='Created At')]
    updated_at: Annotated[AwareDatetime, Field(title='Updated At')]
    expires_at: Annotated[AwareDatetime | None, Field(title='Expires At')]
    review_at: Annotated[AwareDatetime | None, Field(title='Review At')]
    text_fields: Annotated[list[str], Field(title='Text Fields')]
    """
    Which text fields the record has (reveal them with /reveal).
    """
    identifier_kinds: Annotated[dict[str, int], Field(title='Identifier Kinds')]
    """
    Identifier kind -> how many the record has.
    """
    identifiers: Annotated[int, Field(title='Identifiers')]
    lookup_versions: Annotated[list[int], Field(title='Lookup Versions')]
    text: ExportedRecordText
    separate_storage: Annotated[bool, Field(title='Separate Storage')]
    """
    The record is in separate storage (kept under another law): its text is read with `restricted:read` (`POST /v1/separated/records/{record_id}/read`), not exported.
    """


class ExportedRecordText(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    reason: Annotated[str | None, Field(title='Reason')]
    evidence: Annotated[str | None, Field(title='Evidence')]
    notes: Annotated[str | None, Field(title='Notes')]
    available: Annotated[bool, Field(title='Available')]
    """
    False when the record has no text, or it is in separate storage.
    """


class ExternalRef(RootModel[str]):
    root: Annotated[
        str,
        Field(
            examples=['case-4411'],
            pattern='^[A-Za-z0-9][A-Za-z0-9_.:/#+-]{0,127}$',
            title='External Ref',
        ),
    ]
    """
    A unique id of your own (never personal data); a duplicate is 409.
    """


class FieldVerifyRequest(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    field: Annotated[
        str,
        Field(examples=['password'], pattern='^[a-z][a-z0-9_]{0,63}$', title='Field'),
    ]
    """
    A one-way field (PSEUDOVAULT_ONE_WAY_FIELDS), e.g. `password`.
    """
    value: Annotated[
        str,
        Field(
            examples=['correct horse battery staple'],
            max_length=65536,
            min_length=1,
            title='Value',
        ),
    ]
    """
    The value to check against its stored hash. Never stored or logged.
    """


class FieldVerifyResult(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    subject_id: Annotated[
        str,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    field: Annotated[str, Field(examples=['password'], title='Field')]
    match: Annotated[bool, Field(title='Match')]
    """
    Whether the value matches; false as well when the subject has no such field.
    """


class Fields(RootModel[str]):
    root: Annotated[str, Field(max_length=65536, min_length=1)]


class Fields1Item(RootModel[str]):
    root: Annotated[str, Field(pattern='^[a-z][a-z0-9_]{0,63}$')]


class Fields1(RootModel[list[Fields1Item]]):
    root: Annotated[
        list[Fields1Item], Field(examples=[['email']], max_length=1000, title='Fields')
    ]
    """
    Only these fields (those the subject has); all of them when absent.
    """


class Fields2(RootModel[str]):
    root: Annotated[str, Field(max_length=65536, min_length=1)]


FieldsAdditionalProperty = TypeAliasType(
    "FieldsAdditionalProperty", Annotated[str, Field(max_length=65536, min_length=1)]
)


class FindRequest(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    identifier: Annotated[
        Identifier, Field(examples=[{'kind': 'email', 'value': 'user@example.com'}])
    ]
    domain: Annotated[
        str | None,
        Field(
            examples=['default'], pattern='^[a-z0-9][a-z0-9_.:-]{0,63}$', title='Domain'
        ),
    ] = 'default'


class Health(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    status: Annotated[Literal['ok'], Field(title='Status')]


class HoldCreate(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    target_kind: Annotated[Literal['subject', 'record'], Field(title='Target Kind')]
    """
    subject (with its separated data and the records linked to it) or record.
    """
    target_id: Annotated[
        UUID,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Target Id'),
    ]
    reason_code: Annotated[
        str,
        Field(
            examples=['litigation'],
            pattern='^[a-z][a-z0-9_]{0,39}$',
            title='Reason Code',
        ),
    ]
    """
    Why, as a code: investigation, dispute, litigation...
    """
    reference: Annotated[
        str,
        Field(
            examples=['CASE-2026-0142'],
            pattern='^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$',
            title='Reference',
        ),
    ]
    """
    The case or ticket it belongs to (never PII).
    """
    until: Annotated[
        AwareDatetime | None, Field(examples=['2027-06-30T00:00:00Z'], title='Until')
    ] = None
    """
    When it lapses by itself (in the future); open-ended when absent.
    """


class HoldList(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    items: Annotated[list[HoldOut], Field(title='Items')]


class HoldOut(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    hold_id: Annotated[
        str, Field(examples=['5f0c2b8e-0d1e-4e0f-9a7d-3c1b2a4d5e6f'], title='Hold Id')
    ]
    target_kind: Annotated[str, Field(title='Target Kind')]
    target_id: Annotated[str, Field(title='Target Id')]
    reason_code: Annotated[str, Field(title='Reason Code')]
    reference: Annotated[str, Field(title='Reference')]
    placed_by: Annotated[str, Field(title='Placed By')]
    """
    Who placed it: the API key id, or the operator for the CLI.
    """
    placed_at: Annotated[AwareDatetime, Field(title='Placed At')]
    until: Annotated[AwareDatetime | None, Field(title='Until')]
    released_at: Annotated[AwareDatetime | None, Field(title='Released At')]
    released_by: Annotated[str | None, Field(title='Released By')]
    release_reason_code: Annotated[str | None, Field(title='Release Reason Code')]
    active: Annotated[bool, Field(title='Active')]
    """
    Not released and not lapsed.
    """


class HoldRelease(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    reason_code: Annotated[
        str | None, Field(pattern='^[a-z][a-z0-9_]{0,39}$', title='Reason Code')
    ] = 'released'
    """
    Why, as a code (audited).
    """


class Horizon(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    epoch_max_age_days: Annotated[float | None, Field(title='Epoch Max Age Days')]
    """
    The current epoch is rotated (and the old keys destroyed) once it is this old; null: never.
    """
    current_epoch: Annotated[int | None, Field(title='Current Epoch')]
    current_epoch_created_at: Annotated[
        str | None, Field(title='Current Epoch Created At')
    ]
    next_rotation_at: Annotated[str | None, Field(title='Next Rotation At')]
    """
    When the server rotates next; null: never by age.
    """


class Identifier(Model):
    """
    One identifier of a person: its kind and its value as the user typed it.
    """

    model_config = ConfigDict(
        extra='allow',
    )
    kind: Annotated[
        str,
        Field(
            examples=['email'],
            pattern='^(email|phone|ip|device_id|card_fingerprint|national_id|account_id|custom:[a-z][a-z0-9_]{0,31})$',
            title='Kind',
        ),
    ]
    """
    One of email, phone, ip, device_id, card_fingerprint, national_id, account_id, or custom:<name> (a-z, 0-9, _; 1 to 32 characters).
    """
    value: Annotated[
        str,
        Field(
            examples=['user@example.com'], max_length=1024, min_length=1, title='Value'
        ),
    ]
    """
    The value as given; normalized by the vault (e.g. a phone number to E.164) and turned into a keyed pseudonym. Never stored, logged or returned.
    """


class Item(RootModel[str]):
    root: Annotated[str, Field(pattern='^(\\*|[a-z][a-z0-9_]{0,63})$')]


class ItemChangeOut(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    kind: Annotated[str, Field(examples=['subject'], title='Kind')]
    target_id: Annotated[
        str, Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Target Id')
    ]
    category: Annotated[str, Field(title='Category')]
    old_due: Annotated[AwareDatetime | None, Field(title='Old Due')]
    new_due: Annotated[AwareDatetime | None, Field(title='New Due')]
    old_action: Annotated[str, Field(title='Old Action')]
    new_action: Annotated[str, Field(title='New Action')]
    change: Annotated[
        Literal['earlier', 'later', 'scheduled', 'unscheduled', 'action'],
        Field(title='Change'),
    ]


class KeyStatus(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    provider: Provider
    epochs: Annotated[list[Epoch], Field(title='Epochs')]
    current_epoch: Annotated[int | None, Field(title='Current Epoch')]
    root_key_ids_in_use: Annotated[list[str], Field(title='Root Key Ids In Use')]
    """
    Root key versions still wrapping something: any other version may be destroyed at the provider.
    """
    signing_keys: Annotated[list[SigningKey], Field(title='Signing Keys')]
    lookup_keys: Annotated[list[LookupKeyVersion], Field(title='Lookup Keys')]
    horizon: Horizon


class LookupKeyVersion(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    version: Annotated[int, Field(title='Version')]
    kek_id: Annotated[str, Field(title='Kek Id')]
    status: Annotated[str, Field(title='Status')]
    primary: Annotated[bool, Field(title='Primary')]
    created_at: Annotated[AwareDatetime, Field(title='Created At')]
    destroyed_at: Annotated[AwareDatetime | None, Field(title='Destroyed At')]


class Means(RootModel[str]):
    root: Annotated[
        str, Field(examples=['email'], pattern='^[a-z][a-z0-9_]{0,39}$', title='Means')
    ]
    """
    How it was told (required when notified).
    """


class Notes(RootModel[str]):
    root: Annotated[
        str,
        Field(
            examples=['see ticket 4411'],
            max_length=65536,
            min_length=1,
            pattern='\\S',
            title='Notes',
        ),
    ]
    """
    Free text, encrypted.
    """


class Notes1(RootModel[str]):
    root: Annotated[
        str,
        Field(
            examples=['appeal rejected'],
            max_length=65536,
            min_length=1,
            pattern='\\S',
            title='Notes',
        ),
    ]
    """
    Replaces the notes (encrypted).
    """


class NotificationClose(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    state: Annotated[Literal['notified', 'failed'] | None, Field(title='State')] = (
        'notified'
    )
    """
    Told, or the attempt failed.
    """
    means: Annotated[Means | None, Field(examples=['email'], title='Means')] = None
    """
    How it was told (required when notified).
    """
    at: Annotated[AwareDatetime | None, Field(title='At')] = None
    """
    When; now when absent.
    """


class NotificationList(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    items: Annotated[list[NotificationOut], Field(title='Items')]
    """
    Oldest first.
    """


class NotificationOut(Model):
    """
    The task of telling a recipient of a subject's data of its correction or erasure.
    """

    model_config = ConfigDict(
        extra='allow',
    )
    notification_id: Annotated[str, Field(title='Notification Id')]
    subject_id: Annotated[
        str,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    recipient: Annotated[str, Field(examples=['Acme Payments Ltd.'], title='Recipient')]
    items: Annotated[list[str], Field(title='Items')]
    """
    What of the data it concerns (field names or category codes).
    """
    cause: Annotated[Literal['correction', 'erasure'], Field(title='Cause')]
    request_id: Annotated[str | None, Field(title='Request Id')]
    """
    The correction or erasure request it follows from.
    """
    state: Annotated[Literal['pending', 'notified', 'failed'], Field(title='State')]
    created_at: Annotated[AwareDatetime, Field(title='Created At')]
    closed_at: Annotated[AwareDatetime | None, Field(title='Closed At')]
    """
    When it was notified (or failed).
    """
    means: Annotated[str | None, Field(examples=['email'], title='Means')]
    """
    How the recipient was told, as a code.
    """


class NotifyOut(Model):
    """
    A third party that received a corrected item and should be told of the correction.
    """

    model_config = ConfigDict(
        extra='allow',
    )
    provision_id: Annotated[
        str,
        Field(examples=['8a4f1c3e-2d7b-4e9a-b6c0-5f1e3d2a7c94'], title='Provision Id'),
    ]
    recipient: Annotated[str, Field(examples=['Acme Payments Ltd.'], title='Recipient')]
    provided_at: Annotated[AwareDatetime, Field(title='Provided At')]
    items: Annotated[list[str], Field(examples=[['email']], title='Items')]


class PolicyDiffOut(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    stored_fingerprint: Annotated[str | None, Field(title='Stored Fingerprint')]
    """
    The policies the stored due dates were computed under.
    """
    to_fingerprint: Annotated[str, Field(title='To Fingerprint')]
    policies_changed: Annotated[list[str], Field(title='Policies Changed')]
    """
    Categories whose policy differs.
    """
    applied: Annotated[bool, Field(title='Applied')]
    """
    True when the change was applied (stored due dates recomputed).
    """
    now: Annotated[AwareDatetime, Field(title='Now')]
    summary: Annotated[dict[str, ChangeCounts], Field(title='Summary')]
    """
    Per category: how many due dates move which way.
    """
    changes: Annotated[list[ItemChangeOut], Field(title='Changes')]


class PolicyDiffRequest(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    policies: Annotated[
        str,
        Field(
            examples=[
                '[policies.access_log]\nperiod = "6mo"\ntrigger = "collected"\naction = "shred_subject"\nbasis = "Protection of Communications Secrets Act, Art. 15-2: at least 3 months; 6 by internal policy"\n'
            ],
            max_length=262144,
            min_length=1,
            title='Policies',
        ),
    ]
    """
    A policy file's text (TOML, the format of `pseudovault retention policies --template`), read over the shipped presets like the operator's file: each `[policies.<category>]` table is a complete policy; categories it leaves out keep theirs.
    """


class PolicyOut(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    category: Annotated[str, Field(examples=['payment'], title='Category')]
    name: Annotated[
        str | None, Field(examples=['Payment and settlement records'], title='Name')
    ] = None
    period: Annotated[str | None, Field(examples=['P5Y'], title='Period')]
    """
    ISO 8601 period, e.g. P5Y; null for a review-only policy.
    """
    trigger: Annotated[str, Field(examples=['payment'], title='Trigger')]
    """
    The event the period runs from.
    """
    basis: Annotated[str, Field(title='Basis')]
    """
    The legal basis, as the policy file states it.
    """
    action: Annotated[str, Field(examples=['shred_subject'], title='Action')]
    """
    What happens at expiry.
    """
    enabled: Annotated[bool, Field(title='Enabled')]
    on_withdrawal: Annotated[str, Field(title='On Withdrawal')]
    """
    At a withdrawal: keep running, or move to separate storage.
    """
    on_erasure: Annotated[str, Field(title='On Erasure')]
    """
    At an erasure request: destroy, or retain under this policy.
    """
    review_interval: Annotated[str | None, Field(title='Review Interval')]
    restricted_period: Annotated[str | None, Field(title='Restricted Period')]
    """
    How long it is kept in separate storage, when it moves there.
    """
    for_records: Annotated[bool, Field(title='For Records')]
    default_reason_code: Annotated[str | None, Field(title='Default Reason Code')]
    aliases: Annotated[list[str], Field(title='Aliases')]
    optional: Annotated[bool, Field(title='Optional')]
    repealed: Annotated[str | None, Field(title='Repealed')]
    """
    The date the law behind it was repealed, for a kept-for-reference preset.
    """
    note: Annotated[str | None, Field(title='Note')]
    per_entry: Annotated[bool | None, Field(title='Per Entry')] = None
    """
    A log kept per entry: each field's value is kept for the period from its own collection (absent: the category runs from the subject's event).
    """
    ceiling: Annotated[str | None, Field(examples=['7y'], title='Ceiling')] = None
    """
    How long data may wait for its starting event: when it never comes, the period runs from collection for this long instead (absent: it may wait for ever, and the report shows it waiting).
    """


class PolicySetOut(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    source: Annotated[str, Field(title='Source')]
    """
    Where the policies come from: the shipped presets or the operator's file.
    """
    timezone: Annotated[str, Field(title='Timezone')]
    """
    The time zone due dates are computed in (a period ends at local midnight).
    """
    fingerprint: Annotated[str, Field(title='Fingerprint')]
    """
    SHA-256 of the policies' canonical form: what stored due dates were computed under.
    """
    policies: Annotated[list[PolicyOut], Field(title='Policies')]


class Problem(Model):
    """
    An RFC 9457 problem detail.
    """

    model_config = ConfigDict(
        extra='allow',
    )
    type: Annotated[str, Field(title='Type')]
    """
    A URI naming the kind of problem.
    """
    title: Annotated[str, Field(title='Title')]
    status: Annotated[int, Field(ge=400, le=599, title='Status')]
    detail: Annotated[str | None, Field(title='Detail')] = None
    instance: Annotated[str, Field(title='Instance')]
    """
    Names this occurrence: the request id as a URN.
    """
    request_id: Annotated[str, Field(title='Request Id')]
    errors: Annotated[list[ProblemFieldError] | None, Field(title='Errors')] = None
    """
    For 422: each invalid part of the request.
    """
    hold_id: Annotated[str | None, Field(title='Hold Id')] = None
    """
    For 409 `held`: the legal hold that refused the request (release it first).
    """


class ProblemFieldError(Model):
    """
    Where a request is invalid and why; never the value.
    """

    model_config = ConfigDict(
        extra='allow',
    )
    location: Annotated[str | None, Field(title='Location')] = None
    """
    body, query, path or header (when known).
    """
    pointer: Annotated[str, Field(title='Pointer')]
    """
    JSON pointer into that location, e.g. #/fields/email.
    """
    detail: Annotated[str, Field(title='Detail')]
    """
    Why it is invalid.
    """
    code: Annotated[str | None, Field(title='Code')] = None
    """
    A machine-readable reason, e.g. string_too_long.
    """


class Provider(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    kind: Annotated[str, Field(examples=['local'], title='Kind')]
    primary_key_id: Annotated[str, Field(examples=['local:2'], title='Primary Key Id')]
    keys: Annotated[list[RootKeyVersion], Field(title='Keys')]


class ProvisionCreate(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    subject_id: Annotated[
        UUID,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    recipient: Annotated[
        str,
        Field(
            examples=['Acme Payments Ltd.'],
            max_length=200,
            min_length=1,
            pattern='\\S',
            title='Recipient',
        ),
    ]
    """
    The third party that received the data.
    """
    items: Annotated[
        list[Item],
        Field(
            examples=[['email', 'payment_supply']],
            max_length=1000,
            min_length=1,
            title='Items',
        ),
    ]
    """
    What was provided: field names or category codes, `*` for everything.
    """
    purpose: Annotated[
        str,
        Field(
            examples=['payment processing'],
            max_length=500,
            min_length=1,
            pattern='\\S',
            title='Purpose',
        ),
    ]
    """
    The recipient's purpose.
    """
    legal_basis: Annotated[
        str,
        Field(
            examples=['PIPA Art. 17(1)1 (consent)'],
            max_length=500,
            min_length=1,
            pattern='\\S',
            title='Legal Basis',
        ),
    ]
    """
    The legal basis of the provision.
    """
    retention: Annotated[
        str,
        Field(
            examples=['5 years after payment'],
            max_length=200,
            min_length=1,
            pattern='\\S',
            title='Retention',
        ),
    ]
    """
    How long the recipient keeps it.
    """
    provided_at: Annotated[
        AwareDatetime | None,
        Field(examples=['2026-01-10T12:00:00Z'], title='Provided At'),
    ] = None
    """
    When it was provided (not in the future); now when absent.
    """


class ProvisionList(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    items: Annotated[list[ProvisionOut], Field(title='Items')]
    """
    Oldest first.
    """


class ProvisionOut(Model):
    """
    A provision of a subject's data to a third party.
    """

    model_config = ConfigDict(
        extra='allow',
    )
    provision_id: Annotated[
        str,
        Field(examples=['8a4f1c3e-2d7b-4e9a-b6c0-5f1e3d2a7c94'], title='Provision Id'),
    ]
    subject_id: Annotated[
        str,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    recipient: Annotated[str, Field(examples=['Acme Payments Ltd.'], title='Recipient')]
    items: Annotated[list[str], Field(examples=[['email']], title='Items')]
    """
    Field names or category codes (`*`: everything).
    """
    purpose: Annotated[str, Field(examples=['payment processing'], title='Purpose')]
    legal_basis: Annotated[
        str, Field(examples=['PIPA Art. 17(1)1 (consent)'], title='Legal Basis')
    ]
    retention: Annotated[
        str, Field(examples=['5 years after payment'], title='Retention')
    ]
    provided_at: Annotated[AwareDatetime, Field(title='Provided At')]


class PublicKey(RootModel[str]):
    root: Annotated[str, Field(pattern='^[0-9a-f]{64}$', title='Public Key')]
    """
    Pin: the public key the receipt must be signed with (64 lower-case hex digits).
    """


class Readiness(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    status: Annotated[Literal['ready'], Field(title='Status')]
    checks: Annotated[dict[str, Literal['ok']], Field(title='Checks')]


class Reason(RootModel[str]):
    root: Annotated[
        str,
        Field(
            examples=['chargeback ring, case 4411'],
            max_length=65536,
            min_length=1,
            pattern='\\S',
            title='Reason',
        ),
    ]
    """
    Free text, encrypted.
    """


class ReceiptDocument(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    receipt: Annotated[dict[str, Any], Field(title='Receipt')]
    """
    request_id, subject_id, requested_at, completed_at, destroyed (subject_fields, record_evidence, records, separated), retained (kind, category, legal_basis, retained_until), recipients_to_notify, policies fingerprint. No PII.
    """
    signature: Signature


class ReceiptVerifyRequest(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    document: Annotated[str, Field(max_length=524288, min_length=2, title='Document')]
    """
    A receipt file's exact text, as issued.
    """
    public_key: Annotated[PublicKey | None, Field(title='Public Key')] = None
    """
    Pin: the public key the receipt must be signed with (64 lower-case hex digits).
    """


class RecordCreate(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    identifiers: Annotated[
        list[Identifier],
        Field(
            examples=[
                [
                    {'kind': 'email', 'value': 'user@example.com'},
                    {'kind': 'phone', 'value': '010-1234-5678'},
                ]
            ],
            max_length=64,
            min_length=1,
            title='Identifiers',
        ),
    ]
    """
    The banned person's identifiers; stored as keyed pseudonyms only.
    """
    category: Annotated[
        str, Field(examples=['fraudulent_transaction'], title='Category')
    ]
    """
    A retention category records may use: of the presets unauthorized_registration, fraudulent_transaction, bad_usage_rejoin or rejoin_restriction; an operator's policy file may add its own (for_records = true).
    """
    reason_code: Annotated[
        str,
        Field(
            examples=['chargeback'],
            pattern='^[a-z][a-z0-9_]{0,39}$',
            title='Reason Code',
        ),
    ]
    reason: Annotated[
        Reason | None, Field(examples=['chargeback ring, case 4411'], title='Reason')
    ] = None
    """
    Free text, encrypted.
    """
    severity: Annotated[
        Literal['low', 'medium', 'high', 'critical'] | None,
        Field(examples=['high'], title='Severity'),
    ] = 'high'
    source: Annotated[
        str | None,
        Field(examples=['api'], pattern='^[a-z][a-z0-9_.:-]{0,63}$', title='Source'),
    ] = 'api'
    """
    Where the record comes from.
    """
    expires_at: Annotated[
        AwareDatetime | None,
        Field(examples=['2027-01-31T00:00:00Z'], title='Expires At'),
    ] = None
    """
    When the ban ends; at most the category's retention period (its default). A category whose period runs from a later event (a withdrawal) has no default and no cap: the period runs from the event once it is recorded.
    """
    subject_id: Annotated[UUID | None, Field(title='Subject Id')] = None
    """
    Link to an existing subject (its key encrypts the text).
    """
    evidence: Annotated[
        Evidence | None, Field(examples=['order 991 disputed'], title='Evidence')
    ] = None
    """
    Free text, encrypted.
    """
    notes: Annotated[
        Notes | None, Field(examples=['see ticket 4411'], title='Notes')
    ] = None
    """
    Free text, encrypted.
    """
    domain: Annotated[
        str | None,
        Field(
            examples=['default'], pattern='^[a-z0-9][a-z0-9_.:-]{0,63}$', title='Domain'
        ),
    ] = 'default'
    """
    The pseudonymisation domain.
    """
    external_ref: Annotated[
        ExternalRef | None, Field(examples=['case-4411'], title='External Ref')
    ] = None
    """
    A unique id of your own (never personal data); a duplicate is 409.
    """


class RecordList(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    items: Annotated[list[RecordOut], Field(title='Items')]


class RecordOut(Model):
    """
    A record without its text and without its identifiers.
    """

    model_config = ConfigDict(
        extra='allow',
    )
    record_id: Annotated[str, Field(title='Record Id')]
    domain: Annotated[str, Field(title='Domain')]
    category: Annotated[str, Field(title='Category')]
    reason_code: Annotated[str, Field(title='Reason Code')]
    severity: Annotated[
        Literal['low', 'medium', 'high', 'critical'], Field(title='Severity')
    ]
    status: Annotated[
        Literal['active', 'under_review', 'revoked', 'expired'], Field(title='Status')
    ]
    """
    The effective status: a live record past `expires_at` is `expired`.
    """
    status_reason_code: Annotated[str | None, Field(title='Status Reason Code')]
    source: Annotated[str, Field(title='Source')]
    external_ref: Annotated[str | None, Field(title='External Ref')]
    subject_id: Annotated[str | None, Field(title='Subject Id')]
    created_at: Annotated[AwareDatetime, Field(title='Created At')]
    updated_at: Annotated[AwareDatetime, Field(title='Updated At')]
    expires_at: Annotated[AwareDatetime | None, Field(title='Expires At')]
    review_at: Annotated[AwareDatetime | None, Field(title='Review At')]
    text_fields: Annotated[list[str], Field(title='Text Fields')]
    """
    Which text fields the record has (reveal them with /reveal).
    """
    identifier_kinds: Annotated[dict[str, int], Field(title='Identifier Kinds')]
    """
    Identifier kind -> how many the record has.
    """
    identifiers: Annotated[int, Field(title='Identifiers')]
    lookup_versions: Annotated[list[int], Field(title='Lookup Versions')]


class RecordPageOut(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    items: Annotated[list[RecordOut], Field(title='Items')]
    next_cursor: Annotated[str | None, Field(title='Next Cursor')]
    """
    Pass as `cursor` for the next page; null on the last page.
    """
    next: Annotated[
        str | None,
        Field(examples=['/v1/records?limit=100&cursor=eyJ2IjoxfQ'], title='Next'),
    ]
    """
    The URL (path and query) of the next page; null on the last page.
    """


class RecordRevealRequest(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    purpose: Annotated[
        str,
        Field(
            examples=['appeal review, case 4411'],
            max_length=200,
            min_length=1,
            pattern='\\S',
            title='Purpose',
        ),
    ]
    """
    Why the text is revealed. Recorded in the audit log as given: state a case or ticket, never personal data.
    """


class RecordTextOut(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    record_id: Annotated[
        str, Field(examples=['6f1c2a9e-3b7d-4e8a-9c41-5d2f0b8e7a13'], title='Record Id')
    ]
    reason: Annotated[
        str | None, Field(examples=['chargeback ring, case 4411'], title='Reason')
    ]
    evidence: Annotated[str | None, Field(examples=[None], title='Evidence')]
    notes: Annotated[str | None, Field(examples=[None], title='Notes')]
    available: Annotated[bool, Field(title='Available')]
    """
    False when the record has no text (never had any, or it was shredded with its subject).
    """


class RecordUpdate(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    severity: Annotated[
        Literal['low', 'medium', 'high', 'critical'] | None,
        Field(examples=['critical'], title='Severity'),
    ] = None
    expires_at: Annotated[
        AwareDatetime | None,
        Field(examples=['2027-06-30T00:00:00Z'], title='Expires At'),
    ] = None
    """
    A new expiry, in the future and within the category's period.
    """
    notes: Annotated[
        Notes1 | None, Field(examples=['appeal rejected'], title='Notes')
    ] = None
    """
    Replaces the notes (encrypted).
    """
    status: Annotated[
        Literal['active', 'under_review'] | None,
        Field(examples=['under_review'], title='Status'),
    ] = None
    """
    Move the record between active and under review (revoke with /revoke).
    """
    status_reason_code: Annotated[
        StatusReasonCode | None, Field(examples=['appeal'], title='Status Reason Code')
    ] = None
    """
    Why the status changes; required with `status`.
    """


class Reference(RootModel[str]):
    root: Annotated[
        str,
        Field(
            examples=['REQ-2026-031'],
            pattern='^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$',
            title='Reference',
        ),
    ]
    """
    The case or ticket the request belongs to (never personal data).
    """


class ReportGroup(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    category: Annotated[str, Field(title='Category')]
    action: Annotated[str, Field(title='Action')]
    items: Annotated[int, Field(title='Items')]
    overdue: Annotated[int, Field(title='Overdue')]
    held: Annotated[int, Field(title='Held')]
    """
    Items under a legal hold: they stay until it is released.
    """
    by_ceiling: Annotated[int, Field(title='By Ceiling')]
    """
    Items due because their starting event never came (the policy's ceiling).
    """
    first_due: Annotated[str, Field(title='First Due')]
    last_due: Annotated[str, Field(title='Last Due')]
    by_month: Annotated[
        dict[str, int],
        Field(examples=[{'2027-01': 12, '2027-02': 3}], title='By Month'),
    ]
    """
    How many fall due in each month (`YYYY-MM` in the policies' time zone); overdue ones in past months.
    """
    basis: Annotated[str | None, Field(title='Basis')]


class ReportOut(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    now: Annotated[AwareDatetime, Field(title='Now')]
    until: Annotated[AwareDatetime, Field(title='Until')]
    days: Annotated[int, Field(title='Days')]
    total: Annotated[int, Field(title='Total')]
    held: Annotated[int, Field(title='Held')]
    categories: Annotated[list[ReportGroup], Field(title='Categories')]
    reviews_waiting: Annotated[dict[str, int], Field(title='Reviews Waiting')]
    """
    Per category: items whose review fell due and waits for a decision.
    """
    awaiting_event: Annotated[list[AwaitingGroup], Field(title='Awaiting Event')]
    """
    Per category: data whose period waits for its starting event (a payment, a contract's end, a withdrawal), so that nothing is kept unnoticed for want of an event.
    """


class RequestComplete(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    outcome: Annotated[
        str | None,
        Field(examples=['answered'], pattern='^[a-z][a-z0-9_]{0,39}$', title='Outcome'),
    ] = 'completed'
    """
    How the request was answered, as a code.
    """
    rejected: Annotated[bool | None, Field(title='Rejected')] = False
    """
    Close it as rejected rather than completed.
    """


class RequestId(RootModel[str]):
    root: Annotated[
        str,
        Field(
            examples=['DSR-2026-00017'],
            pattern='^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$',
            title='Request Id',
        ),
    ]
    """
    Idempotency key (a case or ticket id, never personal data): retrying with the same id returns the same receipt. A UUID is assigned when absent.
    """


class RestoreAcknowledged(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    seq: Annotated[int, Field(title='Seq')]
    """
    The `audit.acknowledge_restore` entry; the chain is held from it on.
    """
    log_ended_at: Annotated[int, Field(title='Log Ended At')]
    """
    Where the restored log ended.
    """
    had_reached: Annotated[int, Field(title='Had Reached')]
    """
    How far the log had reached before the restore.
    """
    superseded_lines: Annotated[int, Field(title='Superseded Lines')]
    """
    Signed heads of the checkpoint file this acknowledgement supersedes.
    """
    acknowledged_at: Annotated[AwareDatetime, Field(title='Acknowledged At')]
    key_id: Annotated[str, Field(examples=['ed25519:3f9c0a1b2c3d4e5f'], title='Key Id')]


class RestrictionLifted(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    subject_id: Annotated[
        str,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    lifted: Annotated[bool, Field(title='Lifted')]
    """
    False when there was no restriction of processing to lift.
    """


class RetentionItemOut(Model):
    """
    One stored due date: what, of which category, due when, to undergo which action.
    """

    model_config = ConfigDict(
        extra='allow',
    )
    item_id: Annotated[int, Field(title='Item Id')]
    kind: Annotated[
        Literal['subject_category', 'record', 'separated'], Field(title='Kind')
    ]
    """
    A category of a subject, a record, or a separated item (its `target_id`).
    """
    target_id: Annotated[str, Field(title='Target Id')]
    category: Annotated[str, Field(title='Category')]
    stage: Annotated[str, Field(title='Stage')]
    """
    Which period runs: `period`, `withdrawal`, `restricted_period`, `ceiling`, `entries` (a per-entry log holding no entry: the next one schedules it), ...
    """
    trigger_at: Annotated[AwareDatetime | None, Field(title='Trigger At')]
    """
    When the event the period runs from happened.
    """
    due_at: Annotated[AwareDatetime | None, Field(title='Due At')]
    """
    When the action is due (null: not scheduled yet).
    """
    action: Annotated[str, Field(title='Action')]
    """
    shred_subject, delete_record, restrict, review, separate or destroy.
    """
    state: Annotated[
        Literal['pending', 'claimed', 'review', 'done'], Field(title='State')
    ]
    outcome: Annotated[str | None, Field(title='Outcome')]
    """
    How it ended (or was last applied), e.g. `separated`, `shredded`.
    """
    done_at: Annotated[AwareDatetime | None, Field(title='Done At')]


class RetentionItems(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    items: Annotated[list[RetentionItemOut], Field(title='Items')]


class RevealRequest(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    purpose: Annotated[
        str,
        Field(
            examples=['chargeback dispute, case 4411'],
            max_length=200,
            min_length=1,
            pattern='\\S',
            title='Purpose',
        ),
    ]
    """
    Why the PII is revealed. Recorded in the audit log as given: state a case or ticket, never personal data.
    """
    fields: Annotated[Fields1 | None, Field(examples=[['email']], title='Fields')] = (
        None
    )
    """
    Only these fields (those the subject has); all of them when absent.
    """


class RevealedFields(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    subject_id: Annotated[
        str,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    fields: Annotated[
        dict[str, str], Field(examples=[{'email': 'kim@example.com'}], title='Fields')
    ]


class ReviewRequest(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    decision: Annotated[Literal['keep', 'destroy'], Field(title='Decision')]
    """
    keep: until the next review; destroy: now, with the category's destroying action.
    """
    reason_code: Annotated[
        str | None, Field(pattern='^[a-z][a-z0-9_]{0,39}$', title='Reason Code')
    ] = 'reviewed'
    """
    Why, as a code (audited).
    """


class RevokeRequest(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    reason_code: Annotated[
        str,
        Field(
            examples=['false_positive'],
            pattern='^[a-z][a-z0-9_]{0,39}$',
            title='Reason Code',
        ),
    ]
    """
    Why the record is revoked.
    """


class RewrapResult(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    data_keys_rewrapped: Annotated[int, Field(title='Data Keys Rewrapped')]
    epoch_keys_rewrapped: Annotated[int, Field(title='Epoch Keys Rewrapped')]
    epochs_destroyed: Annotated[int, Field(title='Epochs Destroyed')]
    lookup_keys_rewrapped: Annotated[
        int | None, Field(title='Lookup Keys Rewrapped')
    ] = 0
    signing_keys_rewrapped: Annotated[
        int | None, Field(title='Signing Keys Rewrapped')
    ] = 0
    root_key_ids_in_use: Annotated[list[str], Field(title='Root Key Ids In Use')]
    root_keys_destroyed: Annotated[
        list[str] | None, Field(title='Root Keys Destroyed')
    ] = None
    """
    Root key versions destroyed at the provider: nothing was wrapped under them any more.
    """


class RightsRequestCreate(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    subject_id: Annotated[
        UUID,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    reference: Annotated[
        Reference | None, Field(examples=['REQ-2026-031'], title='Reference')
    ] = None
    """
    The case or ticket the request belongs to (never personal data).
    """
    received_at: Annotated[
        AwareDatetime | None,
        Field(examples=['2026-01-14T09:30:00Z'], title='Received At'),
    ] = None
    """
    When the request came in (not in the future); the deadline is the end of the 10th day after it. Now when absent.
    """
    requester: Annotated[
        Literal['self', 'guardian', 'agent'] | None, Field(title='Requester')
    ] = 'self'
    """
    Who made it: the subject (`self`), a legal guardian (`guardian`: a child under 14, PIPA Art. 22-2) or an agent it appointed (`agent`, Art. 38(1)).
    """
    kind: Annotated[
        Literal['access', 'correction', 'restriction', 'erasure', 'consent_withdrawal'],
        Field(examples=['access'], title='Kind'),
    ]
    """
    What the data subject asked for.
    """


class RightsRequestList(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    items: Annotated[list[RightsRequestOut], Field(title='Items')]
    """
    By deadline, the earliest first.
    """


class RightsRequestOut(Model):
    """
    A data subject's request and its deadline.
    """

    model_config = ConfigDict(
        extra='allow',
    )
    request_id: Annotated[
        str,
        Field(examples=['3d9e7a41-6c2b-4f8e-a1d5-7b0c9e2f4a86'], title='Request Id'),
    ]
    subject_id: Annotated[
        str,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    kind: Annotated[
        Literal['access', 'correction', 'restriction', 'erasure', 'consent_withdrawal'],
        Field(title='Kind'),
    ]
    state: Annotated[Literal['open', 'completed', 'rejected'], Field(title='State')]
    received_at: Annotated[AwareDatetime, Field(title='Received At')]
    due_at: Annotated[AwareDatetime, Field(title='Due At')]
    """
    10 days after `received_at`.
    """
    completed_at: Annotated[AwareDatetime | None, Field(title='Completed At')]
    outcome: Annotated[str | None, Field(examples=['exported'], title='Outcome')]
    """
    How it was closed, as a code (null while open).
    """
    reference: Annotated[
        str | None, Field(examples=['REQ-2026-031'], title='Reference')
    ]
    overdue: Annotated[bool, Field(title='Overdue')]
    """
    Open and past its deadline.
    """
    requester: Annotated[Literal['self', 'guardian', 'agent'], Field(title='Requester')]
    """
    Who made it: the subject, a guardian or an agent.
    """


class RootKeyVersion(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    key_id: Annotated[str, Field(examples=['local:2'], title='Key Id')]
    status: Annotated[str, Field(examples=['enabled'], title='Status')]
    primary: Annotated[bool, Field(title='Primary')]
    created_at: Annotated[str, Field(title='Created At')]


class Rotation(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    root_key_id: Annotated[str, Field(examples=['local:3'], title='Root Key Id')]
    epoch: Annotated[int, Field(examples=[3], title='Epoch')]


class SeparatedItemOut(Model):
    """
    A separated item without its values.
    """

    model_config = ConfigDict(
        extra='allow',
    )
    item_id: Annotated[str, Field(title='Item Id')]
    origin_id: Annotated[str, Field(title='Origin Id')]
    """
    The subject the data came from (it may since have been shredded).
    """
    category: Annotated[str, Field(title='Category')]
    """
    The data category it is kept under.
    """
    reason_code: Annotated[str, Field(title='Reason Code')]
    """
    Why it moved: withdrawal, erasure or retention.
    """
    created_at: Annotated[AwareDatetime, Field(title='Created At')]
    """
    When it moved to separate storage.
    """
    fields: Annotated[list[str], Field(title='Fields')]
    """
    Field names only; values are read with /read.
    """
    due_at: Annotated[AwareDatetime | None, Field(title='Due At')]
    """
    When it is destroyed (null: no date while a policy is disabled).
    """


class SeparatedList(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    items: Annotated[list[SeparatedItemOut], Field(title='Items')]


class SeparatedReadRequest(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    purpose: Annotated[
        str,
        Field(
            examples=['Tax office request 2026-17'],
            max_length=200,
            min_length=1,
            pattern='\\S',
            title='Purpose',
        ),
    ]
    """
    The legal request this read answers (a court order, a tax office request, with its reference). Recorded in the audit log as given: never personal data.
    """


class SeparatedRecordText(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    record_id: Annotated[
        str, Field(examples=['6f1c2a9e-3b7d-4e8a-9c41-5d2f0b8e7a13'], title='Record Id')
    ]
    category: Annotated[str, Field(examples=['bad_usage_rejoin'], title='Category')]
    reason: Annotated[
        str | None, Field(examples=['abusive chat, case 4411'], title='Reason')
    ]
    evidence: Annotated[str | None, Field(examples=[None], title='Evidence')]
    notes: Annotated[str | None, Field(examples=[None], title='Notes')]
    available: Annotated[bool, Field(title='Available')]
    """
    False when the record has no text (never had any, or it was shredded with its subject).
    """


class SeparatedValues(Model):
    """
    A separated item with its decrypted values.
    """

    model_config = ConfigDict(
        extra='allow',
    )
    item_id: Annotated[str, Field(title='Item Id')]
    origin_id: Annotated[str, Field(title='Origin Id')]
    """
    The subject the data came from (it may since have been shredded).
    """
    category: Annotated[str, Field(title='Category')]
    """
    The data category it is kept under.
    """
    reason_code: Annotated[str, Field(title='Reason Code')]
    """
    Why it moved: withdrawal, erasure or retention.
    """
    created_at: Annotated[AwareDatetime, Field(title='Created At')]
    """
    When it moved to separate storage.
    """
    fields: Annotated[list[str], Field(title='Fields')]
    """
    Field names only; values are read with /read.
    """
    due_at: Annotated[AwareDatetime | None, Field(title='Due At')]
    """
    When it is destroyed (null: no date while a policy is disabled).
    """
    values: Annotated[dict[str, str], Field(title='Values')]
    """
    Field name -> decrypted value.
    """


class ShredReceipt(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    subject_id: Annotated[
        str,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    shredded_at: Annotated[AwareDatetime, Field(title='Shredded At')]
    already: Annotated[bool, Field(title='Already')]
    """
    True when the subject had been shredded before this request.
    """


class Signature(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    algorithm: Annotated[str, Field(examples=['Ed25519'], title='Algorithm')]
    key_id: Annotated[str, Field(title='Key Id')]
    """
    Names the public key (see `pseudovault status`).
    """
    public_key: Annotated[str, Field(title='Public Key')]
    """
    The Ed25519 public key, 64 hex digits.
    """
    value: Annotated[str, Field(title='Value')]
    """
    The signature, 128 hex digits.
    """


class SigningKey(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    key_id: Annotated[str, Field(examples=['ed25519:3f9c0a1b2c3d4e5f'], title='Key Id')]
    purpose: Annotated[str, Field(examples=['audit'], title='Purpose')]
    kek_id: Annotated[str, Field(title='Kek Id')]
    status: Annotated[str, Field(title='Status')]
    public_key: Annotated[str, Field(title='Public Key')]
    """
    The raw Ed25519 public key, hex.
    """
    created_at: Annotated[AwareDatetime, Field(title='Created At')]


class Signup(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    identifiers: Annotated[
        list[Identifier], Field(max_length=64, min_length=1, title='Identifiers')
    ]


class StatusOut(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    now: Annotated[AwareDatetime, Field(title='Now')]
    subjects: Annotated[int, Field(title='Subjects')]
    """
    Subjects stored (shredded ones are not counted).
    """
    records_by_status: Annotated[
        dict[str, int], Field(examples=[{'active': 12}], title='Records By Status')
    ]
    """
    Records per stored status.
    """
    due_30_days: Annotated[int, Field(title='Due 30 Days')]
    """
    Retention items due within 30 days, overdue ones included.
    """
    holds_active: Annotated[int, Field(title='Holds Active')]
    """
    Active legal holds (at most 1000 are counted).
    """
    rights_open: Annotated[int, Field(title='Rights Open')]
    """
    Open data-subject requests (at most 1000 are counted).
    """
    rights_overdue: Annotated[int, Field(title='Rights Overdue')]
    """
    Open requests past their deadline (at most 1000 are counted).
    """
    audit_entries: Annotated[int, Field(title='Audit Entries')]
    audit_last_checkpoint_seq: Annotated[
        int | None, Field(title='Audit Last Checkpoint Seq')
    ]
    audit_last_checkpoint_at: Annotated[
        AwareDatetime | None, Field(title='Audit Last Checkpoint At')
    ]
    root_key_versions: Annotated[int, Field(title='Root Key Versions')]
    """
    Root key versions at the provider.
    """
    epochs: Annotated[int, Field(title='Epochs')]
    """
    Wrapping epochs still enabled.
    """
    lookup_key_versions: Annotated[int, Field(title='Lookup Key Versions')]
    horizon: Horizon


class StatusReasonCode(RootModel[str]):
    root: Annotated[
        str,
        Field(
            examples=['appeal'],
            pattern='^[a-z][a-z0-9_]{0,39}$',
            title='Status Reason Code',
        ),
    ]
    """
    Why the status changes; required with `status`.
    """


class SubjectCategories(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    subject_id: Annotated[
        str,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    categories: Annotated[
        dict[str, list[str]],
        Field(
            examples=[
                {'member_data': ['*'], 'payment_supply': ['amount', 'order_ref']}
            ],
            title='Categories',
        ),
    ]
    """
    Category code -> the field names it covers (`["*"]`: every field).
    """


class SubjectCreate(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    fields: Annotated[
        dict[
            Annotated[str, StringConstraints(pattern=r'^[a-z][a-z0-9_]{0,63}$')],
            FieldsAdditionalProperty,
        ],
        Field(
            examples=[{'email': 'kim@example.com', 'name': 'Kim Minji'}],
            max_length=1000,
            title='Fields',
        ),
    ]
    """
    Field names (lower case, digits, underscores) to values (UTF-8 text of at most 65536 bytes). Each value is encrypted under the subject's own key.
    """
    categories: Annotated[
        dict[
            Annotated[str, StringConstraints(pattern=r'^[a-z][a-z0-9_]{0,39}$')],
            Categories1 | None,
        ]
        | None,
        Field(examples=[{'payment': ['order_ref', 'amount']}], title='Categories'),
    ] = None
    """
    Data category code or alias of the retention policies in force (e.g. `member_data` or `member`, `payment_supply` or `payment`) -> null for every field of the subject, or the names of the fields it covers. Categories of anti-abuse records are refused (422). Validated before the subject is created: an unknown category creates nothing.
    """


class SubjectCreated(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    subject_id: Annotated[
        str,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]


class SubjectPage(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    items: Annotated[list[SubjectSummary], Field(title='Items')]
    next_cursor: Annotated[str | None, Field(title='Next Cursor')]
    """
    Pass as `after` for the next page; null on the last page.
    """


class SubjectRequestCreate(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    subject_id: Annotated[
        UUID,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    reference: Annotated[
        Reference | None, Field(examples=['REQ-2026-031'], title='Reference')
    ] = None
    """
    The case or ticket the request belongs to (never personal data).
    """
    received_at: Annotated[
        AwareDatetime | None,
        Field(examples=['2026-01-14T09:30:00Z'], title='Received At'),
    ] = None
    """
    When the request came in (not in the future); the deadline is the end of the 10th day after it. Now when absent.
    """
    requester: Annotated[
        Literal['self', 'guardian', 'agent'] | None, Field(title='Requester')
    ] = 'self'
    """
    Who made it: the subject (`self`), a legal guardian (`guardian`: a child under 14, PIPA Art. 22-2) or an agent it appointed (`agent`, Art. 38(1)).
    """


class SubjectSummary(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    subject_id: Annotated[str, Field(title='Subject Id')]
    created_at: Annotated[AwareDatetime, Field(title='Created At')]
    updated_at: Annotated[AwareDatetime, Field(title='Updated At')]
    fields: Annotated[list[str], Field(title='Fields')]
    """
    Field names only; values are never listed.
    """


class SubjectUpdate(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    fields: Annotated[
        dict[
            Annotated[str, StringConstraints(pattern=r'^[a-z][a-z0-9_]{0,63}$')],
            Fields2 | None,
        ],
        Field(
            examples=[{'phone': '010-1234-5678'}],
            max_length=1000,
            min_length=1,
            title='Fields',
        ),
    ]
    """
    Fields to set (added if new); null deletes a field.
    """


class SubjectUpdated(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    subject_id: Annotated[
        str,
        Field(examples=['0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10'], title='Subject Id'),
    ]
    fields_set: Annotated[list[str], Field(examples=[['phone']], title='Fields Set')]
    fields_deleted: Annotated[
        list[str], Field(examples=[['name']], title='Fields Deleted')
    ]


class SweepOut(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    now: Annotated[AwareDatetime, Field(title='Now')]
    dry_run: Annotated[bool, Field(title='Dry Run')]
    due: Annotated[int, Field(title='Due')]
    applied: Annotated[int, Field(title='Applied')]
    held: Annotated[int, Field(title='Held')]
    """
    Due items under a legal hold: left for a sweep after the release.
    """
    failed: Annotated[int, Field(title='Failed')]
    """
    Items that could not be applied: left pending for the next sweep.
    """
    batches: Annotated[int, Field(title='Batches')]
    outcomes: Annotated[
        dict[str, int],
        Field(examples=[{'separated': 14, 'shredded': 120}], title='Outcomes'),
    ]
    by_category: Annotated[dict[str, dict[str, int]], Field(title='By Category')]
    planned: Annotated[list[dict[str, Any]], Field(title='Planned')]
    """
    In a dry run: the due items (at most 1000), ids and codes only.
    """
    leased: Annotated[int, Field(title='Leased')]
    """
    Items claimed by another run (one under way, or a killed one whose lease has not run out): not applied by this run.
    """
    leased_until: Annotated[AwareDatetime | None, Field(title='Leased Until')]
    """
    When the last of those claims runs out and a sweep takes them over.
    """


class SweepRequest(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    dry_run: Annotated[bool | None, Field(title='Dry Run')] = False
    """
    List what is due; change nothing.
    """
    batch_size: Annotated[int | None, Field(ge=1, le=10000, title='Batch Size')] = 500
    """
    Items claimed and applied per transaction.
    """


class VerifyOut(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    ok: Annotated[bool, Field(title='Ok')]
    reason: Annotated[str | None, Field(title='Reason')]
    """
    Why it failed (the first check that failed); null when valid.
    """
    key_id: Annotated[str | None, Field(title='Key Id')]
    vault_checked: Annotated[bool, Field(title='Vault Checked')]
    """
    The signing key was checked to be one of this vault's own.
    """
    pinned: Annotated[bool, Field(title='Pinned')]
    request_id: Annotated[str | None, Field(title='Request Id')]
    subject_id: Annotated[str | None, Field(title='Subject Id')]


class VerifyReport(Model):
    model_config = ConfigDict(
        extra='allow',
    )
    ok: Annotated[bool, Field(title='Ok')]
    entries: Annotated[int, Field(title='Entries')]
    """
    Entries verified (before the first broken link, when there is one).
    """
    first_broken_seq: Annotated[int | None, Field(title='First Broken Seq')]
    reason: Annotated[str | None, Field(title='Reason')]
    last_seq: Annotated[int, Field(title='Last Seq')]
    last_hash: Annotated[str, Field(title='Last Hash')]
    signed: Annotated[bool, Field(title='Signed')]
    """
    Whether signed checkpoints were checked.
    """
    checkpoints: Annotated[int, Field(title='Checkpoints')]
    """
    Signed checkpoints verified.
    """
    last_checkpoint_seq: Annotated[int | None, Field(title='Last Checkpoint Seq')]
    external_checkpoints: Annotated[int, Field(title='External Checkpoints')]
    """
    Signed heads of the checkpoint file kept outside the data store that the log was checked against.
    """
    head_signed_at: Annotated[AwareDatetime | None, Field(title='Head Signed At')]
    """
    When the head was last signed (the log is fresh up to then).
    """
    superseded_lines: Annotated[int, Field(title='Superseded Lines')]
    """
    Signed heads of the checkpoint file written before the last acknowledged restore: their signatures are checked, the chain is not held to them (they name the entries the restore took back).
    """
    restore_acknowledged_at: Annotated[
        AwareDatetime | None, Field(title='Restore Acknowledged At')
    ]
    """
    When a restore of the data store was last acknowledged (`POST /v1/audit/acknowledge-restore`).
    """
