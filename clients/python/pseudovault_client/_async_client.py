"""The asynchronous client. ``_sync_client.py`` is made from this file by ``tools/regenerate.py``
(unasync): change this one, then regenerate; a test fails when the two differ."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, TypeVar
from uuid import UUID

import httpx

from pseudovault_client import models as m
from pseudovault_client._base import (
    Call,
    RetryPolicy,
    _async_sleep,
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

__all__ = ["AsyncClient"]

T = TypeVar("T")
Id = str | UUID
Body = Mapping[str, Any]


class AsyncClient:
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
        http: httpx.AsyncClient | None = None,
        insecure_http: bool = False,
    ) -> None:
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(base_url=base_url, timeout=timeout)
        if token and not insecure_http:
            require_safe_transport(self._http.base_url)
        self._auth = _Bearer(token)
        self._retry = retry or RetryPolicy()
        self.base_url = str(self._http.base_url)
        self.subjects = AsyncSubjects(self)
        self.records = AsyncRecords(self)
        self.checks = AsyncChecks(self)
        self.erasure = AsyncErasure(self)
        self.holds = AsyncHolds(self)
        self.retention = AsyncRetention(self)
        self.rights = AsyncRights(self)
        self.separated = AsyncSeparated(self)
        self.keys = AsyncKeys(self)
        self.audit = AsyncAudit(self)
        self.apikeys = AsyncApiKeys(self)
        self.webhooks = AsyncWebhooks(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    def use_token(self, token: str) -> None:
        """Send ``token`` from now on (after a rotation: ``apikeys.rotate_own``)."""
        self._auth = _Bearer(token)

    async def send(self, call: Call[T]) -> T:
        """Send ``call``, retried as the retry policy allows, and read its answer."""
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    call.method, call.url, params=call.params, json=call.json, headers={**self._auth.headers(), **call.headers}
                )
            except httpx.TransportError as exc:
                if should_retry(call, attempt, self._retry, status=None, sent=not not_sent(exc)):
                    await _async_sleep(self._retry.delay(attempt, None))
                    attempt += 1
                    continue
                raise TransportError(f"{call.method} {call.url}: {type(exc).__name__}") from exc
            if should_retry(call, attempt, self._retry, status=response.status_code, sent=True):
                await _async_sleep(self._retry.delay(attempt, retry_after(response)))
                attempt += 1
                continue
            return call.parse(response)

    # --- the vault at a glance -----------------------------------------------------------

    async def status(self) -> m.StatusOut:
        """``GET /v1/status`` (admin): counts and times, no PII."""
        return await self.send(Call("GET", "/v1/status", model(m.StatusOut), repeatable=True))

    async def healthz(self) -> m.Health:
        return await self.send(Call("GET", "/healthz", model(m.Health), repeatable=True))

    async def readyz(self) -> m.Readiness:
        """Readiness; a vault that is not ready answers 503 (:class:`errors.Unavailable`)."""
        return await self.send(Call("GET", "/readyz", model(m.Readiness), repeatable=True))

    async def metrics(self) -> str:
        """The Prometheus exposition text."""
        return await self.send(Call("GET", "/metrics", text, repeatable=True))


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
    def __init__(self, client: AsyncClient) -> None:
        self._client = client


class AsyncSubjects(_Group):
    async def create(
        self, subject: m.SubjectCreate | Body, *, idempotency_key: str | None = None
    ) -> m.SubjectCreated:
        """A subject from ``{"fields": {name: value}, "categories"?: ...}``; sent with an
        ``Idempotency-Key`` (``idempotency_key`` or a new one), so a retry creates nothing new."""
        call = Call("POST", "/v1/subjects", model(m.SubjectCreated), json=body(m.SubjectCreate, subject))
        return await self._client.send(idempotent(call, idempotency_key))

    async def list(self, *, after: str | None = None, limit: int | None = None) -> m.SubjectPage:
        call = Call("GET", "/v1/subjects", model(m.SubjectPage), params=query(after=after, limit=limit), repeatable=True)
        return await self._client.send(call)

    async def iterate(self, *, limit: int | None = None) -> AsyncIterator[m.SubjectSummary]:
        """Every subject, page after page."""
        after: str | None = None
        while True:
            page = await self.list(after=after, limit=limit)
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            after = page.next_cursor

    async def reveal(self, subject_id: Id, *, purpose: str, fields: Sequence[str] | None = None) -> m.RevealedFields:
        """The decrypted fields (all, or ``fields``); audited with ``purpose``."""
        request = body(m.RevealRequest, {"purpose": purpose, **({"fields": [*fields]} if fields is not None else {})})
        call = Call("POST", path("/v1/subjects/{id}/reveal", id=subject_id), model(m.RevealedFields), json=request)
        return await self._client.send(call)

    async def verify(self, subject_id: Id, *, field: str, value: str) -> m.FieldVerifyResult:
        """Whether ``value`` is what the one-way field ``field`` holds."""
        request = body(m.FieldVerifyRequest, {"field": field, "value": value})
        call = Call("POST", path("/v1/subjects/{id}/verify", id=subject_id), model(m.FieldVerifyResult), json=request)
        return await self._client.send(call)

    async def update(self, subject_id: Id, fields: Mapping[str, str | None]) -> m.SubjectUpdated:
        """Set, add, or (with None) delete fields."""
        request = body(m.SubjectUpdate, {"fields": dict(fields)})
        call = Call("PATCH", path("/v1/subjects/{id}", id=subject_id), model(m.SubjectUpdated), json=request)
        return await self._client.send(call)

    async def shred(self, subject_id: Id, *, reason: str | None = None) -> m.ShredReceipt:
        """Crypto-shred the subject (scope ``erasure``); shredding again answers ``already``."""
        url = path("/v1/subjects/{id}", id=subject_id)
        call = Call("DELETE", url, model(m.ShredReceipt), params=query(reason=reason), repeatable=True)
        return await self._client.send(call)

    async def categories(self, subject_id: Id) -> m.SubjectCategories:
        url = path("/v1/subjects/{id}/categories", id=subject_id)
        return await self._client.send(Call("GET", url, model(m.SubjectCategories), repeatable=True))

    async def categorize(self, subject_id: Id, categories: Mapping[str, Sequence[str] | None]) -> m.RetentionItems:
        request = body(m.CategorizeRequest, {"categories": {k: None if v is None else [*v] for k, v in categories.items()}})
        url = path("/v1/subjects/{id}/categories", id=subject_id)
        return await self._client.send(Call("POST", url, model(m.RetentionItems), json=request))

    async def record_event(self, subject_id: Id, event: m.EventRequest | Body) -> m.RetentionItems:
        url = path("/v1/subjects/{id}/events", id=subject_id)
        return await self._client.send(Call("POST", url, model(m.RetentionItems), json=body(m.EventRequest, event)))

    async def preview_event(self, subject_id: Id, event: m.EventPreviewRequest | Body) -> m.EventPreviewOut:
        url = path("/v1/subjects/{id}/events/preview", id=subject_id)
        call = Call("POST", url, model(m.EventPreviewOut), json=body(m.EventPreviewRequest, event), repeatable=True)
        return await self._client.send(call)


class AsyncChecks(_Group):
    async def check(
        self, identifiers: Sequence[m.Identifier | Body] | Mapping[str, str], *, domain: str | None = None
    ) -> m.CheckDecision:
        """One signup: ``[{"kind": "email", "value": ...}, ...]``, or ``{"email": ..., "phone": ...}``."""
        request = body(m.CheckRequest, {"identifiers": _identifiers(identifiers), **_domain(domain)})
        return await self._client.send(Call("POST", "/v1/checks", model(m.CheckDecision), json=request, repeatable=True))

    async def batch(
        self, signups: Sequence[Sequence[m.Identifier | Body] | Mapping[str, str]], *, domain: str | None = None
    ) -> m.CheckBatchResponse:
        """Many signups at once; the decisions come back in order."""
        request = body(
            m.CheckBatchRequest,
            {"signups": [{"identifiers": _identifiers(signup)} for signup in signups], **_domain(domain)},
        )
        call = Call("POST", "/v1/checks/batch", model(m.CheckBatchResponse), json=request, repeatable=True)
        return await self._client.send(call)


def _identifiers(identifiers: Sequence[m.Identifier | Body] | Mapping[str, str]) -> list[Any]:
    if isinstance(identifiers, Mapping):
        return [{"kind": kind, "value": value} for kind, value in identifiers.items()]
    return [i.model_dump(mode="json", exclude_unset=True) if isinstance(i, m.Identifier) else dict(i) for i in identifiers]


def _domain(domain: str | None) -> dict[str, str]:
    return {"domain": domain} if domain is not None else {}


class AsyncRecords(_Group):
    async def create(self, record: m.RecordCreate | Body, *, idempotency_key: str | None = None) -> m.RecordOut:
        """A fraud record; sent with an ``Idempotency-Key``, so a retry creates nothing new."""
        call = Call("POST", "/v1/records", model(m.RecordOut), json=body(m.RecordCreate, record))
        return await self._client.send(idempotent(call, idempotency_key))

    async def get(self, record_id: Id) -> m.RecordOut:
        url = path("/v1/records/{id}", id=record_id)
        return await self._client.send(Call("GET", url, model(m.RecordOut), repeatable=True))

    async def list(
        self,
        *,
        status: str | None = None,
        category: str | None = None,
        domain: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> m.RecordPageOut:
        params = query(status=status, category=category, domain=domain, cursor=cursor, limit=limit)
        return await self._client.send(Call("GET", "/v1/records", model(m.RecordPageOut), params=params, repeatable=True))

    async def iterate(
        self, *, status: str | None = None, category: str | None = None, domain: str | None = None, limit: int | None = None
    ) -> AsyncIterator[m.RecordOut]:
        """Every record (of that status, category, domain), page after page, in creation order."""
        cursor: str | None = None
        while True:
            page = await self.list(status=status, category=category, domain=domain, cursor=cursor, limit=limit)
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def find(self, kind: str, value: str, *, domain: str | None = None) -> m.RecordList:
        """Every record (any status) holding the identifier; sent in the body, never the URL."""
        request = body(m.FindRequest, {"identifier": {"kind": kind, "value": value}, **_domain(domain)})
        return await self._client.send(Call("POST", "/v1/records/find", model(m.RecordList), json=request, repeatable=True))

    async def update(self, record_id: Id, changes: m.RecordUpdate | Body) -> m.RecordOut:
        url = path("/v1/records/{id}", id=record_id)
        return await self._client.send(Call("PATCH", url, model(m.RecordOut), json=body(m.RecordUpdate, changes)))

    async def revoke(self, record_id: Id, *, reason_code: str) -> m.RecordOut:
        """Final: the record never matches again. Revoking again changes nothing."""
        url = path("/v1/records/{id}/revoke", id=record_id)
        request = body(m.RevokeRequest, {"reason_code": reason_code})
        return await self._client.send(Call("POST", url, model(m.RecordOut), json=request, repeatable=True))

    async def reveal(self, record_id: Id, *, purpose: str) -> m.RecordTextOut:
        """The record's reason, evidence and notes, decrypted; audited with ``purpose``."""
        url = path("/v1/records/{id}/reveal", id=record_id)
        request = body(m.RecordRevealRequest, {"purpose": purpose})
        return await self._client.send(Call("POST", url, model(m.RecordTextOut), json=request))

    async def record_event(self, record_id: Id, event: m.EventRequest | Body) -> m.RetentionItems:
        url = path("/v1/records/{id}/events", id=record_id)
        return await self._client.send(Call("POST", url, model(m.RetentionItems), json=body(m.EventRequest, event)))

    async def preview_event(self, record_id: Id, event: m.EventPreviewRequest | Body) -> m.EventPreviewOut:
        url = path("/v1/records/{id}/events/preview", id=record_id)
        call = Call("POST", url, model(m.EventPreviewOut), json=body(m.EventPreviewRequest, event), repeatable=True)
        return await self._client.send(call)


