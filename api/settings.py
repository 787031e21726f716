"""Settings of the HTTP server: the vault's settings (vault.config.Settings) and a few more, all
from ``PSEUDOVAULT_*`` environment variables.

==================================  =========  =================================================
variable                            default    meaning
==================================  =========  =================================================
PSEUDOVAULT_MAX_BODY_BYTES          1048576    largest request body accepted (413 beyond)
PSEUDOVAULT_RATE_LIMIT_PER_SECOND   50         tokens added per second to each API key's bucket
                                               (0 switches rate limiting off)
PSEUDOVAULT_RATE_LIMIT_BURST        100        bucket size: requests a key may make at once
PSEUDOVAULT_RATE_LIMIT_URL          (none)     ``redis://...``: one bucket per key shared by every
                                               worker and server; without it, per process
PSEUDOVAULT_API_KEY_CACHE_SECONDS   5          how long a verified API key is trusted without
                                               asking the store (0: always ask); a key revoked
                                               elsewhere works here for at most this long
PSEUDOVAULT_CHECK_BATCH_MAX         1000       most signups in one ``POST /v1/checks/batch``
PSEUDOVAULT_CHECK_BATCH_MAX_IDS     5000       most identifiers in one batch, all signups together
PSEUDOVAULT_CHECK_BATCH_COST        1.0        rate-limit tokens a batch costs per signup (at
                                               least 1 per batch): a batch is no way around the
                                               limit on the check oracle
PSEUDOVAULT_CHECK_MAX_PER_KIND      4          most identifiers of one kind in one signup
                                               (single and batch checks); every check also
                                               costs one token per distinct identifier
PSEUDOVAULT_SWEEP_INTERVAL_SECONDS  0          run the retention sweep in the server every this
                                               many seconds (0: off; run ``pseudovault retention
                                               sweep`` from cron instead); see api.sweeper
PSEUDOVAULT_SWEEP_BATCH_SIZE        500        items per transaction of those sweeps
PSEUDOVAULT_KEY_MAINTENANCE_        3600       how often the server checks the backup horizon
INTERVAL_SECONDS                               (``PSEUDOVAULT_EPOCH_MAX_AGE_DAYS``) and rotates,
                                               rewraps and destroys old keys (0: off); see
                                               api.keymaint
PSEUDOVAULT_CONSOLE_IDLE_MINUTES    30         a web console session ends after this long unused
PSEUDOVAULT_CONSOLE_SESSION_HOURS   8          ... and this long after sign-in, used or not
PSEUDOVAULT_LOG_LEVEL               info       debug, info, warning, error
PSEUDOVAULT_OTEL_ENDPOINT           (none)     an OTLP/HTTP collector (``http://host:4318``):
                                               traces and metrics go there (api.telemetry)
PSEUDOVAULT_OTEL_SERVICE_NAME       pseudovault  the ``service.name`` they carry
PSEUDOVAULT_OTEL_METRICS_SECONDS    60         how often metrics are sent
==================================  =========  =================================================

The audit checkpoint interval and retention (``PSEUDOVAULT_AUDIT_CHECKPOINT_EVERY``,
``PSEUDOVAULT_AUDIT_RETENTION_DAYS``) are vault settings, shared with the CLI.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from pseudovault.vault.checks import MAX_BATCH_SIGNUPS
from pseudovault.vault.config import Settings
from pseudovault.vault.retention.sweeper import MAX_BATCH_SIZE

__all__ = ["ApiSettings", "DEFAULT_MAX_BODY_BYTES"]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class ApiSettings(Settings):
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024, le=1024 * 1024 * 1024)
    rate_limit_per_second: float = Field(default=50.0, ge=0, le=1_000_000)
    rate_limit_burst: int = Field(default=100, ge=1, le=1_000_000)
    rate_limit_url: SecretStr | None = Field(default=None, description="redis://host:port/db (may hold a password)")
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    check_batch_max: int = Field(default=1000, ge=1, le=MAX_BATCH_SIGNUPS)
    check_batch_max_ids: int = Field(default=5000, ge=1, le=1_000_000)
    check_batch_cost: float = Field(default=1.0, ge=0, le=1000)
    check_max_per_kind: int = Field(default=4, ge=1, le=64)
    sweep_interval_seconds: float = Field(default=0.0, ge=0, le=7 * 24 * 3600)
    sweep_batch_size: int = Field(default=500, ge=1, le=MAX_BATCH_SIZE)
    # with a webhook configured, the server delivers due events every N seconds (0: off)
    webhook_interval_seconds: float = Field(default=30.0, ge=0, le=24 * 3600)
    key_maintenance_interval_seconds: float = Field(default=3600.0, ge=0, le=7 * 24 * 3600)
    console_idle_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    console_session_hours: float = Field(default=8.0, gt=0, le=7 * 24)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    otel_endpoint: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$", max_length=2048)
    otel_service_name: str = Field(default="pseudovault", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    otel_metrics_seconds: float = Field(default=60.0, ge=1, le=3600)

    @field_validator("rate_limit_url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        scheme = value.get_secret_value().split("://", 1)[0]
        if scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiSettings:
        """API settings holding ``settings``' values, the API's own ones from the environment."""
        if isinstance(settings, ApiSettings):
            return settings
        return cls(**{name: getattr(settings, name) for name in Settings.model_fields})
