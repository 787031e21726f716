"""Data-subject rights: access export, correction, restriction of processing, the provisions log,
and the tracking of requests against their 10-day deadline (vault.retention.rights).

* ``POST /v1/rights/access-export`` (``subjects:reveal``): everything the vault holds about a
  subject, decrypted, with a purpose that is audited (``rights.access_export``, and each
  decryption as its own ``subject.reveal`` / ``record.reveal``). It completes the subject's open
  access request (or the one named).
* Corrections (``subjects:write``): opening one restricts the subject's processing (its records
  stop matching in checks) until it is completed (the fields change, and the answer names the
  third parties the corrected items were provided to) or rejected.
* Restrictions of processing (``subjects:write``): placed at the subject's request, lifted later.
* Provisions (``subjects:write``): the log of what of a subject's data went to which third party,
  for what purpose, under which legal basis, kept how long.
* Requests (``admin``): any kind of request, tracked with a deadline 10 days after it was
  received; ``overdue=true`` lists the open ones past it.

No answer but the access export carries personal data: requests, corrections, restrictions and
provisions answer with ids, codes, field names, times and the provision's own short texts
(recipient, purpose, legal basis, retention, which are about the provision, never the subject's
data). The audit entries carry ids, kinds and counts.

Timestamps a caller gives (``received_at``, ``provided_at``) are in the past (the vault refuses
the future) and on or after 1970-01-01T00:00:00Z.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Path, Query, status

from pseudovault.api.auth import Admin, ApiRoute, SubjectsReveal, SubjectsWrite
from pseudovault.api.deps import VaultDep
from pseudovault.api.schemas.common import IdempotencyKeyHeader, idempotency_claim
from pseudovault.api.schemas.rights import (
    _REQUEST_ID,
    _SUBJECT_ID,
    AccessExport,
    AccessExportRequest,
    ConsentCreate,
    ConsentList,
    ConsentOut,
    ConsentWithdraw,
    CorrectionComplete,
    CorrectionReject,
    CorrectionResultOut,
    NotificationClose,
    NotificationList,
    NotificationOut,
    ProvisionCreate,
    ProvisionList,
    ProvisionOut,
    RequestComplete,
    RestrictionLifted,
    RightsRequestCreate,
    RightsRequestList,
    RightsRequestOut,
    SubjectRequestCreate,
)
from pseudovault.vault.errors import NotFoundError
from pseudovault.vault.retention.rights import DEADLINE_DAYS

__all__ = ["router"]


router = APIRouter(prefix="/v1/rights", route_class=ApiRoute, tags=["rights"])


MAX_REQUESTS_LISTED = 1000


SubjectIdPath = Annotated[UUID, Path(description="The subject's id (a UUID).", examples=[_SUBJECT_ID])]


RequestIdPath = Annotated[UUID, Path(description="The request's id (a UUID).", examples=[_REQUEST_ID])]


def _subject_or_404(vault: Any, subject_id: str) -> None:
    if not vault.subjects.exists(subject_id):
        raise NotFoundError("subject", subject_id)


@router.post(
    "/access-export",
    summary="Export everything held about a subject",
    description="The subject's decrypted fields, the fraud records linked to it with their decrypted "
    "text, its data categories with their legal bases and due dates, what of it is in separate storage "
    "(names and dates only), its restrictions of processing, the provisions of its data to third parties "
    "and its requests: what an access request is answered with. A purpose is required; audited as "
    "`rights.access_export` (with counts) and each decryption as its own reveal. Completes the subject's "
    "open access request (the one named by `request_id`, which must be the subject's, of kind `access` "
    "and open: else 404 or 409). 404 for a subject that does not exist or was shredded.",
)
def access_export(body: AccessExportRequest, vault: VaultDep, _caller: SubjectsReveal) -> AccessExport:
    export = vault.rights.access_export(
        str(body.subject_id), purpose=body.purpose, request_id=str(body.request_id) if body.request_id else None
    )
    return AccessExport.model_validate(export)


@router.post(
    "/corrections",
    status_code=status.HTTP_201_CREATED,
    summary="Open a correction request",
    description=f"Records a request to correct the subject's data (due in {DEADLINE_DAYS} days) and restricts "
    "the processing of its data until the correction is completed or rejected: the records linked to "
    "it stop matching in checks. Audited as `rights.request_open`. 404 for an unknown subject. With an "
    "`Idempotency-Key`, the same request sent again answers with the same correction request and opens nothing new.",
)
def open_correction(
    body: SubjectRequestCreate, vault: VaultDep, caller: SubjectsWrite, idempotency_key: IdempotencyKeyHeader = None
) -> RightsRequestOut:
    view = vault.rights.begin_correction(
        str(body.subject_id),
        reference=body.reference,
        received_at=body.received_at,
        requester=body.requester,
        idempotency=idempotency_claim(caller.key_id, idempotency_key, "rights.correction", body),
    )
    return RightsRequestOut.of(view)


@router.post(
    "/corrections/{request_id}/complete",
    summary="Complete a correction",
    description="Applies the corrected fields (audited as `subject.update`, counts only), closes the "
    "request (`corrected`, or `confirmed` when `fields` is empty), lifts the restriction once no other "
    "correction of the subject is pending, and names the third parties the corrected items were provided "
    "to, from the provisions log. Audited as `rights.correction`. 404 for an unknown correction request, "
    "409 for one already closed.",
)
def complete_correction(
    request_id: RequestIdPath, body: CorrectionComplete, vault: VaultDep, _caller: SubjectsWrite
) -> CorrectionResultOut:
    return CorrectionResultOut.of(vault.rights.complete_correction(str(request_id), body.fields))


@router.post(
    "/corrections/{request_id}/reject",
    summary="Reject a correction",
    description="Closes the correction request as rejected with a reason code (the body may be left out: "
    "`rejected`) and lifts its restriction once no other correction of the subject is pending. Audited as "
    "`rights.request_close`. 404 for an unknown correction request, 409 for one already closed.",
)
def reject_correction(
    request_id: RequestIdPath,
    vault: VaultDep,
    _caller: SubjectsWrite,
    body: Annotated[CorrectionReject | None, Body()] = None,
) -> RightsRequestOut:
    reason_code = body.reason_code if body is not None else "rejected"
    return RightsRequestOut.of(vault.rights.reject_correction(str(request_id), reason_code=reason_code))


@router.post(
    "/restrictions",
    status_code=status.HTTP_201_CREATED,
    summary="Restrict processing",
    description="Restricts the processing of the subject's data at its request, until lifted: the records "
    "linked to it stop matching in checks. The request is recorded and completed at once (outcome "
    "`restricted`). Audited as `rights.request_open` and `rights.request_close`. 404 for an unknown subject. "
    "With an `Idempotency-Key`, the same request sent again answers with the same request and records nothing new.",
)
def restrict_processing(
    body: SubjectRequestCreate, vault: VaultDep, caller: SubjectsWrite, idempotency_key: IdempotencyKeyHeader = None
) -> RightsRequestOut:
    view = vault.rights.restrict_processing(
        str(body.subject_id),
        reference=body.reference,
        received_at=body.received_at,
        requester=body.requester,
        idempotency=idempotency_claim(caller.key_id, idempotency_key, "rights.restriction", body),
    )
    return RightsRequestOut.of(view)


@router.delete(
    "/restrictions/{subject_id}",
    summary="Lift a restriction of processing",
    description="Lifts the restriction placed at the subject's request (`lifted: false` when there was none; "
    "a pending correction's restriction stays until the correction is closed). Audited as "
    "`rights.restriction_lift`. 404 for a subject that does not exist or was shredded.",
)
def lift_restriction(subject_id: SubjectIdPath, vault: VaultDep, _caller: SubjectsWrite) -> RestrictionLifted:
    sid = str(subject_id)
    _subject_or_404(vault, sid)
    return RestrictionLifted(subject_id=sid, lifted=vault.rights.lift_restriction(sid))


@router.post(
    "/provisions",
    status_code=status.HTTP_201_CREATED,
    summary="Log a provision to a third party",
    description="Records that items of the subject's data (field names or category codes, `*` for all) "
    "were provided to a recipient, with the purpose, legal basis and retention: what a completed "
    "correction's `notify` and an access export are built from. The texts are about the provision, "
    "never personal data. Audited as `rights.provision` (item count). 404 for an unknown subject. With an "
    "`Idempotency-Key`, the same request sent again answers with the same provision and logs nothing new.",
)
def record_provision(
    body: ProvisionCreate, vault: VaultDep, caller: SubjectsWrite, idempotency_key: IdempotencyKeyHeader = None
) -> ProvisionOut:
    view = vault.rights.record_provision(
        str(body.subject_id),
        recipient=body.recipient,
        items=body.items,
        purpose=body.purpose,
        legal_basis=body.legal_basis,
        retention=body.retention,
        provided_at=body.provided_at,
        idempotency=idempotency_claim(caller.key_id, idempotency_key, "rights.provision", body),
    )
    return ProvisionOut.of(view)


@router.get(
    "/provisions/{subject_id}",
    summary="List a subject's provisions",
    description="The provisions of the subject's data to third parties, oldest first. 404 for a subject "
    "that does not exist or was shredded (erasure deletes its provisions log).",
)
def list_provisions(subject_id: SubjectIdPath, vault: VaultDep, _caller: SubjectsWrite) -> ProvisionList:
    sid = str(subject_id)
    _subject_or_404(vault, sid)
    return ProvisionList(items=[ProvisionOut.of(p) for p in vault.rights.provisions(sid)])


@router.get(
    "/notifications",
    summary="List notification tasks",
    description="The tasks of telling the recipients of a subject's data of its correction or erasure, oldest "
    "first: all, or those of one state (`pending` for what is still to do) or one subject. Kept after the "
    "subject's erasure, as the record that the recipients were told.",
)
def list_notifications(
    vault: VaultDep,
    _caller: SubjectsWrite,
    state: Annotated[Literal["pending", "notified", "failed"] | None, Query(description="Only this state.")] = None,
    subject_id: Annotated[UUID | None, Query(description="Only this subject's tasks.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> NotificationList:
    views = vault.rights.notifications(state=state, subject_id=str(subject_id) if subject_id else None, limit=limit)
    return NotificationList(items=[NotificationOut.of(v) for v in views])


@router.post(
    "/notifications/{notification_id}/close",
    summary="Record that a recipient was told",
    description="Marks a task `notified` (with the `means`, a code such as `email`, `letter` or `api`) or `failed` "
    "(it may be notified later). Audited as `rights.notification`. 404 for an unknown task, 409 for one "
    "notified already, 422 for `notified` without a means.",
)
def close_notification(
    notification_id: Annotated[UUID, Path(description="The task's id (a UUID).")],
    body: NotificationClose,
    vault: VaultDep,
    _caller: SubjectsWrite,
) -> NotificationOut:
    view = vault.rights.close_notification(str(notification_id), state=body.state, means=body.means, at=body.at)
    return NotificationOut.of(view)


@router.post(
    "/consents",
    status_code=status.HTTP_201_CREATED,
    summary="Record a consent",
    description="Records that the subject consented to a purpose (a code such as `keep_after_withdrawal` or "
    "`marketing`) under a version of the consent text (its label, never the text). 409 while a consent to "
    "the same purpose is in force; 404 for an unknown subject. Audited as `rights.consent_grant`. With an "
    "`Idempotency-Key`, the same request sent again answers with the same consent and records nothing new.",
)
def grant_consent(
    body: ConsentCreate, vault: VaultDep, caller: SubjectsWrite, idempotency_key: IdempotencyKeyHeader = None
) -> ConsentOut:
    view = vault.rights.grant_consent(
        str(body.subject_id), body.purpose, text_version=body.text_version, granted_at=body.granted_at,
        idempotency=idempotency_claim(caller.key_id, idempotency_key, "rights.consent", body),
    )
    return ConsentOut.of(view)


@router.post(
    "/consents/withdraw",
    summary="Withdraw a consent",
    description="Withdraws the subject's consent to a purpose, without delay (PIPA Art. 37(3)), and completes "
    "its open `consent_withdrawal` request (or the one named). 404 when no consent to it is in force. "
    "Audited as `rights.consent_withdraw`.",
)
def withdraw_consent(body: ConsentWithdraw, vault: VaultDep, _caller: SubjectsWrite) -> ConsentOut:
    view = vault.rights.withdraw_consent(
        str(body.subject_id), body.purpose, request_id=str(body.request_id) if body.request_id else None,
        withdrawn_at=body.withdrawn_at,
    )
    return ConsentOut.of(view)


@router.get(
    "/consents/{subject_id}",
    summary="List a subject's consents",
    description="The subject's consents, in force and withdrawn, oldest first (kept after its erasure: they "
    "are the evidence that processing had a basis; codes and times only).",
)
def list_consents(subject_id: SubjectIdPath, vault: VaultDep, _caller: SubjectsWrite) -> ConsentList:
    return ConsentList(items=[ConsentOut.of(c) for c in vault.rights.consents(str(subject_id))])


@router.post(
    "/requests",
    status_code=status.HTTP_201_CREATED,
    summary="Track a data subject's request",
    description=f"Records a request (access, correction, restriction or erasure) received at `received_at` "
    f"(default now), due {DEADLINE_DAYS} days later. An access export, a completed correction or an "
    "erasure completes the subject's open request of its kind; others are closed with "
    "`/requests/{request_id}/complete`. Audited as `rights.request_open`. 404 for an unknown subject. With an "
    "`Idempotency-Key`, the same request sent again answers with the same request and opens nothing new.",
)
def open_request(
    body: RightsRequestCreate, vault: VaultDep, caller: Admin, idempotency_key: IdempotencyKeyHeader = None
) -> RightsRequestOut:
    view = vault.rights.open_request(
        str(body.subject_id),
        body.kind,
        reference=body.reference,
        received_at=body.received_at,
        requester=body.requester,
        idempotency=idempotency_claim(caller.key_id, idempotency_key, "rights.request", body),
    )
    return RightsRequestOut.of(view)


@router.get(
    "/requests",
    summary="List requests by deadline",
    description="Requests by deadline, the earliest first: all of them, the open ones (`open=true`), or the "
    f"open ones past their {DEADLINE_DAYS}-day deadline (`overdue=true`); optionally one subject's.",
)
def list_requests(
    vault: VaultDep,
    _caller: Admin,
    overdue: Annotated[bool, Query(description="Only open requests past their deadline.")] = False,
    open_only: Annotated[bool, Query(alias="open", description="Only open requests.")] = False,
    subject_id: Annotated[UUID | None, Query(description="Only this subject's requests.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_REQUESTS_LISTED)] = 100,
) -> RightsRequestList:
    views = vault.rights.requests(
        overdue=overdue, open_only=open_only, subject_id=str(subject_id) if subject_id else None, limit=limit
    )
    return RightsRequestList(items=[RightsRequestOut.of(v) for v in views])


@router.post(
    "/requests/{request_id}/complete",
    summary="Close a request",
    description="Closes an open request as completed (or rejected, with `rejected: true`) with an outcome "
    "code; the body may be left out (`completed`). Audited as `rights.request_close`, which records whether "
    "it was late. 404 for an unknown request, 409 for one already closed.",
)
def complete_request(
    request_id: RequestIdPath,
    vault: VaultDep,
    _caller: Admin,
    body: Annotated[RequestComplete | None, Body()] = None,
) -> RightsRequestOut:
    body = body if body is not None else RequestComplete()
    view = vault.rights.complete_request(str(request_id), outcome=body.outcome, rejected=body.rejected)
    return RightsRequestOut.of(view)
