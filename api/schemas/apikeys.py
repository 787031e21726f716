"""Request and response bodies of the API-key endpoints (:mod:`api.routers.apikeys`). A token
appears in one answer only: its rotation's."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from pseudovault.api.schemas.common import RequestModel, ResponseModel
from pseudovault.vault.apikeys import MAX_GRACE

__all__ = ["ApiKeyRotate", "ApiKeyOut", "ApiKeyIssued", "ApiKeyList"]


class ApiKeyRotate(RequestModel):
    grace_seconds: int = Field(
        ge=0, le=int(MAX_GRACE.total_seconds()),
        description="How long the token it replaces stays valid, for the service to switch over (0: refused at once). "
        "Required: a rotation that cuts a running service off should be a choice.",
        examples=[86400],
    )


class ApiKeyOut(ResponseModel):
    key_id: str = Field(examples=["k3mzq7a2xb"])
    name: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None = Field(description="Written at most once a minute.")
    expires_at: datetime | None
    rotated_at: datetime | None
    previous_valid_until: datetime | None = Field(description="After a rotation: until when the token it replaced is accepted.")
    revoked_at: datetime | None
    active: bool = Field(description="Not revoked and not expired.")


class ApiKeyIssued(ApiKeyOut):
    token: str = Field(repr=False, description="The token, shown this once: store it now. `Bearer <token>`.")


class ApiKeyList(ResponseModel):
    items: list[ApiKeyOut]
