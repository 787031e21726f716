"""The webhook outbox (scope ``admin``): what was delivered to the webhook endpoint, what waits for
a retry and what failed (vault.retention.webhooks). Ids, event codes, counts and times only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from pseudovault.api.auth import Admin, ApiRoute
from pseudovault.api.deps import VaultDep
from pseudovault.api.schemas.common import ResponseModel

__all__ = ["router"]


router = APIRouter(prefix="/v1/webhooks", route_class=ApiRoute, tags=["webhooks"])


class DeliveryOut(ResponseModel):
    delivery_id: str = Field(description="Sent as the `Pseudovault-Delivery` header: receivers de-duplicate by it.")
    event: str = Field(examples=["erasure.completed"])
    subject_id: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status: int | None = Field(description="The endpoint's last HTTP status (null: no answer).")


class DeliveryList(ResponseModel):
    enabled: bool = Field(description="Whether a webhook endpoint is configured.")
    items: list[DeliveryOut] = Field(description="Newest first.")


@router.get(
    "/deliveries",
    summary="Webhook deliveries",
    description="The events of the webhook outbox, newest first (`state`: pending, delivered or failed): "
    "erasures, corrections, restrictions placed or lifted and consents withdrawn, each written in the "
    "transaction of what it reports and POSTed, signed, to `PSEUDOVAULT_WEBHOOK_URL`.",
)
def list_deliveries(
    vault: VaultDep,
    _caller: Admin,
    state: Annotated[Literal["pending", "delivered", "failed"] | None, Query(description="Only this state.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryList:
    views = vault.webhooks.deliveries(state=state, limit=limit)
    return DeliveryList(enabled=vault.webhook_config is not None, items=[DeliveryOut.of(v) for v in views])