class AsyncErasure(_Group):
    async def request(self, subject_id: Id, *, request_id: str | None = None) -> m.ErasureOut:
        """Erase the subject and get the signed receipt. With ``request_id`` (your ticket id) a
        repeat answers the first receipt, so the call is retried safely."""
        request = body(m.ErasureCreate, {"subject_id": str(subject_id), **({"request_id": request_id} if request_id else {})})
        call = Call("POST", "/v1/erasure-requests", model(m.ErasureOut), json=request, repeatable=request_id is not None)
        return await self._client.send(call)

    async def receipt(self, request_id: str) -> Receipt:
        """The receipt file of erasure request ``request_id``, byte for byte."""
        url = path("/v1/erasure-requests/{id}", id=request_id)
        call = Call("GET", url, receipt, headers={"Accept": "application/octet-stream"}, repeatable=True)
        return await self._client.send(call)

    async def receipt_of_subject(self, subject_id: Id) -> Receipt:
        """The receipt file of the subject's erasure, byte for byte."""
        call = Call(
            "GET", "/v1/erasure-requests", receipt, params=query(subject_id=subject_id),
            headers={"Accept": "application/octet-stream"}, repeatable=True,
        )
        return await self._client.send(call)

    async def verify(self, document: bytes, *, public_key: str | None = None) -> m.VerifyOut:
        """The vault's verdict on a receipt file (it also checks the key is one of its own);
        :func:`pseudovault_client.verify_receipt` checks one offline."""
        request = body(
            m.ReceiptVerifyRequest,
            {"document": bytes(document).decode("utf-8"), **({"public_key": public_key} if public_key else {})},
        )
        call = Call("POST", "/v1/erasure-requests/verify-receipt", model(m.VerifyOut), json=request, repeatable=True)
        return await self._client.send(call)


