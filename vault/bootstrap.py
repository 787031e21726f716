"""From configuration to an open vault: the root KEK provider, the two stores, first-run setup.

The CLI and the HTTP server both start here, so first-run behaviour is the same for both.

The provider comes from ``PSEUDOVAULT_KEK`` (keys.kek_uri): the keyring file (default; created on
first run under a new passphrase), a PKCS#11 token (PIN from ``PSEUDOVAULT_PKCS11_PIN``; on first
run, version 1 of the key is generated in the token) or AWS KMS (on first run, an alias without
versions is adopted, or a key and alias created). A vault is initialised when its keyring file
exists (keyring) or its key store holds keys (HSM, KMS). A provider that cannot be reached is
:class:`vault.errors.UnavailableError` (one line on the CLI, 503 from the API).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pseudovault.keys.errors import ProviderUnavailableError
from pseudovault.keys.kek_uri import KekUri
from pseudovault.keys.keyring import Argon2Params, LocalKeyring
from pseudovault.keys.provider import KekProvider
from pseudovault.keys.secrets import SecretBytes
from pseudovault.vault.checks.decisions import DecisionPolicy
from pseudovault.vault.clock import Clock
from pseudovault.vault.config import Settings
from pseudovault.vault.crypto.ledger import open_ledger
from pseudovault.vault.crypto.oneway import FieldRules
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotInitialisedError, UnavailableError
from pseudovault.vault.identifiers import NormalizerConfig
from pseudovault.vault.retention.policy_file import load_policies
from pseudovault.vault.retention.webhooks import WebhookConfig
from pseudovault.vault.store.db import DbTimeouts, make_engine
from pseudovault.vault.vault import AuditConfig, RecordsConfig, Vault

__all__ = ["PassphraseSource", "InitResult", "init_vault", "open_vault", "is_initialised"]

#: called when no passphrase is configured; ``confirm`` is True when a new keyring is created
PassphraseSource = Callable[[bool], str]

MIN_PASSPHRASE_LENGTH = 12


@dataclass(frozen=True)
class InitResult:
    vault: Vault
    created: bool


def _passphrase(settings: Settings, source: PassphraseSource | None, *, confirm: bool) -> SecretBytes:
    if settings.passphrase is not None:
        value = settings.passphrase.get_secret_value()
    elif source is not None:
        value = source(confirm)
    else:
        raise NotInitialisedError("no passphrase: set PSEUDOVAULT_PASSPHRASE or run interactively to be prompted")
    if confirm and len(value) < MIN_PASSPHRASE_LENGTH:
        raise InvalidInputError("passphrase", f"must be at least {MIN_PASSPHRASE_LENGTH} characters")
    if not value:
        raise InvalidInputError("passphrase", "must not be empty")
    return SecretBytes(value.encode("utf-8"))


def is_initialised(settings: Settings) -> bool:
    uri = settings.kek_uri
    if uri.kind == "keyring":
        assert uri.path is not None
        return uri.path.exists()
    return _key_store_has_keys(settings.resolved_keys_url)


def _external_provider(settings: Settings, uri: KekUri, *, create: bool) -> KekProvider:
    """The HSM or KMS provider ``uri`` names; ``create`` sets up version 1 where there is none."""
    try:
        if uri.kind == "pkcs11":
            from pseudovault.keys.pkcs11 import Pkcs11Provider

            if settings.pkcs11_pin is None or not settings.pkcs11_pin.get_secret_value():
                raise NotInitialisedError("no PKCS#11 PIN: set PSEUDOVAULT_PKCS11_PIN")
            assert uri.module is not None and uri.token is not None and uri.key is not None
            kwargs: dict[str, Any] = {
                "module": uri.module,
                "token_label": uri.token,
                "key_label": uri.key,
                "pin": SecretBytes(settings.pkcs11_pin.get_secret_value().encode("utf-8")),
                "mechanism": uri.mechanism,
            }
            provider: KekProvider = Pkcs11Provider.open(**kwargs) if create else Pkcs11Provider(**kwargs)
        else:
            from pseudovault.keys.awskms import AwsKmsProvider

            assert uri.target is not None
            provider = AwsKmsProvider.open(uri.target) if create else AwsKmsProvider(uri.target)
        provider.primary_key_id  # noqa: B018  # a provider with no usable version fails here, not later
    except ProviderUnavailableError as exc:
        raise UnavailableError(f"the root key provider ({uri.kind}) cannot be used: {exc}") from None
    return provider


def records_config(settings: Settings) -> RecordsConfig:
    """Identifier normalization, the decision policy and the lookup-key refresh from settings.

    A bad default region or policy file fails here, before any store is opened.
    """
    try:
        normalizer = NormalizerConfig(default_region=settings.default_region, ipv6_prefix=settings.ipv6_prefix)
    except ValueError as exc:
        raise InvalidInputError("PSEUDOVAULT_DEFAULT_REGION", str(exc)) from None
    prefixes = tuple(p.strip() for p in settings.nat64_prefixes.split(",") if p.strip())
    if prefixes:
        try:
            normalizer = dataclasses.replace(normalizer, nat64_prefixes=prefixes)
        except ValueError as exc:
            raise InvalidInputError("PSEUDOVAULT_NAT64_PREFIXES", str(exc)) from None
    policy = DecisionPolicy.from_file(settings.decision_policy.expanduser()) if settings.decision_policy else None
    return RecordsConfig(
        normalizer=normalizer,
        policy=policy,
        lookup_refresh=timedelta(seconds=settings.lookup_refresh_seconds),
        miss_filter=settings.check_filter_staleness_seconds if settings.check_filter else None,
        check_read_url=settings.check_read_url.get_secret_value() if settings.check_read_url else None,
    )


def field_rules(settings: Settings) -> FieldRules:
    """The one-way and reversible field names, with the Argon2id parameters for new hashes."""
    one_way = frozenset(n for n in settings.one_way_fields.split(",") if n)
    reversible = frozenset(n for n in settings.reversible_fields.split(",") if n)
    if one_way & reversible:
        raise InvalidInputError("configuration", "PSEUDOVAULT_ONE_WAY_FIELDS and PSEUDOVAULT_REVERSIBLE_FIELDS name the same field")
    return FieldRules(one_way=one_way, reversible=reversible, time_cost=settings.kdf_time_cost,
                      memory_kib=settings.kdf_memory_kib, parallelism=settings.kdf_parallelism)


def webhook_config(settings: Settings) -> WebhookConfig | None:
    """Where events are delivered, or None when no webhook is configured."""
    if settings.webhook_url is None and settings.webhook_secret is None:
        return None
    if settings.webhook_url is None or settings.webhook_secret is None:
        raise InvalidInputError("configuration", "PSEUDOVAULT_WEBHOOK_URL and PSEUDOVAULT_WEBHOOK_SECRET go together")
    return WebhookConfig(settings.webhook_url, SecretBytes(settings.webhook_secret.get_secret_value().encode("utf-8")),
                         max_attempts=settings.webhook_max_attempts)


def _vault_kwargs(settings: Settings, clock: Clock | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "cache_ttl": timedelta(seconds=settings.key_cache_ttl_seconds),
        "cache_size": settings.key_cache_size,
        "audit_config": AuditConfig(
            checkpoint_every=settings.audit_checkpoint_every,
            checkpoint_file=settings.resolved_audit_checkpoint_file,
            head_max_age=timedelta(minutes=settings.audit_head_max_age_minutes) if settings.audit_head_max_age_minutes else None,
        ),
        "records_config": records_config(settings),
        # a bad retention policy file fails here (file, line, reason), before any store is opened
        "retention_policies": load_policies(settings.retention_policies),
        "field_rules": field_rules(settings),
        "webhooks": webhook_config(settings),
        "shred_ledger": open_ledger(settings.resolved_ledger_url),
        "epoch_max_age": timedelta(days=settings.epoch_max_age_days) if settings.epoch_max_age_days else None,
        "key_vacuum": (settings.key_vacuum, settings.key_vacuum_delay_seconds),
        "db_timeouts": DbTimeouts(settings.db_statement_timeout_ms, settings.db_lock_timeout_ms),
    }
    if clock is not None:
        kwargs["clock"] = clock
    return kwargs


def init_vault(
    settings: Settings, passphrase: PassphraseSource | None = None, *, clock: Clock | None = None
) -> InitResult:
    """Create the data directory, the root key (keyring file, token key or KMS key) and both
    stores; on an existing vault, open it.

    Safe to run again: an initialised vault is opened (which checks the passphrase or PIN) and its
    stores are migrated to the current schema; nothing is overwritten.
    """
    uri = settings.kek_uri
    if uri.kind != "keyring":
        created = not _key_store_has_keys(settings.resolved_keys_url)
        if settings.data_url is None or settings.keys_url is None:
            settings.home_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        provider = _external_provider(settings, uri, create=True)
        try:
            vault = Vault.create(
                provider, settings.resolved_data_url, settings.resolved_keys_url, **_vault_kwargs(settings, clock)
            )
        except BaseException:
            provider.close()
            raise
        vault.own_provider()
        return InitResult(vault, created=created)
    assert uri.path is not None
    path = uri.path
    if path.exists():
        provider = LocalKeyring.open(path, _passphrase(settings, passphrase, confirm=False))
        return InitResult(
            Vault.create(
                provider, settings.resolved_data_url, settings.resolved_keys_url, **_vault_kwargs(settings, clock)
            ),
            created=False,
        )
    home = settings.home_dir
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = _passphrase(settings, passphrase, confirm=True)
    # A key store that already holds wrapped keys would be orphaned by a fresh keyring: refuse.
    if _key_store_has_keys(settings.resolved_keys_url):
        raise ConflictError(
            f"the key store already holds keys but the keyring file {path} is missing; "
            "restore the keyring instead of creating a new one"
        )
    params = Argon2Params(
        time_cost=settings.kdf_time_cost,
        memory_cost=settings.kdf_memory_kib,
        parallelism=settings.kdf_parallelism,
    )
    provider = LocalKeyring.create(path, secret, params=params)
    try:
        vault = Vault.create(
            provider, settings.resolved_data_url, settings.resolved_keys_url, **_vault_kwargs(settings, clock)
        )
    except BaseException:
        # The stores could not be set up: leave no keyring that looks like a working vault.
        os.unlink(path)
        raise
    return InitResult(vault, created=True)


def open_vault(settings: Settings, passphrase: PassphraseSource | None = None, *, clock: Clock | None = None) -> Vault:
    uri = settings.kek_uri
    if uri.kind != "keyring":
        if not _key_store_has_keys(settings.resolved_keys_url):
            raise NotInitialisedError(f"no vault in the key store {settings.resolved_keys_url.split(':', 1)[0]}:...; run 'pseudovault init'")
        provider = _external_provider(settings, uri, create=False)
    else:
        assert uri.path is not None
        path = uri.path
        if not path.exists():
            raise NotInitialisedError(
                f"no vault at {settings.home_dir} (keyring {path} not found); run 'pseudovault init'"
            )
        provider = LocalKeyring.open(path, _passphrase(settings, passphrase, confirm=False))
    try:
        vault = Vault.open(
            provider, settings.resolved_data_url, settings.resolved_keys_url, **_vault_kwargs(settings, clock)
        )
    except BaseException:
        provider.close()
        raise
    vault.own_provider()
    return vault


def _key_store_has_keys(keys_url: str) -> bool:
    from sqlalchemy import inspect, text

    if keys_url.startswith("sqlite:///"):
        file = keys_url.removeprefix("sqlite:///")
        if not os.path.exists(file):
            return False
    engine = make_engine(keys_url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("wrapping_keys"):
                return False
            return bool(conn.execute(text("SELECT COUNT(*) FROM wrapping_keys")).scalar_one() > 0)
    finally:
        engine.dispose()
