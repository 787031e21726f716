"""Request and response bodies of the holds endpoints (:mod:`api.routers.holds`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from pseudovault.api.schemas.common import BodyDatetime, BodyUuid, ReasonCode, Reference, RequestModel, ResponseModel

__all__ = ["HoldCreate", "HoldRelease", "HoldOut", "HoldList"]


class HoldCreate(RequestModel):
    target_kind: Literal["subject", "record"] = Field(
        description="subject (with its separated data and the records linked to it) or record."
    )
    target_id: BodyUuid = Field(examples=["0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10"])
    reason_code: ReasonCode = Field(examples=["litigation"], description="Why, as a code: investigation, dispute, litigation...")
    reference: Reference = Field(examples=["CASE-2026-0142"], description="The case or ticket it belongs to (never PII).")
    until: BodyDatetime | None = Field(
        None, description="When it lapses by itself (in the future); open-ended when absent.", examples=["2027-06-30T00:00:00Z"]
    )


class HoldRelease(RequestModel):
    reason_code: ReasonCode = Field("released", description="Why, as a code (audited).")


class HoldOut(ResponseModel):
    hold_id: str = Field(examples=["5f0c2b8e-0d1e-4e0f-9a7d-3c1b2a4d5e6f"])
    target_kind: str
    target_id: str
    reason_code: str
    reference: str
    placed_by: str = Field(description="Who placed it: the API key id, or the operator for the CLI.")
    placed_at: datetime
    until: datetime | None
    released_at: datetime | None
    released_by: str | None
    release_reason_code: str | None
    active: bool = Field(description="Not released and not lapsed.")


class HoldList(ResponseModel):
    items: list[HoldOut]
