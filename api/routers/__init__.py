"""The routers of the API, one module per resource. :data:`ROUTERS` is what the app includes.

A router module defines ``router = APIRouter(prefix="/v1/<resource>", route_class=ApiRoute, ...)``
with the full path prefix (the app includes routers without a prefix of its own, so a route's
``path`` is its full template, which is what the access log and the metrics name). Every handler
takes one of the permission types of api.auth (or is public and listed in api.auth.PUBLIC_PATHS).
Adding a resource (records, checks) is one new module here and one line in :data:`ROUTERS`.
"""

from __future__ import annotations

from fastapi import APIRouter

from pseudovault.api.routers import (
    apikeys,
    audit,
    checks,
    erasure,
    health,
    holds,
    keys,
    records,
    retention,
    rights,
    separated,
    status,
    subjects,
    webhooks,
)

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    checks.router,
    records.router,
    subjects.router,
    keys.router,
    audit.router,
    retention.router,
    holds.router,
    erasure.router,
    separated.router,
    rights.router,
    webhooks.router,
    status.router,
    apikeys.router,
)
