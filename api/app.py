"""The FastAPI application.

:func:`create_app` builds it from settings: over the given vault, or over the vault the settings
point to (opened now, with the passphrase from ``PSEUDOVAULT_PASSPHRASE``, so a misconfiguration
fails at start, not on the first request). A vault the app opened is closed when the app shuts
down (uvicorn's lifespan, after SIGTERM); a vault handed in belongs to the caller.
:func:`create_app_from_env` is the factory uvicorn's worker processes call
(``pseudovault serve --workers N``).

On the app: ``app.state.vault``, ``.settings`` (:class:`api.settings.ApiSettings`), ``.metrics``
(:class:`api.metrics.Metrics`), ``.limiter`` (:class:`api.ratelimit.RateLimiter`) and ``.key_cache``
(:class:`api.keycache.KeyCache`, evicting a key revoked through the vault at once); while it
runs, ``.periodic_sweep`` (:class:`api.sweeper.PeriodicSweep`, when
``PSEUDOVAULT_SWEEP_INTERVAL_SECONDS`` is set; stopped before the vault is closed). Routes:
the routers of :data:`api.routers.ROUTERS`; :func:`create_app` refuses a route that does not
enforce an API key unless it is one of :data:`api.auth.PUBLIC_PATHS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from pseudovault.api.auth import PUBLIC_PATHS, SESSION_PATHS, ApiRoute, iter_routes, required_scopes
from pseudovault.api.console import install_console
from pseudovault.api.docs import install_docs
from pseudovault.api.errors import install_error_handlers
from pseudovault.api.fastcheck import PATH as FAST_CHECK_PATH
from pseudovault.api.fastcheck import FastCheck
from pseudovault.api.keycache import KeyCache
from pseudovault.api.keymaint import PeriodicKeyMaintenance
from pseudovault.api.metrics import Metrics
from pseudovault.api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from pseudovault.api.openapi import install_openapi, route_declared_names
from pseudovault.api.ratelimit import NoRateLimit, RateLimiter, RedisRateLimiter, TokenBucketLimiter
from pseudovault.api.routers import ROUTERS
from pseudovault.api.settings import ApiSettings
from pseudovault.api.sweeper import PeriodicSweep
from pseudovault.api.telemetry import install_telemetry
from pseudovault.api.webhooks import PeriodicWebhooks
from pseudovault.vault.bootstrap import open_vault
from pseudovault.vault.checks.missfilter import MissFilter
from pseudovault.vault.config import Settings
from pseudovault.vault.vault import Vault

__all__ = ["create_app", "create_app_from_env", "limiter_from_settings"]

log = logging.getLogger(__name__)


def _version() -> str:
    try:
        return metadata.version("pseudovault")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def limiter_from_settings(settings: ApiSettings) -> RateLimiter:
    """The limiter the settings ask for: none, Redis (``rate_limit_url``) or in process."""
    if settings.rate_limit_per_second == 0:
        return NoRateLimit()
    if settings.rate_limit_url is not None:
        return RedisRateLimiter(
            settings.rate_limit_url.get_secret_value(), settings.rate_limit_per_second, settings.rate_limit_burst
        )
    return TokenBucketLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)


def _check_routes(app: FastAPI) -> None:
    """Every route enforces an API key through ApiRoute, or is a listed public one."""
    for path, route in iter_routes(app.routes):
        if isinstance(route, APIRoute) and not isinstance(route, ApiRoute):
            raise TypeError(f"route {path} must use route_class=ApiRoute")
        in_session = any(path == prefix or path.startswith(prefix + "/") for prefix in SESSION_PATHS)
        if required_scopes(route) is None and path not in PUBLIC_PATHS and not in_session:
            raise TypeError(f"route {path} requires no API key and is not listed in api.auth.PUBLIC_PATHS")


#: FastAPI's own OpenTelemetry hooks (releases that have them) off: spans come from
#: api.telemetry when PSEUDOVAULT_OTEL_ENDPOINT asks for them, and the hooks' per-request look at
#: the global providers cost a tenth of a ban check
_NO_NATIVE_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(
    settings: ApiSettings | Settings,
    *,
    vault: Vault | None = None,
    limiter: RateLimiter | None = None,
) -> FastAPI:
    """The API over ``vault`` (or the vault ``settings`` point to), rate-limited by ``limiter``
    (or the one the settings ask for)."""
    api_settings = ApiSettings.from_settings(settings)
    owns_vault = vault is None
    owns_limiter = limiter is None
    if vault is None:
        vault = open_vault(api_settings)
    try:
        if limiter is None:
            limiter = limiter_from_settings(api_settings)
        metrics = Metrics(check_filter=vault.checks.miss_filter is not None)

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            sweep: PeriodicSweep | None = None
            if api_settings.sweep_interval_seconds > 0:
                sweep = PeriodicSweep(
                    app.state.vault, api_settings.sweep_interval_seconds, metrics, batch_size=api_settings.sweep_batch_size
                )
                sweep.start()
            app.state.periodic_sweep = sweep
            maintenance: PeriodicKeyMaintenance | None = None
            # key maintenance also signs the audit head and removes orphan keys: it runs even when
            # the epoch is never rotated by age
            interval = api_settings.key_maintenance_interval_seconds
            max_age = api_settings.audit_head_max_age_minutes * 60
            if max_age and (interval == 0 or interval > max_age):
                log.warning(
                    "the audit head is signed every %s s but 'audit verify' wants it signed within %s s: raise "
                    "PSEUDOVAULT_AUDIT_HEAD_MAX_AGE_MINUTES or lower PSEUDOVAULT_KEY_MAINTENANCE_INTERVAL_SECONDS",
                    interval or "never",
                    int(max_age),
                )
            if interval > 0:
                maintenance = PeriodicKeyMaintenance(
                    app.state.vault, api_settings.key_maintenance_interval_seconds, metrics
                )
                maintenance.start()
            app.state.key_maintenance = maintenance
            deliveries: PeriodicWebhooks | None = None
            if app.state.vault.webhook_config is not None and api_settings.webhook_interval_seconds > 0:
                deliveries = PeriodicWebhooks(app.state.vault, api_settings.webhook_interval_seconds)
                deliveries.start()
            app.state.webhooks = deliveries
            filter_gauges: asyncio.Task[None] | None = None
            miss_filter = app.state.vault.checks.miss_filter
            if miss_filter is not None:
                filter_gauges = asyncio.get_running_loop().create_task(
                    _observe_filter(miss_filter, metrics), name="pseudovault-filter-gauges"
                )
            # what startup built (modules, the app, the vault's caches) lives as long as the
            # process: moved out of the collector's reach, a full collection walks only what
            # requests make, in a few milliseconds instead of a stall of ~100 ms under load
            gc.freeze()
            log.info("API started")
            try:
                yield
            finally:  # after uvicorn's graceful shutdown: close what this app opened
                if filter_gauges is not None:
                    filter_gauges.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await filter_gauges
                    metrics.close()
                if deliveries is not None:
                    await deliveries.stop()
                if maintenance is not None:
                    await maintenance.stop()
                if sweep is not None:
                    await sweep.stop()  # before the vault closes
                if app.state.telemetry is not None:
                    app.state.telemetry.close()  # the last spans and metrics go out
                if owns_limiter:
                    app.state.limiter.close()
                if owns_vault:
                    app.state.vault.close()
                log.info("API stopped")

        app = FastAPI(
            title="pseudovault",
            version=_version(),
            lifespan=lifespan,
            docs_url=None,  # served from local assets (api.docs), never from a CDN
            redoc_url=None,
            openapi_url="/openapi.json",
            # operation ids are the handlers' names (unique, tests/api/test_openapi_clients.py):
            # what generated clients name their functions
            generate_unique_id_function=_operation_id,
            **_NO_NATIVE_TELEMETRY,
        )
        app.state.vault = vault
        app.state.settings = api_settings
        app.state.metrics = metrics
        app.state.limiter = limiter
        key_cache: KeyCache[Any] = KeyCache(api_settings.api_key_cache_seconds)
        vault.apikeys.on_revoke(key_cache.evict_key)
        app.state.key_cache = key_cache
        app.state.key_refreshes = set()  # background re-verifications of cached keys (api.auth)
        install_error_handlers(app)
        install_docs(app, title="pseudovault")
        for router in ROUTERS:
            app.include_router(router)
        install_console(app)  # over the routers: its actions are their operations
        _check_routes(app)
        install_openapi(app)
        # the names an invalid request's pointers may quote (api.errors), read once, from the routes
        app.state.declared_names = route_declared_names(app)
        check_route = next(
            route for path, route in iter_routes(app.routes)
            if path == FAST_CHECK_PATH and isinstance(route, APIRoute) and "POST" in (route.methods or ())
        )
        app.add_middleware(FastCheck, route=check_route)  # the signup hot path (api.fastcheck)
        app.add_middleware(BodyLimitMiddleware, max_bytes=api_settings.max_body_bytes)
        static_paths = frozenset(
            path for path, route in iter_routes(app.routes) if not isinstance(route, APIRoute) and "{" not in path
        )
        app.add_middleware(RequestContextMiddleware, metrics=metrics, static_paths=static_paths)
        app.state.telemetry = None
        if api_settings.otel_endpoint:  # outermost: a request's span covers everything above
            app.state.telemetry = install_telemetry(
                app,
                vault,
                endpoint=api_settings.otel_endpoint,
                service_name=api_settings.otel_service_name,
                metrics_seconds=api_settings.otel_metrics_seconds,
            )
    except BaseException:
        if owns_vault:
            vault.close()
        raise
    return app


#: how often each worker sets the check miss filter's gauges (api.metrics)
FILTER_GAUGE_SECONDS = 1.0


async def _observe_filter(miss_filter: MissFilter, metrics: Metrics) -> None:
    """Set the miss filter's gauges every :data:`FILTER_GAUGE_SECONDS` until cancelled: with
    several workers, each sets its own, and ``/metrics`` shows the lowest ``current`` and the
    highest age of them all, whichever worker answers the scrape."""
    while True:
        metrics.observe_filter(miss_filter.state())
        await asyncio.sleep(FILTER_GAUGE_SECONDS)


def create_app_from_env() -> FastAPI:
    """The app over the vault the ``PSEUDOVAULT_*`` environment describes (uvicorn factory)."""
    return create_app(ApiSettings())