class AsyncHolds(_Group):
    async def place(self, hold: m.HoldCreate | Body, *, idempotency_key: str | None = None) -> m.HoldOut:
        call = Call("POST", "/v1/holds", model(m.HoldOut), json=body(m.HoldCreate, hold))
        return await self._client.send(idempotent(call, idempotency_key))

    async def list(self, *, all: bool | None = None, target_id: Id | None = None, limit: int | None = None) -> m.HoldList:  # noqa: A002
        params = query(all=all, target_id=target_id, limit=limit)
        return await self._client.send(Call("GET", "/v1/holds", model(m.HoldList), params=params, repeatable=True))

    async def get(self, hold_id: Id) -> m.HoldOut:
        url = path("/v1/holds/{id}", id=hold_id)
        return await self._client.send(Call("GET", url, model(m.HoldOut), repeatable=True))

    async def release(self, hold_id: Id, *, reason_code: str | None = None) -> m.HoldOut:
        url = path("/v1/holds/{id}/release", id=hold_id)
        request = body(m.HoldRelease, {"reason_code": reason_code} if reason_code else {})
        return await self._client.send(Call("POST", url, model(m.HoldOut), json=request, repeatable=True))


class AsyncRetention(_Group):
    async def policies(self) -> m.PolicySetOut:
        return await self._client.send(Call("GET", "/v1/retention/policies", model(m.PolicySetOut), repeatable=True))

    async def diff(self, policies_toml: str) -> m.PolicyDiffOut:
        """What a policy file would move earlier or later; changes nothing."""
        request = body(m.PolicyDiffRequest, {"policies": policies_toml})
        call = Call("POST", "/v1/retention/policies/diff", model(m.PolicyDiffOut), json=request, repeatable=True)
        return await self._client.send(call)

    async def apply(self, *, dry_run: bool | None = None) -> m.PolicyDiffOut:
        """Recompute stored due dates under the policies in force."""
        request = body(m.ApplyRequest, {"dry_run": dry_run} if dry_run is not None else {})
        return await self._client.send(Call("POST", "/v1/retention/policies/apply", model(m.PolicyDiffOut), json=request))

    async def report(self, *, days: int | None = None) -> m.ReportOut:
        params = query(days=days)
        return await self._client.send(Call("GET", "/v1/retention/report", model(m.ReportOut), params=params, repeatable=True))

    async def notice(self, *, lang: Literal["ko", "en"] | None = None, format: Literal["md", "html"] | None = None) -> str:  # noqa: A002
        """The retention section of a privacy policy, from the policies in force."""
        params = query(lang=lang, format=format)
        return await self._client.send(Call("GET", "/v1/retention/notice", text, params=params, repeatable=True))

    async def sweep(self, *, dry_run: bool | None = None, batch_size: int | None = None) -> m.SweepOut:
        request = body(m.SweepRequest, {k: v for k, v in {"dry_run": dry_run, "batch_size": batch_size}.items() if v is not None})
        return await self._client.send(Call("POST", "/v1/retention/sweep", model(m.SweepOut), json=request))

    async def items(self, target_id: Id) -> m.RetentionItems:
        url = path("/v1/retention/items/{id}", id=target_id)
        return await self._client.send(Call("GET", url, model(m.RetentionItems), repeatable=True))

    async def review(self, item_id: Id, review: m.ReviewRequest | Body) -> m.RetentionItemOut:
        url = path("/v1/retention/items/{id}/review", id=item_id)
        return await self._client.send(Call("POST", url, model(m.RetentionItemOut), json=body(m.ReviewRequest, review)))


