"""The synchronous client, made from ``_async_client.py`` by ``tools/regenerate.py`` (unasync):
do not edit; change the asynchronous one and regenerate."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, TypeVar
from uuid import UUID

import httpx

from pseudovault_client import models as m
from pseudovault_client._base import (
    Call,
    RetryPolicy,
    _sleep,
    body,
    idempotent,
    model,
    not_sent,
    path,
    query,
    receipt,
    require_safe_transport,
    retry_after,
    should_retry,
    text,
)
from pseudovault_client.errors import TransportError
from pseudovault_client.receipts import Receipt

__all__ = ["Client"]

T = TypeVar("T")
Id = str | UUID
Body = Mapping[str, Any]


class Client:
    """A pseudovault API client. ``AsyncClient("https://vault.internal", token="pvk_...")``.

    Operations are grouped as the API is: ``subjects``, ``records``, ``checks``, ``erasure``,
    ``holds``, ``retention``, ``rights``, ``separated``, ``keys``, ``audit``, ``apikeys``,
    ``webhooks``; ``status``, ``healthz``, ``readyz`` and ``metrics`` are on the client. A body
    is given as its model (``m.SubjectCreate(...)``) or as a mapping, checked against the model
    before anything is sent. Failures raise :mod:`pseudovault_client.errors`.

    ``http``: an ``httpx`` client of your own (its base URL, TLS and proxy settings are used; the
    token is added to each request). Use the client as a context manager, or call ``aclose``.

    The token is a bearer secret: it is sent over ``https``, or over ``http`` to this machine
    (``localhost``, ``127.0.0.1``, ``::1``) only, unless ``insecure_http`` says otherwise.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        http: httpx.Client | None = None,
        insecure_http: bool = False,
    ) -> None:
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(base_url=base_url, timeout=timeout)
        if token and not insecure_http:
            require_safe_transport(self._http.base_url)
        self._auth = _Bearer(token)
        self._retry = retry or RetryPolicy()
        self.base_url = str(self._http.base_url)
        self.subjects = SyncSubjects(self)
        self.records = SyncRecords(self)
        self.checks = SyncChecks(self)
        self.erasure = SyncErasure(self)
        self.holds = SyncHolds(self)
        self.retention = SyncRetention(self)
        self.rights = SyncRights(self)
        self.separated = SyncSeparated(self)
        self.keys = SyncKeys(self)
        self.audit = SyncAudit(self)
        self.apikeys = SyncApiKeys(self)
        self.webhooks = SyncWebhooks(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def use_token(self, token: str) -> None:
        """Send ``token`` from now on (after a rotation: ``apikeys.rotate_own``)."""
        self._auth = _Bearer(token)

    def send(self, call: Call[T]) -> T:
        """Send ``call``, retried as the retry policy allows, and read its answer."""
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    call.method, call.url, params=call.params, json=call.json, headers={**self._auth.headers(), **call.headers}
                )
            except httpx.TransportError as exc:
                if should_retry(call, attempt, self._retry, status=None, sent=not not_sent(exc)):
                    _sleep(self._retry.delay(attempt, None))
                    attempt += 1
                    continue
                raise TransportError(f"{call.method} {call.url}: {type(exc).__name__}") from exc
            if should_retry(call, attempt, self._retry, status=response.status_code, sent=True):
                _sleep(self._retry.delay(attempt, retry_after(response)))
                attempt += 1
                continue
            return call.parse(response)

    # --- the vault at a glance -----------------------------------------------------------

    def status(self) -> m.StatusOut:
        """``GET /v1/status`` (admin): counts and times, no PII."""
        return self.send(Call("GET", "/v1/status", model(m.StatusOut), repeatable=True))

    def healthz(self) -> m.Health:
        return self.send(Call("GET", "/healthz", model(m.Health), repeatable=True))

    def readyz(self) -> m.Readiness:
        """Readiness; a vault that is not ready answers 503 (:class:`errors.Unavailable`)."""
        return self.send(Call("GET", "/readyz", model(m.Readiness), repeatable=True))

    def metrics(self) -> str:
        """The Prometheus exposition text."""
        return self.send(Call("GET", "/metrics", text, repeatable=True))


