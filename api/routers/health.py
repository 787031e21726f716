"""Liveness, readiness and metrics: public, no API key."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.responses import Response

from pseudovault.api.auth import ApiRoute
from pseudovault.api.deps import MetricsDep, VaultDep
from pseudovault.api.errors import Problem
from pseudovault.api.metrics import CONTENT_TYPE_LATEST
from pseudovault.api.schemas.health import Health, Readiness

__all__ = ["router"]

log = logging.getLogger(__name__)


router = APIRouter(route_class=ApiRoute, tags=["operations"])


@router.get(
    "/healthz",
    summary="Liveness",
    description="The process answers. Touches neither store: use it to restart a hung process, not to route traffic.",
)
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness",
    description="Both stores answer a query, the key provider unwraps the current epoch key "
    "(through the key cache) and the rate limiter answers (Redis, when one is configured). 503 with a "
    "problem body naming what failed otherwise: every /v1 call would fail the same way.",
    responses={503: {"model": Problem, "description": "A store, the key provider or the rate limiter is unavailable."}},
)
def readyz(vault: VaultDep, request: Request) -> Readiness:
    checks = vault.readiness()
    request.app.state.limiter.ping()
    return Readiness(status="ready", checks={**checks, "rate_limiter": "ok"})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Request counts and latencies per route template and status, shreds, check "
    "decisions, the lookup key versions checks use and, when it is on, the state of the check miss filter, in the Prometheus text format.",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Metrics."}},
)
async def metrics(metrics: MetricsDep, vault: VaultDep) -> Response:
    try:  # the keys as this worker's checks use them (re-read when due)
        metrics.observe_lookup_versions(len(vault.lookup.current().enabled))
    except Exception as exc:  # noqa: BLE001 - a scrape answers with a store down; /readyz reports it
        log.debug("lookup key versions not observed (%s)", type(exc).__name__)
    miss_filter = vault.checks.miss_filter
    if miss_filter is not None:  # this worker's, as of now (the others set theirs every second)
        metrics.observe_filter(miss_filter.state())
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