class AsyncRights(_Group):
    async def access_export(self, subject_id: Id, *, purpose: str, request_id: Id | None = None) -> m.AccessExport:
        """Everything held about the subject, decrypted; audited with ``purpose``."""
        request = body(
            m.AccessExportRequest,
            {"subject_id": str(subject_id), "purpose": purpose, **({"request_id": str(request_id)} if request_id else {})},
        )
        return await self._client.send(Call("POST", "/v1/rights/access-export", model(m.AccessExport), json=request))

    async def open_correction(
        self, request: m.SubjectRequestCreate | Body, *, idempotency_key: str | None = None
    ) -> m.RightsRequestOut:
        call = Call("POST", "/v1/rights/corrections", model(m.RightsRequestOut), json=body(m.SubjectRequestCreate, request))
        return await self._client.send(idempotent(call, idempotency_key))

    async def complete_correction(self, request_id: Id, fields: Mapping[str, str | None]) -> m.CorrectionResultOut:
        url = path("/v1/rights/corrections/{id}/complete", id=request_id)
        request = body(m.CorrectionComplete, {"fields": dict(fields)})
        return await self._client.send(Call("POST", url, model(m.CorrectionResultOut), json=request))

    async def reject_correction(self, request_id: Id, *, reason_code: str | None = None) -> m.RightsRequestOut:
        url = path("/v1/rights/corrections/{id}/reject", id=request_id)
        request = body(m.CorrectionReject, {"reason_code": reason_code} if reason_code else {})
        return await self._client.send(Call("POST", url, model(m.RightsRequestOut), json=request))

    async def restrict(
        self, request: m.SubjectRequestCreate | Body, *, idempotency_key: str | None = None
    ) -> m.RightsRequestOut:
        call = Call("POST", "/v1/rights/restrictions", model(m.RightsRequestOut), json=body(m.SubjectRequestCreate, request))
        return await self._client.send(idempotent(call, idempotency_key))

    async def lift_restriction(self, subject_id: Id) -> m.RestrictionLifted:
        url = path("/v1/rights/restrictions/{id}", id=subject_id)
        return await self._client.send(Call("DELETE", url, model(m.RestrictionLifted), repeatable=True))

    async def record_provision(
        self, provision: m.ProvisionCreate | Body, *, idempotency_key: str | None = None
    ) -> m.ProvisionOut:
        call = Call("POST", "/v1/rights/provisions", model(m.ProvisionOut), json=body(m.ProvisionCreate, provision))
        return await self._client.send(idempotent(call, idempotency_key))

    async def provisions(self, subject_id: Id) -> m.ProvisionList:
        url = path("/v1/rights/provisions/{id}", id=subject_id)
        return await self._client.send(Call("GET", url, model(m.ProvisionList), repeatable=True))

    async def notifications(
        self, *, state: str | None = None, subject_id: Id | None = None, limit: int | None = None
    ) -> m.NotificationList:
        params = query(state=state, subject_id=subject_id, limit=limit)
        call = Call("GET", "/v1/rights/notifications", model(m.NotificationList), params=params, repeatable=True)
        return await self._client.send(call)

    async def close_notification(self, notification_id: Id, close: m.NotificationClose | Body) -> m.NotificationOut:
        url = path("/v1/rights/notifications/{id}/close", id=notification_id)
        return await self._client.send(Call("POST", url, model(m.NotificationOut), json=body(m.NotificationClose, close)))

    async def grant_consent(self, consent: m.ConsentCreate | Body, *, idempotency_key: str | None = None) -> m.ConsentOut:
        call = Call("POST", "/v1/rights/consents", model(m.ConsentOut), json=body(m.ConsentCreate, consent))
        return await self._client.send(idempotent(call, idempotency_key))

    async def withdraw_consent(self, withdrawal: m.ConsentWithdraw | Body) -> m.ConsentOut:
        request = body(m.ConsentWithdraw, withdrawal)
        return await self._client.send(Call("POST", "/v1/rights/consents/withdraw", model(m.ConsentOut), json=request))

    async def consents(self, subject_id: Id) -> m.ConsentList:
        url = path("/v1/rights/consents/{id}", id=subject_id)
        return await self._client.send(Call("GET", url, model(m.ConsentList), repeatable=True))

    async def open_request(
        self, request: m.RightsRequestCreate | Body, *, idempotency_key: str | None = None
    ) -> m.RightsRequestOut:
        call = Call("POST", "/v1/rights/requests", model(m.RightsRequestOut), json=body(m.RightsRequestCreate, request))
        return await self._client.send(idempotent(call, idempotency_key))

    async def requests(
        self,
        *,
        overdue: bool | None = None,
        open: bool | None = None,  # noqa: A002
        subject_id: Id | None = None,
        limit: int | None = None,
    ) -> m.RightsRequestList:
        params = query(overdue=overdue, open=open, subject_id=subject_id, limit=limit)
        call = Call("GET", "/v1/rights/requests", model(m.RightsRequestList), params=params, repeatable=True)
        return await self._client.send(call)

    async def complete_request(self, request_id: Id, completion: m.RequestComplete | Body | None = None) -> m.RightsRequestOut:
        url = path("/v1/rights/requests/{id}/complete", id=request_id)
        request = body(m.RequestComplete, completion or {})
        return await self._client.send(Call("POST", url, model(m.RightsRequestOut), json=request))