class _Bearer:
    """The token, sent as ``Authorization: Bearer``; never shown in a repr."""

    __slots__ = ("_token",)

    def __init__(self, token: str | None) -> None:
        self._token = token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def __repr__(self) -> str:
        return "_Bearer(***)" if self._token else "_Bearer(None)"


class _Group:
    def __init__(self, client: Client) -> None:
        self._client = client


class SyncSubjects(_Group):
    def create(
        self, subject: m.SubjectCreate | Body, *, idempotency_key: str | None = None
    ) -> m.SubjectCreated:
        """A subject from ``{"fields": {name: value}, "categories"?: ...}``; sent with an
        ``Idempotency-Key`` (``idempotency_key`` or a new one), so a retry creates nothing new."""
        call = Call("POST", "/v1/subjects", model(m.SubjectCreated), json=body(m.SubjectCreate, subject))
        return self._client.send(idempotent(call, idempotency_key))

    def list(self, *, after: str | None = None, limit: int | None = None) -> m.SubjectPage:
        call = Call("GET", "/v1/subjects", model(m.SubjectPage), params=query(after=after, limit=limit), repeatable=True)
        return self._client.send(call)

    def iterate(self, *, limit: int | None = None) -> Iterator[m.SubjectSummary]:
        """Every subject, page after page."""
        after: str | None = None
        while True:
            page = self.list(after=after, limit=limit)
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            after = page.next_cursor

    def reveal(self, subject_id: Id, *, purpose: str, fields: Sequence[str] | None = None) -> m.RevealedFields:
        """The decrypted fields (all, or ``fields``); audited with ``purpose``."""
        request = body(m.RevealRequest, {"purpose": purpose, **({"fields": [*fields]} if fields is not None else {})})
        call = Call("POST", path("/v1/subjects/{id}/reveal", id=subject_id), model(m.RevealedFields), json=request)
        return self._client.send(call)

    def verify(self, subject_id: Id, *, field: str, value: str) -> m.FieldVerifyResult:
        """Whether ``value`` is what the one-way field ``field`` holds."""
        request = body(m.FieldVerifyRequest, {"field": field, "value": value})
        call = Call("POST", path("/v1/subjects/{id}/verify", id=subject_id), model(m.FieldVerifyResult), json=request)
        return self._client.send(call)

    def update(self, subject_id: Id, fields: Mapping[str, str | None]) -> m.SubjectUpdated:
        """Set, add, or (with None) delete fields."""
        request = body(m.SubjectUpdate, {"fields": dict(fields)})
        call = Call("PATCH", path("/v1/subjects/{id}", id=subject_id), model(m.SubjectUpdated), json=request)
        return self._client.send(call)

    def shred(self, subject_id: Id, *, reason: str | None = None) -> m.ShredReceipt:
        """Crypto-shred the subject (scope ``erasure``); shredding again answers ``already``."""
        url = path("/v1/subjects/{id}", id=subject_id)
        call = Call("DELETE", url, model(m.ShredReceipt), params=query(reason=reason), repeatable=True)
        return self._client.send(call)

    def categories(self, subject_id: Id) -> m.SubjectCategories:
        url = path("/v1/subjects/{id}/categories", id=subject_id)
        return self._client.send(Call("GET", url, model(m.SubjectCategories), repeatable=True))

    def categorize(self, subject_id: Id, categories: Mapping[str, Sequence[str] | None]) -> m.RetentionItems:
        request = body(m.CategorizeRequest, {"categories": {k: None if v is None else [*v] for k, v in categories.items()}})
        url = path("/v1/subjects/{id}/categories", id=subject_id)
        return self._client.send(Call("POST", url, model(m.RetentionItems), json=request))

    def record_event(self, subject_id: Id, event: m.EventRequest | Body) -> m.RetentionItems:
        url = path("/v1/subjects/{id}/events", id=subject_id)
        return self._client.send(Call("POST", url, model(m.RetentionItems), json=body(m.EventRequest, event)))

    def preview_event(self, subject_id: Id, event: m.EventPreviewRequest | Body) -> m.EventPreviewOut:
        url = path("/v1/subjects/{id}/events/preview", id=subject_id)
        call = Call("POST", url, model(m.EventPreviewOut), json=body(m.EventPreviewRequest, event), repeatable=True)
        return self._client.send(call)


