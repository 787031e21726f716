"""Configuration from ``PSEUDOVAULT_*`` environment variables (pydantic-settings).

Everything has a working default: with nothing set, the vault lives in ``~/.pseudovault`` as two
SQLite files (data and keys, kept apart so that a backup of the data holds no keys) and a local
keyring file sealed under a passphrase.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pseudovault.keys.kek_uri import KekUri, parse_kek_uri

__all__ = ["Settings", "redact_url"]


def redact_url(url: str) -> str:
    """A database URL with any password replaced, fit for display and logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL is shown as its scheme only
        return url.split(":", 1)[0] + ":<unparseable>"


#: a subject field name (vault.ids.FIELD_NAME, which this layer may not import)
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")

class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PSEUDOVAULT_", extra="ignore")

    home: Path = Field(default=Path("~/.pseudovault"), description="Data directory.")
    data_url: str | None = Field(default=None, description="Data store URL (default: SQLite in home).")
    keys_url: str | None = Field(default=None, description="Key store URL (default: SQLite in home).")
    keyring: Path | None = Field(default=None, description="Local keyring file (default: home/keyring.json).")
    passphrase: SecretStr | None = Field(default=None, description="Keyring passphrase; prompted if unset.")
    # The root KEK provider (keys.kek_uri): keyring:PATH (default: the keyring above),
    # pkcs11:module=...;token=...;key=... (PIN in pkcs11_pin), aws-kms:KEY_ID_OR_ARN_OR_ALIAS.
    kek: str | None = Field(default=None, description="Root KEK provider URI.")
    pkcs11_pin: SecretStr | None = Field(default=None, description="PIN of the PKCS#11 token's user.")
    # The shred ledger outside both stores (vault.crypto.ledger): file:PATH or a database URL
    # (default: file beside the keyring, or in home for an HSM or KMS).
    ledger_url: str | None = Field(default=None, description="Shred ledger location.")
    # Backup horizon: the wrapping epoch (and root version) is rotated, everything rewrapped and
    # the old keys destroyed once the current epoch is this old (0: never, by hand only).
    epoch_max_age_days: float = Field(default=30.0, ge=0, le=3650)
    # PostgreSQL: after shreds, VACUUM the key tables ("plain"), rewrite them ("full"), or not.
    key_vacuum: str = Field(default="full", pattern="^(plain|full|off)$")
    db_statement_timeout_ms: int = Field(default=30_000, ge=0, le=3_600_000)
    db_lock_timeout_ms: int = Field(default=5_000, ge=0, le=3_600_000)
    key_vacuum_delay_seconds: float = Field(default=10.0, ge=0, le=3600)
    key_cache_ttl_seconds: float = Field(default=300.0, gt=0, le=86_400)
    key_cache_size: int = Field(default=10_000, ge=1, le=10_000_000)
    default_region: str = Field(default="KR", min_length=2, max_length=2)
    # Ban checks: a TOML decision policy file (vault.checks.decisions; default policy if unset), the
    # IPv6 prefix identifiers are reduced to, and how often lookup-key versions are re-read.
    decision_policy: Path | None = Field(default=None, description="Decision policy TOML file.")
    ipv6_prefix: int = Field(default=64, ge=16, le=128)
    # the operator's own NAT64 prefixes (RFC 6052), comma-separated: their addresses are taken as
    # the IPv4 address they carry, like those of the well-known 64:ff9b::/96
    nat64_prefixes: str = Field(default="", max_length=2000)
    lookup_refresh_seconds: float = Field(default=5.0, ge=0, le=3600)
    # PostgreSQL: answer check misses from an in-process filter of the stored pseudonyms
    # (vault.checks.missfilter); a ban written by another process reaches every filter within
    # check_filter_staleness_seconds of its commit. Off by default: every check queries the store.
    check_filter: bool = False
    check_filter_staleness_seconds: float = Field(default=1.0, gt=0, le=60)
    # a read replica of the data store that checks query instead of the data store (docs/scaling.md)
    check_read_url: SecretStr | None = Field(default=None, description="Read replica URL for checks.")
    # Retention: the operator's policy file (vault.retention.policies; the shipped presets if unset).
    retention_policies: Path | None = Field(default=None, description="Retention policy TOML file.")
    # Signed webhooks (vault.retention.webhooks): erasures, corrections, restrictions and consent
    # withdrawals are POSTed to this URL, signed with HMAC-SHA256 under the secret (both or none).
    webhook_url: str | None = Field(default=None, description="Webhook endpoint (http or https).")
    webhook_secret: SecretStr | None = Field(default=None, description="Webhook signing secret (32+ characters).")
    webhook_max_attempts: int = Field(default=10, ge=1, le=100)
    # One-way subject fields (vault.crypto.oneway): stored as Argon2id hashes, only verified, never
    # revealed (comma-separated field names). A secret-looking name (password, pin, secret, ...)
    # not listed here is refused unless listed as reversible on purpose.
    one_way_fields: str = Field(default="password", description="Comma-separated one-way field names.")
    reversible_fields: str = Field(default="", description="Secret-looking field names kept reversibly on purpose.")
    # Argon2id parameters used when a keyring is created (an existing keyring keeps its own) and
    # for new one-way field hashes (an existing hash keeps its own until it is next verified).
    kdf_time_cost: int = Field(default=3, ge=1, le=100)
    kdf_memory_kib: int = Field(default=65_536, ge=8, le=4_194_304)
    kdf_parallelism: int = Field(default=4, ge=1, le=64)
    # Audit log: a signed checkpoint every N entries; entries older than the retention are pruned
    # by 'pseudovault audit prune' (the operator-access-log period: 2 years; never under 1 year,
    # vault.audit.log.MIN_RETENTION_DAYS).
    audit_checkpoint_every: int = Field(default=100, ge=1, le=1_000_000)
    audit_retention_days: int = Field(default=730, ge=365, le=36_500)
    # Each checkpoint's signed head is also appended to a file outside the data store
    # (vault.audit.external): a path, or "off" (default: beside the keyring, or in home for an HSM
    # or KMS). 'audit verify' fails on a head signed longer ago than the max age (the server signs
    # it hourly; 0: not checked).
    audit_checkpoint_file: str | None = Field(default=None, description="Audit checkpoint file, or off.")
    audit_head_max_age_minutes: float = Field(default=120.0, ge=0, le=525_600)

    @field_validator("kek")
    @classmethod
    def _kek_uri(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        parse_kek_uri(v)  # ValueError says what is wrong
        return v

    @field_validator("default_region")
    @classmethod
    def _region_upper(cls, v: str) -> str:
        return v.upper()

    @field_validator("one_way_fields", "reversible_fields")
    @classmethod
    def _field_names(cls, v: str) -> str:
        names = [n.strip() for n in v.split(",") if n.strip()]
        for name in names:
            if not _FIELD_NAME.fullmatch(name):
                raise ValueError("must be field names ([a-z][a-z0-9_]{0,63}) separated by commas")
        return ",".join(names)

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser()

    @property
    def resolved_data_url(self) -> str:
        return self.data_url or f"sqlite:///{self.home_dir / 'data.sqlite3'}"

    @property
    def resolved_keys_url(self) -> str:
        return self.keys_url or f"sqlite:///{self.home_dir / 'keys.sqlite3'}"

    @property
    def keyring_path(self) -> Path:
        return (self.keyring or self.home_dir / "keyring.json").expanduser()

    @property
    def kek_uri(self) -> KekUri:
        """The root KEK provider: ``PSEUDOVAULT_KEK``, or the keyring file by default."""
        if self.kek:
            uri = parse_kek_uri(self.kek)
            if uri.kind == "keyring" and uri.path is not None and not uri.path.is_absolute():
                return KekUri("keyring", path=self.home_dir / uri.path)
            return uri
        return KekUri("keyring", path=self.keyring_path)

    def _beside_root_key(self) -> Path:
        uri = self.kek_uri
        return uri.path.parent if uri.kind == "keyring" and uri.path is not None else self.home_dir

    @property
    def resolved_audit_checkpoint_file(self) -> Path | None:
        """Where signed heads of the audit log are appended; None when switched off."""
        value = (self.audit_checkpoint_file or "").strip()
        if value.lower() == "off":
            return None
        if value:
            path = Path(value).expanduser()
            return path if path.is_absolute() else self.home_dir / path
        return self._beside_root_key() / "audit-checkpoints.jsonl"

    @property
    def resolved_ledger_url(self) -> str:
        if self.ledger_url:
            return self.ledger_url
        return f"file:{self._beside_root_key() / 'shred-ledger.jsonl'}"
