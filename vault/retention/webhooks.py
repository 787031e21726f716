"""Signed webhooks: a service that received a subject's data learns of its erasure, correction
or restriction without polling, and can automate what it must do.

Events (``EVENTS``): ``erasure.completed``, ``correction.completed``, ``restriction.placed``,
``restriction.lifted`` and ``consent.withdrawn``. The payload carries ids, codes and times only,
never personal data: ``{"id", "event", "created_at", "subject_id", "request_id"?, ...}``.

Delivery is an outbox: the event is written to ``webhook_deliveries`` in the same transaction as
what it reports, so a crash never loses or invents one; :meth:`WebhookDeliverer.deliver_due`
(the server every ``PSEUDOVAULT_WEBHOOK_INTERVAL_SECONDS``, or ``pseudovault webhooks deliver``
from cron) POSTs each due delivery as JSON and retries a failure (a status other than 2xx, a
timeout, a refused connection) after 1, 5, 30 minutes, 2 and 12 hours, then every 12 hours, until
``max_attempts`` (default 10) marks it ``failed``. Each delivery is claimed by one deliverer
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so several servers never send one twice at once; a
receiver may still see a delivery again (after a timeout whose request did arrive), and
de-duplicates by the ``Pseudovault-Delivery`` header (the delivery id).

Each request is signed with HMAC-SHA256 under the shared secret (``PSEUDOVAULT_WEBHOOK_SECRET``,
at least 32 characters): the header ``Pseudovault-Signature: t=<unix seconds>,v1=<hex>`` where
the MAC covers ``"<t>." + body``. A receiver checks it with :func:`verify_signature` (constant-time,
and refusing a timestamp more than 5 minutes away, so a captured request cannot be replayed later).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pseudovault.keys.secrets import SecretBytes
from pseudovault.vault.audit import AuditLog
from pseudovault.vault.clock import Clock
from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.store.data_models import WebhookDelivery
from pseudovault.vault.store.db import session_scope
from pseudovault.vault.views import View

__all__ = [
    "EVENTS",
    "DeliveryReport",
    "DeliveryView",
    "WebhookConfig",
    "WebhookDeliverer",
    "enqueue",
    "sign",
    "verify_signature",
]

log = logging.getLogger(__name__)

EVENTS = ("erasure.completed", "correction.completed", "restriction.placed", "restriction.lifted", "consent.withdrawn")
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                timedelta(hours=12))
MIN_SECRET_LENGTH = 32
TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class WebhookConfig:
    """Where deliveries go and the secret that signs them. Neither is in the repr: an endpoint's
    URL often carries a token of its own (a secret path, a query parameter, userinfo)."""

    url: str = field(repr=False)
    secret: SecretBytes = field(repr=False)
    max_attempts: int = 10
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("https://", "http://")):
            raise InvalidInputError("webhook_url", "must be an http(s) URL")
        if len(self.secret) < MIN_SECRET_LENGTH:
            raise InvalidInputError("webhook_secret", f"must be at least {MIN_SECRET_LENGTH} characters")
        if not 1 <= self.max_attempts <= 100:
            raise InvalidInputError("webhook_max_attempts", "must be from 1 to 100")


@dataclass(frozen=True)
class DeliveryView(View):
    delivery_id: str
    event: str
    subject_id: str
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status: int | None


@dataclass
class DeliveryReport(View):
    delivered: int = 0
    retried: int = 0
    failed: int = 0


def sign(secret: SecretBytes, timestamp: int, body: bytes) -> str:
    """The ``Pseudovault-Signature`` header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.reveal(), f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: SecretBytes, header: str, body: bytes, now: int, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """Whether ``header`` signs ``body`` under ``secret`` and was made within ``tolerance``
    seconds of ``now`` (unix seconds). Constant-time; False for anything malformed."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (ValueError, KeyError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace"))


def enqueue(session: Session, config: WebhookConfig | None, event: str, subject_id: str, now: datetime,
            **detail: str | int | None) -> None:
    """Write a delivery of ``event`` in the caller's transaction (nothing when webhooks are off).
    ``detail``: ids and codes only."""
    if config is None:
        return
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    delivery_id = str(uuid.uuid4())
    payload = {"id": delivery_id, "event": event, "created_at": now.isoformat(), "subject_id": subject_id,
               **{k: v for k, v in detail.items() if v is not None}}
    session.add(WebhookDelivery(
        id=delivery_id, event=event, subject_id=subject_id,
        payload=json.dumps(payload, sort_keys=True, separators=(",", ":")),
        state="pending", attempts=0, created_at=now, next_attempt_at=now, delivered_at=None, last_status=None,
    ))


def _view(row: WebhookDelivery) -> DeliveryView:
    return DeliveryView(row.id, row.event, row.subject_id, row.state, row.attempts, row.created_at,
                        row.next_attempt_at, row.delivered_at, row.last_status)


class WebhookDeliverer:
    """Sends the due deliveries (see the module docstring)."""

    def __init__(self, engine: Engine, config: WebhookConfig | None, clock: Clock, audit: AuditLog) -> None:
        self._engine = engine
        self.config = config
        self._clock = clock
        self._audit = audit

    def __repr__(self) -> str:
        return f"WebhookDeliverer(enabled={self.config is not None})"

    def deliveries(self, *, state: str | None = None, limit: int = 100) -> list[DeliveryView]:
        """Deliveries, newest first (``state``: pending, delivered or failed). Scope ``admin``."""
        if state is not None and state not in ("pending", "delivered", "failed"):
            raise InvalidInputError("state", "must be pending, delivered or failed")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
            raise InvalidInputError("limit", "must be an integer from 1 to 1000")
        stmt = select(WebhookDelivery).order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id).limit(limit)
        if state is not None:
            stmt = stmt.where(WebhookDelivery.state == state)
        with session_scope(self._engine) as session:
            return [_view(r) for r in session.scalars(stmt)]

    def deliver_due(self, limit: int = 100) -> DeliveryReport:
        """Send each due delivery once (claimed in its own transaction, sent, its outcome
        recorded). Nothing when webhooks are off."""
        report = DeliveryReport()
        if self.config is None:
            return report
        for _ in range(limit):
            if not self._deliver_one(report):
                break
        if report.delivered or report.failed or report.retried:
            self._audit.append("webhooks.deliver", detail={"delivered": report.delivered, "retried": report.retried,
                                                           "failed": report.failed})
        return report

    def _deliver_one(self, report: DeliveryReport) -> bool:
        assert self.config is not None
        now = self._clock.now()
        with session_scope(self._engine, write=True) as session:
            row = session.scalar(
                select(WebhookDelivery)
                .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if row is None:
                return False
            # claimed: pushed into the future while it is being sent, so no other deliverer takes it
            row.next_attempt_at = now + timedelta(seconds=self.config.timeout_seconds * 3 + 60)
            row.attempts += 1
            delivery_id, event, body, attempts = row.id, row.event, row.payload.encode("utf-8"), row.attempts
        status = self._post(delivery_id, event, body)
        with session_scope(self._engine, write=True) as session:
            stored = session.get(WebhookDelivery, delivery_id, with_for_update=True)
            if stored is None:
                return True
            stored.last_status = status
            if status is not None and 200 <= status < 300:
                stored.state, stored.delivered_at, stored.next_attempt_at = "delivered", self._clock.now(), None
                report.delivered += 1
            elif attempts >= self.config.max_attempts:
                stored.state, stored.next_attempt_at = "failed", None
                report.failed += 1
                log.warning("webhook delivery %s failed %d times: given up", delivery_id, attempts)
            else:
                delay = RETRY_DELAYS[min(attempts - 1, len(RETRY_DELAYS) - 1)]
                stored.next_attempt_at = self._clock.now() + delay
                report.retried += 1
        return True

    def _post(self, delivery_id: str, event: str, body: bytes) -> int | None:
        """POST ``body``; the status, or None when no answer came (timeout, refused, DNS)."""
        assert self.config is not None
        timestamp = int(self._clock.now().timestamp())
        request = urllib.request.Request(  # noqa: S310 - the operator's configured http(s) URL
            self.config.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "pseudovault-webhooks",
                "Pseudovault-Delivery": delivery_id,
                "Pseudovault-Event": event,
                "Pseudovault-Signature": sign(self.config.secret, timestamp, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_seconds) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            log.info("webhook delivery %s: no answer (%s)", delivery_id, type(exc).__name__)
            return None