class SyncChecks(_Group):
    def check(
        self, identifiers: Sequence[m.Identifier | Body] | Mapping[str, str], *, domain: str | None = None
    ) -> m.CheckDecision:
        """One signup: ``[{"kind": "email", "value": ...}, ...]``, or ``{"email": ..., "phone": ...}``."""
        request = body(m.CheckRequest, {"identifiers": _identifiers(identifiers), **_domain(domain)})
        return self._client.send(Call("POST", "/v1/checks", model(m.CheckDecision), json=request, repeatable=True))

    def batch(
        self, signups: Sequence[Sequence[m.Identifier | Body] | Mapping[str, str]], *, domain: str | None = None
    ) -> m.CheckBatchResponse:
        """Many signups at once; the decisions come back in order."""
        request = body(
            m.CheckBatchRequest,
            {"signups": [{"identifiers": _identifiers(signup)} for signup in signups], **_domain(domain)},
        )
        call = Call("POST", "/v1/checks/batch", model(m.CheckBatchResponse), json=request, repeatable=True)
        return self._client.send(call)


def _identifiers(identifiers: Sequence[m.Identifier | Body] | Mapping[str, str]) -> list[Any]:
    if isinstance(identifiers, Mapping):
        return [{"kind": kind, "value": value} for kind, value in identifiers.items()]
    return [i.model_dump(mode="json", exclude_unset=True) if isinstance(i, m.Identifier) else dict(i) for i in identifiers]


def _domain(domain: str | None) -> dict[str, str]:
    return {"domain": domain} if domain is not None else {}


