"""Request and response bodies of the health endpoints (:mod:`api.routers.health`)."""

from __future__ import annotations

from typing import Literal

from pseudovault.api.schemas.common import ResponseModel

__all__ = ["Health", "Readiness"]


class Health(ResponseModel):
    status: Literal["ok"]


class Readiness(ResponseModel):
    status: Literal["ready"]
    checks: dict[str, Literal["ok"]]