class AsyncSeparated(_Group):
    async def list(self, *, subject_id: Id | None = None, limit: int | None = None) -> m.SeparatedList:
        params = query(subject_id=subject_id, limit=limit)
        return await self._client.send(Call("GET", "/v1/separated", model(m.SeparatedList), params=params, repeatable=True))

    async def read(self, item_id: Id, *, purpose: str) -> m.SeparatedValues:
        """An item in separate storage, decrypted; audited with ``purpose`` (the legal request)."""
        url = path("/v1/separated/{id}/read", id=item_id)
        request = body(m.SeparatedReadRequest, {"purpose": purpose})
        return await self._client.send(Call("POST", url, model(m.SeparatedValues), json=request))

    async def read_record(self, record_id: Id, *, purpose: str) -> m.SeparatedRecordText:
        url = path("/v1/separated/records/{id}/read", id=record_id)
        request = body(m.SeparatedReadRequest, {"purpose": purpose})
        return await self._client.send(Call("POST", url, model(m.SeparatedRecordText), json=request))


class AsyncKeys(_Group):
    async def status(self) -> m.KeyStatus:
        return await self._client.send(Call("GET", "/v1/keys", model(m.KeyStatus), repeatable=True))

    async def rotate(self) -> m.Rotation:
        return await self._client.send(Call("POST", "/v1/keys/rotate", model(m.Rotation)))

    async def rewrap(self, *, batch_size: int | None = None) -> m.RewrapResult:
        """Move every wrapped key to the current keys; resumable, so safe to send again."""
        params = query(batch_size=batch_size)
        return await self._client.send(Call("POST", "/v1/keys/rewrap", model(m.RewrapResult), params=params, repeatable=True))


