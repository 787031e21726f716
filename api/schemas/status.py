"""Response body of the overview endpoint (:mod:`api.routers.status`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from pseudovault.api.schemas.common import ResponseModel
from pseudovault.api.schemas.keys import Horizon

__all__ = ["StatusOut"]


class StatusOut(ResponseModel):
    now: datetime
    subjects: int = Field(description="Subjects stored (shredded ones are not counted).")
    records_by_status: dict[str, int] = Field(description="Records per stored status.", examples=[{"active": 12}])
    due_30_days: int = Field(description="Retention items due within 30 days, overdue ones included.")
    holds_active: int = Field(description="Active legal holds (at most 1000 are counted).")
    rights_open: int = Field(description="Open data-subject requests (at most 1000 are counted).")
    rights_overdue: int = Field(description="Open requests past their deadline (at most 1000 are counted).")
    audit_entries: int
    audit_last_checkpoint_seq: int | None
    audit_last_checkpoint_at: datetime | None
    root_key_versions: int = Field(description="Root key versions at the provider.")
    epochs: int = Field(description="Wrapping epochs still enabled.")
    lookup_key_versions: int
    horizon: Horizon