class SyncRecords(_Group):
    def create(self, record: m.RecordCreate | Body, *, idempotency_key: str | None = None) -> m.RecordOut:
        """A fraud record; sent with an ``Idempotency-Key``, so a retry creates nothing new."""
        call = Call("POST", "/v1/records", model(m.RecordOut), json=body(m.RecordCreate, record))
        return self._client.send(idempotent(call, idempotency_key))

    def get(self, record_id: Id) -> m.RecordOut:
        url = path("/v1/records/{id}", id=record_id)
        return self._client.send(Call("GET", url, model(m.RecordOut), repeatable=True))

    def list(
        self,
        *,
        status: str | None = None,
        category: str | None = None,
        domain: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> m.RecordPageOut:
        params = query(status=status, category=category, domain=domain, cursor=cursor, limit=limit)
        return self._client.send(Call("GET", "/v1/records", model(m.RecordPageOut), params=params, repeatable=True))

    def iterate(
        self, *, status: str | None = None, category: str | None = None, domain: str | None = None, limit: int | None = None
    ) -> Iterator[m.RecordOut]:
        """Every record (of that status, category, domain), page after page, in creation order."""
        cursor: str | None = None
        while True:
            page = self.list(status=status, category=category, domain=domain, cursor=cursor, limit=limit)
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def find(self, kind: str, value: str, *, domain: str | None = None) -> m.RecordList:
        """Every record (any status) holding the identifier; sent in the body, never the URL."""
        request = body(m.FindRequest, {"identifier": {"kind": kind, "value": value}, **_domain(domain)})
        return self._client.send(Call("POST", "/v1/records/find", model(m.RecordList), json=request, repeatable=True))

    def update(self, record_id: Id, changes: m.RecordUpdate | Body) -> m.RecordOut:
        url = path("/v1/records/{id}", id=record_id)
        return self._client.send(Call("PATCH", url, model(m.RecordOut), json=body(m.RecordUpdate, changes)))

    def revoke(self, record_id: Id, *, reason_code: str) -> m.RecordOut:
        """Final: the record never matches again. Revoking again changes nothing."""
        url = path("/v1/records/{id}/revoke", id=record_id)
        request = body(m.RevokeRequest, {"reason_code": reason_code})
        return self._client.send(Call("POST", url, model(m.RecordOut), json=request, repeatable=True))

    def reveal(self, record_id: Id, *, purpose: str) -> m.RecordTextOut:
        """The record's reason, evidence and notes, decrypted; audited with ``purpose``."""
        url = path("/v1/records/{id}/reveal", id=record_id)
        request = body(m.RecordRevealRequest, {"purpose": purpose})
        return self._client.send(Call("POST", url, model(m.RecordTextOut), json=request))

    def record_event(self, record_id: Id, event: m.EventRequest | Body) -> m.RetentionItems:
        url = path("/v1/records/{id}/events", id=record_id)
        return self._client.send(Call("POST", url, model(m.RetentionItems), json=body(m.EventRequest, event)))

    def preview_event(self, record_id: Id, event: m.EventPreviewRequest | Body) -> m.EventPreviewOut:
        url = path("/v1/records/{id}/events/preview", id=record_id)
        call = Call("POST", url, model(m.EventPreviewOut), json=body(m.EventPreviewRequest, event), repeatable=True)
        return self._client.send(call)


class SyncErasure(_Group):
    def request(self, subject_id: Id, *, request_id: str | None = None) -> m.ErasureOut:
        """Erase the subject and get the signed receipt. With ``request_id`` (your ticket id) a
        repeat answers the first receipt, so the call is retried safely."""
        request = body(m.ErasureCreate, {"subject_id": str(subject_id), **({"request_id": request_id} if request_id else {})})
        call = Call("POST", "/v1/erasure-requests", model(m.ErasureOut), json=request, repeatable=request_id is not None)
        return self._client.send(call)

    def receipt(self, request_id: str) -> Receipt:
        """The receipt file of erasure request ``request_id``, byte for byte."""
        url = path("/v1/erasure-requests/{id}", id=request_id)
        call = Call("GET", url, receipt, headers={"Accept": "application/octet-stream"}, repeatable=True)
        return self._client.send(call)

    def receipt_of_subject(self, subject_id: Id) -> Receipt:
        """The receipt file of the subject's erasure, byte for byte."""
        call = Call(
            "GET", "/v1/erasure-requests", receipt, params=query(subject_id=subject_id),
            headers={"Accept": "application/octet-stream"}, repeatable=True,
        )
        return self._client.send(call)

    def verify(self, document: bytes, *, public_key: str | None = None) -> m.VerifyOut:
        """The vault's verdict on a receipt file (it also checks the key is one of its own);
        :func:`pseudovault_client.verify_receipt` checks one offline."""
        request = body(
            m.ReceiptVerifyRequest,
            {"document": bytes(document).decode("utf-8"), **({"public_key": public_key} if public_key else {})},
        )
        call = Call("POST", "/v1/erasure-requests/verify-receipt", model(m.VerifyOut), json=request, repeatable=True)
        return self._client.send(call)


class SyncHolds(_Group):
    def place(self, hold: m.HoldCreate | Body, *, idempotency_key: str | None = None) -> m.HoldOut:
        call = Call("POST", "/v1/holds", model(m.HoldOut), json=body(m.HoldCreate, hold))
        return self._client.send(idempotent(call, idempotency_key))

    def list(self, *, all: bool | None = None, target_id: Id | None = None, limit: int | None = None) -> m.HoldList:  # noqa: A002
        params = query(all=all, target_id=target_id, limit=limit)
        return self._client.send(Call("GET", "/v1/holds", model(m.HoldList), params=params, repeatable=True))

    def get(self, hold_id: Id) -> m.HoldOut:
        url = path("/v1/holds/{id}", id=hold_id)
        return self._client.send(Call("GET", url, model(m.HoldOut), repeatable=True))

    def release(self, hold_id: Id, *, reason_code: str | None = None) -> m.HoldOut:
        url = path("/v1/holds/{id}/release", id=hold_id)
        request = body(m.HoldRelease, {"reason_code": reason_code} if reason_code else {})
        return self._client.send(Call("POST", url, model(m.HoldOut), json=request, repeatable=True))


class SyncRetention(_Group):
    def policies(self) -> m.PolicySetOut:
        return self._client.send(Call("GET", "/v1/retention/policies", model(m.PolicySetOut), repeatable=True))

    def diff(self, policies_toml: str) -> m.PolicyDiffOut:
        """What a policy file would move earlier or later; changes nothing."""
        request = body(m.PolicyDiffRequest, {"policies": policies_toml})
        call = Call("POST", "/v1/retention/policies/diff", model(m.PolicyDiffOut), json=request, repeatable=True)
        return self._client.send(call)

    def apply(self, *, dry_run: bool | None = None) -> m.PolicyDiffOut:
        """Recompute stored due dates under the policies in force."""
        request = body(m.ApplyRequest, {"dry_run": dry_run} if dry_run is not None else {})
        return self._client.send(Call("POST", "/v1/retention/policies/apply", model(m.PolicyDiffOut), json=request))

    def report(self, *, days: int | None = None) -> m.ReportOut:
        params = query(days=days)
        return self._client.send(Call("GET", "/v1/retention/report", model(m.ReportOut), params=params, repeatable=True))

    def notice(self, *, lang: Literal["ko", "en"] | None = None, format: Literal["md", "html"] | None = None) -> str:  # noqa: A002
        """The retention section of a privacy policy, from the policies in force."""
        params = query(lang=lang, format=format)
        return self._client.send(Call("GET", "/v1/retention/notice", text, params=params, repeatable=True))

    def sweep(self, *, dry_run: bool | None = None, batch_size: int | None = None) -> m.SweepOut:
        request = body(m.SweepRequest, {k: v for k, v in {"dry_run": dry_run, "batch_size": batch_size}.items() if v is not None})
        return self._client.send(Call("POST", "/v1/retention/sweep", model(m.SweepOut), json=request))

    def items(self, target_id: Id) -> m.RetentionItems:
        url = path("/v1/retention/items/{id}", id=target_id)
        return self._client.send(Call("GET", url, model(m.RetentionItems), repeatable=True))

    def review(self, item_id: Id, review: m.ReviewRequest | Body) -> m.RetentionItemOut:
        url = path("/v1/retention/items/{id}/review", id=item_id)
        return self._client.send(Call("POST", url, model(m.RetentionItemOut), json=body(m.ReviewRequest, review)))


class SyncRights(_Group):
    def access_export(self, subject_id: Id, *, purpose: str, request_id: Id | None = None) -> m.AccessExport:
        """Everything held about the subject, decrypted; audited with ``purpose``."""
        request = body(
            m.AccessExportRequest,
            {"subject_id": str(subject_id), "purpose": purpose, **({"request_id": str(request_id)} if request_id else {})},
        )
        return self._client.send(Call("POST", "/v1/rights/access-export", model(m.AccessExport), json=request))

    def open_correction(
        self, request: m.SubjectRequestCreate | Body, *, idempotency_key: str | None = None
    ) -> m.RightsRequestOut:
        call = Call("POST", "/v1/rights/corrections", model(m.RightsRequestOut), json=body(m.SubjectRequestCreate, request))
        return self._client.send(idempotent(call, idempotency_key))

    def complete_correction(self, request_id: Id, fields: Mapping[str, str | None]) -> m.CorrectionResultOut:
        url = path("/v1/rights/corrections/{id}/complete", id=request_id)
        request = body(m.CorrectionComplete, {"fields": dict(fields)})
        return self._client.send(Call("POST", url, model(m.CorrectionResultOut), json=request))

    def reject_correction(self, request_id: Id, *, reason_code: str | None = None) -> m.RightsRequestOut:
        url = path("/v1/rights/corrections/{id}/reject", id=request_id)
        request = body(m.CorrectionReject, {"reason_code": reason_code} if reason_code else {})
        return self._client.send(Call("POST", url, model(m.RightsRequestOut), json=request))

    def restrict(
        self, request: m.SubjectRequestCreate | Body, *, idempotency_key: str | None = None
    ) -> m.RightsRequestOut:
        call = Call("POST", "/v1/rights/restrictions", model(m.RightsRequestOut), json=body(m.SubjectRequestCreate, request))
        return self._client.send(idempotent(call, idempotency_key))

    def lift_restriction(self, subject_id: Id) -> m.RestrictionLifted:
        url = path("/v1/rights/restrictions/{id}", id=subject_id)
        return self._client.send(Call("DELETE", url, model(m.RestrictionLifted), repeatable=True))

    def record_provision(
        self, provision: m.ProvisionCreate | Body, *, idempotency_key: str | None = None
    ) -> m.ProvisionOut:
        call = Call("POST", "/v1/rights/provisions", model(m.ProvisionOut), json=body(m.ProvisionCreate, provision))
        return self._client.send(idempotent(call, idempotency_key))

    def provisions(self, subject_id: Id) -> m.ProvisionList:
        url = path("/v1/rights/provisions/{id}", id=subject_id)
        return self._client.send(Call("GET", url, model(m.ProvisionList), repeatable=True))

    def notifications(
        self, *, state: str | None = None, subject_id: Id | None = None, limit: int | None = None
    ) -> m.NotificationList:
        params = query(state=state, subject_id=subject_id, limit=limit)
        call = Call("GET", "/v1/rights/notifications", model(m.NotificationList), params=params, repeatable=True)
        return self._client.send(call)

    def close_notification(self, notification_id: Id, close: m.NotificationClose | Body) -> m.NotificationOut:
        url = path("/v1/rights/notifications/{id}/close", id=notification_id)
        return self._client.send(Call("POST", url, model(m.NotificationOut), json=body(m.NotificationClose, close)))

    def grant_consent(self, consent: m.ConsentCreate | Body, *, idempotency_key: str | None = None) -> m.ConsentOut:
        call = Call("POST", "/v1/rights/consents", model(m.ConsentOut), json=body(m.ConsentCreate, consent))
        return self._client.send(idempotent(call, idempotency_key))

    def withdraw_consent(self, withdrawal: m.ConsentWithdraw | Body) -> m.ConsentOut:
        request = body(m.ConsentWithdraw, withdrawal)
        return self._client.send(Call("POST", "/v1/rights/consents/withdraw", model(m.ConsentOut), json=request))

    def consents(self, subject_id: Id) -> m.ConsentList:
        url = path("/v1/rights/consents/{id}", id=subject_id)
        return self._client.send(Call("GET", url, model(m.ConsentList), repeatable=True))

    def open_request(
        self, request: m.RightsRequestCreate | Body, *, idempotency_key: str | None = None
    ) -> m.RightsRequestOut:
        call = Call("POST", "/v1/rights/requests", model(m.RightsRequestOut), json=body(m.RightsRequestCreate, request))
        return self._client.send(idempotent(call, idempotency_key))

    def requests(
        self,
        *,
        overdue: bool | None = None,
        open: bool | None = None,  # noqa: A002
        subject_id: Id | None = None,
        limit: int | None = None,
    ) -> m.RightsRequestList:
        params = query(overdue=overdue, open=open, subject_id=subject_id, limit=limit)
        call = Call("GET", "/v1/rights/requests", model(m.RightsRequestList), params=params, repeatable=True)
        return self._client.send(call)

    def complete_request(self, request_id: Id, completion: m.RequestComplete | Body | None = None) -> m.RightsRequestOut:
        url = path("/v1/rights/requests/{id}/complete", id=request_id)
        request = body(m.RequestComplete, completion or {})
        return self._client.send(Call("POST", url, model(m.RightsRequestOut), json=request))


class SyncSeparated(_Group):
    def list(self, *, subject_id: Id | None = None, limit: int | None = None) -> m.SeparatedList:
        params = query(subject_id=subject_id, limit=limit)
        return self._client.send(Call("GET", "/v1/separated", model(m.SeparatedList), params=params, repeatable=True))

    def read(self, item_id: Id, *, purpose: str) -> m.SeparatedValues:
        """An item in separate storage, decrypted; audited with ``purpose`` (the legal request)."""
        url = path("/v1/separated/{id}/read", id=item_id)
        request = body(m.SeparatedReadRequest, {"purpose": purpose})
        return self._client.send(Call("POST", url, model(m.SeparatedValues), json=request))

    def read_record(self, record_id: Id, *, purpose: str) -> m.SeparatedRecordText:
        url = path("/v1/separated/records/{id}/read", id=record_id)
        request = body(m.SeparatedReadRequest, {"purpose": purpose})
        return self._client.send(Call("POST", url, model(m.SeparatedRecordText), json=request))


class SyncKeys(_Group):
    def status(self) -> m.KeyStatus:
        return self._client.send(Call("GET", "/v1/keys", model(m.KeyStatus), repeatable=True))

    def rotate(self) -> m.Rotation:
        return self._client.send(Call("POST", "/v1/keys/rotate", model(m.Rotation)))

    def rewrap(self, *, batch_size: int | None = None) -> m.RewrapResult:
        """Move every wrapped key to the current keys; resumable, so safe to send again."""
        params = query(batch_size=batch_size)
        return self._client.send(Call("POST", "/v1/keys/rewrap", model(m.RewrapResult), params=params, repeatable=True))


class SyncAudit(_Group):
    def list(
        self,
        *,
        action: str | None = None,
        actor_id: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: int | None = None,
        limit: int | None = None,
    ) -> m.AuditPage:
        params = query(action=action, actor_id=actor_id, target=target, since=since, until=until, cursor=cursor, limit=limit)
        return self._client.send(Call("GET", "/v1/audit", model(m.AuditPage), params=params, repeatable=True))

    def iterate(
        self,
        *,
        action: str | None = None,
        actor_id: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> Iterator[m.AuditEntry]:
        """Every matching entry, in sequence order, page after page."""
        cursor: int | None = None
        while True:
            page = self.list(
                action=action, actor_id=actor_id, target=target, since=since, until=until, cursor=cursor, limit=limit
            )
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def verify(self) -> m.VerifyReport:
        return self._client.send(Call("GET", "/v1/audit/verify", model(m.VerifyReport), repeatable=True))

    def checkpoint(self) -> m.Checkpoint:
        return self._client.send(Call("POST", "/v1/audit/checkpoint", model(m.Checkpoint)))

    def acknowledge_restore(self) -> m.RestoreAcknowledged:
        """Record that the data store was restored from a backup (409 when there is nothing to
        acknowledge, or the restored chain is itself broken). Never retried."""
        return self._client.send(Call("POST", "/v1/audit/acknowledge-restore", model(m.RestoreAcknowledged)))


class SyncApiKeys(_Group):
    def own(self) -> m.ApiKeyOut:
        """The entry of the key this client calls with."""
        return self._client.send(Call("GET", "/v1/apikeys/self", model(m.ApiKeyOut), repeatable=True))

    def rotate_own(self, *, grace_seconds: int, use: bool = True) -> m.ApiKeyIssued:
        """A new token for this client's key; the one it replaces works for ``grace_seconds``.
        With ``use`` the client sends the new token from now on. Never retried: a second
        rotation would replace the first's token."""
        request = body(m.ApiKeyRotate, {"grace_seconds": grace_seconds})
        issued = self._client.send(Call("POST", "/v1/apikeys/self/rotate", model(m.ApiKeyIssued), json=request))
        if use:
            self._client.use_token(issued.token)
        return issued

    def list(self, *, active: bool | None = None) -> m.ApiKeyList:
        params = query(active=active)
        return self._client.send(Call("GET", "/v1/apikeys", model(m.ApiKeyList), params=params, repeatable=True))

    def get(self, key_id: str) -> m.ApiKeyOut:
        url = path("/v1/apikeys/{id}", id=key_id)
        return self._client.send(Call("GET", url, model(m.ApiKeyOut), repeatable=True))

    def revoke(self, key_id: str) -> m.ApiKeyOut:
        url = path("/v1/apikeys/{id}/revoke", id=key_id)
        return self._client.send(Call("POST", url, model(m.ApiKeyOut), repeatable=True))


class SyncWebhooks(_Group):
    def deliveries(self, *, state: str | None = None, limit: int | None = None) -> m.DeliveryList:
        params = query(state=state, limit=limit)
        call = Call("GET", "/v1/webhooks/deliveries", model(m.DeliveryList), params=params, repeatable=True)
        return self._client.send(call)