class AsyncAudit(_Group):
    async def list(
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
        return await self._client.send(Call("GET", "/v1/audit", model(m.AuditPage), params=params, repeatable=True))

    async def iterate(
        self,
        *,
        action: str | None = None,
        actor_id: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[m.AuditEntry]:
        """Every matching entry, in sequence order, page after page."""
        cursor: int | None = None
        while True:
            page = await self.list(
                action=action, actor_id=actor_id, target=target, since=since, until=until, cursor=cursor, limit=limit
            )
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def verify(self) -> m.VerifyReport:
        return await self._client.send(Call("GET", "/v1/audit/verify", model(m.VerifyReport), repeatable=True))

    async def checkpoint(self) -> m.Checkpoint:
        return await self._client.send(Call("POST", "/v1/audit/checkpoint", model(m.Checkpoint)))

    async def acknowledge_restore(self) -> m.RestoreAcknowledged:
        """Record that the data store was restored from a backup (409 when there is nothing to
        acknowledge, or the restored chain is itself broken). Never retried."""
        return await self._client.send(Call("POST", "/v1/audit/acknowledge-restore", model(m.RestoreAcknowledged)))


class AsyncApiKeys(_Group):
    async def own(self) -> m.ApiKeyOut:
        """The entry of the key this client calls with."""
        return await self._client.send(Call("GET", "/v1/apikeys/self", model(m.ApiKeyOut), repeatable=True))

    async def rotate_own(self, *, grace_seconds: int, use: bool = True) -> m.ApiKeyIssued:
        """A new token for this client's key; the one it replaces works for ``grace_seconds``.
        With ``use`` the client sends the new token from now on. Never retried: a second
        rotation would replace the first's token."""
        request = body(m.ApiKeyRotate, {"grace_seconds": grace_seconds})
        issued = await self._client.send(Call("POST", "/v1/apikeys/self/rotate", model(m.ApiKeyIssued), json=request))
        if use:
            self._client.use_token(issued.token)
        return issued

    async def list(self, *, active: bool | None = None) -> m.ApiKeyList:
        params = query(active=active)
        return await self._client.send(Call("GET", "/v1/apikeys", model(m.ApiKeyList), params=params, repeatable=True))

    async def get(self, key_id: str) -> m.ApiKeyOut:
        url = path("/v1/apikeys/{id}", id=key_id)
        return await self._client.send(Call("GET", url, model(m.ApiKeyOut), repeatable=True))

    async def revoke(self, key_id: str) -> m.ApiKeyOut:
        url = path("/v1/apikeys/{id}/revoke", id=key_id)
        return await self._client.send(Call("POST", url, model(m.ApiKeyOut), repeatable=True))


class AsyncWebhooks(_Group):
    async def deliveries(self, *, state: str | None = None, limit: int | None = None) -> m.DeliveryList:
        params = query(state=state, limit=limit)
        call = Call("GET", "/v1/webhooks/deliveries", model(m.DeliveryList), params=params, repeatable=True)
        return await self._client.send(call)
