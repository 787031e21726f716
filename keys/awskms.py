"""Root KEK versions held in AWS KMS, through boto3 (moto in tests).

Key material never leaves KMS: each version is a symmetric KMS key (``SYMMETRIC_DEFAULT``,
``ENCRYPT_DECRYPT``), and wrapping is KMS ``Encrypt``/``Decrypt``. The AWS settings are the
standard ones (region, credentials, ``AWS_ENDPOINT_URL``), read by boto3.

Versions, for ``aws-kms:alias/NAME``::

    alias/NAME        -> the primary version's KMS key (what Encrypt uses)
    alias/NAME/v<N>   -> version N's KMS key; N counts up from 1 and is never reused

Key ids are ``"kms:<N>"``. :meth:`AwsKmsProvider.rotate` creates a KMS key, names it
``alias/NAME/v<N+1>`` and points ``alias/NAME`` at it, so every process sharing the alias agrees on
the primary. :meth:`~AwsKmsProvider.destroy` is ``ScheduleKeyDeletion`` (``pending_window_days``,
7 by default, the shortest KMS allows): the key cannot decrypt from that moment and is deleted for
good when the window ends; a version whose alias has gone with its key is shown destroyed.
``disable``/``enable`` are ``DisableKey``/``EnableKey``. On first use, an ``alias/NAME`` that
exists without versions is adopted as version 1; with no ``alias/NAME`` at all, a key is created.

With ``aws-kms:KEY_ID`` or a key ARN instead of an alias there is one version, ``kms:1``, that key;
rotation needs an alias and is refused with a clear error.

Wrapping: ``Encrypt`` of the key under version N's KMS key with the encryption context
``{"pseudovault:purpose": "root-kek-wrap", "pseudovault:version": "kms:<N>"}``; the ciphertext is
KMS's ciphertext blob as returned. The context binds a blob to pseudovault's use of the key and to
its version: a blob made by another application sharing the KMS key, or relabelled with another
version, does not decrypt (``DecryptionError``).

Failure rules: a blob that does not decrypt is :class:`~keys.errors.DecryptionError`; an unknown,
disabled or destroyed version :class:`~keys.errors.KeyNotFoundError`; KMS that cannot be reached, or
refuses the credentials, or throttles, :class:`~keys.errors.ProviderUnavailableError` naming the
error code only.

Following other processes: the version list is re-read at most every ``follow_seconds`` for the
primary, and at once when an unwrap names a version not known here. KMS enforces disabling and
deletion for every process at once.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pseudovault.keys.errors import DecryptionError, KeyNotFoundError, KeysError, ProviderUnavailableError
from pseudovault.keys.provider import KekProvider, KeyInfo, WrappedKey
from pseudovault.keys.secrets import SecretBytes

__all__ = ["AwsKmsProvider"]

_PREFIX = "kms:"
_KEY_ID = re.compile(r"kms:([1-9][0-9]{0,17})")
_ALIAS = re.compile(r"(?:arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:)?(alias/[A-Za-z0-9/_-]{1,200})")
_PURPOSE = {"pseudovault:purpose": "root-kek-wrap"}
_UNAVAILABLE_CODES = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "ThrottlingException",
        "KMSInternalException",
        "DependencyTimeoutException",
        "ServiceUnavailableException",
        "KeyUnavailableException",
        "CustomKeyStoreInvalidStateException",
    }
)
_DESTROYED_STATES = frozenset({"PendingDeletion", "PendingReplicaDeletion", "Unavailable"})
_T = TypeVar("_T")


@dataclass
class _Version:
    number: int
    key_arn: str | None  # None once the key (and so its alias) is gone
    state: str  # KMS KeyState, or "Deleted"
    created_at: str


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


class AwsKmsProvider(KekProvider):
    """Root KEK versions as KMS keys behind versioned aliases. Build with :meth:`open`."""

    kind = "aws-kms"

    def __init__(
        self,
        target: str,
        *,
        client: Any = None,
        follow_seconds: float = 1.0,
        pending_window_days: int = 7,
    ) -> None:
        if not isinstance(target, str) or not target:
            raise ValueError("the KMS target must be a key id, key ARN or alias")
        if not 7 <= pending_window_days <= 30:
            raise ValueError("pending_window_days must be 7 to 30 (the range KMS allows)")
        if client is None:
            try:
                import boto3
            except ImportError:
                raise ProviderUnavailableError(
                    "the aws-kms provider needs boto3: pip install 'pseudovault[kms]'"
                ) from None
            try:
                client = boto3.client("kms")
            except Exception as exc:  # no region configured, and the like
                raise ProviderUnavailableError(f"cannot set up the KMS client ({type(exc).__name__})") from None
        self._client = client
        alias = _ALIAS.fullmatch(target)
        self._alias = alias.group(1) if alias else None
        self._fixed_key = None if alias else target
        self._follow_seconds = follow_seconds
        self._pending_window_days = pending_window_days
        self._lock = threading.RLock()
        self._versions: dict[int, _Version] = {}
        self._primary_number: int | None = None
        self._scanned_at = float("-inf")

    @classmethod
    def open(cls, target: str, **kwargs: Any) -> AwsKmsProvider:
        """Connect and read the versions; with an alias and no versions yet, set up version 1."""
        provider = cls(target, **kwargs)
        with provider._lock:
            provider._scan()
            if provider._alias is not None and not provider._versions:
                provider._bootstrap()
                provider._scan()
            if provider._primary_number is None:
                raise ProviderUnavailableError("the KMS alias names no usable version")
        return provider

    # --- calls ----------------------------------------------------------------------------

    def _call(self, action: Callable[[], _T]) -> _T:
        try:
            return action()
        except Exception as exc:
            code = _code(exc)
            if code in _UNAVAILABLE_CODES or not code:
                # no code: the endpoint cannot be reached, timed out, or no credentials at all
                raise ProviderUnavailableError(f"AWS KMS cannot be used now ({code or type(exc).__name__})") from None
            raise

    def _aliases(self) -> list[dict[str, Any]]:
        aliases: list[dict[str, Any]] = []
        paginator = self._client.get_paginator("list_aliases")
        for page in paginator.paginate():
            aliases.extend(page.get("Aliases", []))
        return aliases

    def _describe(self, key: str) -> dict[str, Any] | None:
        try:
            return dict(self._client.describe_key(KeyId=key)["KeyMetadata"])
        except Exception as exc:
            if _code(exc) == "NotFoundException":
                return None
            raise

    def _scan(self) -> None:
        def scan() -> tuple[dict[int, _Version], int | None]:
            if self._alias is None:
                assert self._fixed_key is not None
                meta = self._describe(self._fixed_key)
                if meta is None:
                    raise ProviderUnavailableError("the configured KMS key does not exist")
                version = _Version(1, meta["KeyId"], meta["KeyState"], _iso(meta.get("CreationDate")))
                return {1: version}, 1
            prefix = self._alias + "/v"
            found: dict[int, _Version] = {}
            primary_target = None
            for alias in self._aliases():
                name = alias.get("AliasName", "")
                if name == self._alias:
                    primary_target = alias.get("TargetKeyId")
                elif name.startswith(prefix) and re.fullmatch(r"[1-9][0-9]{0,17}", name[len(prefix) :]):
                    number = int(name[len(prefix) :])
                    target = alias.get("TargetKeyId")
                    meta = self._describe(target) if target else None
                    if meta is None:
                        found[number] = _Version(number, None, "Deleted", "")
                    else:
                        found[number] = _Version(number, meta["KeyId"], meta["KeyState"], _iso(meta.get("CreationDate")))
            for number in range(1, max(found, default=0)):  # gone with its key: destroyed
                found.setdefault(number, _Version(number, None, "Deleted", ""))
            primary = None
            if primary_target is not None:
                for version in found.values():
                    if version.key_arn is not None and version.key_arn == primary_target:
                        primary = version.number
            return found, primary

        with self._lock:
            self._versions, self._primary_number = self._call(scan)
            self._scanned_at = time.monotonic()

    def _bootstrap(self) -> None:
        assert self._alias is not None
        alias = self._alias

        def bootstrap() -> None:
            existing = next((a for a in self._aliases() if a.get("AliasName") == alias), None)
            if existing is not None and existing.get("TargetKeyId"):
                key_id = existing["TargetKeyId"]
            else:
                key_id = self._create_key(1)
                self._client.create_alias(AliasName=alias, TargetKeyId=key_id)
            self._client.create_alias(AliasName=f"{alias}/v1", TargetKeyId=key_id)

        self._call(bootstrap)

    def _create_key(self, number: int) -> str:
        assert self._alias is not None
        created = self._client.create_key(
            Description=f"pseudovault root KEK {self._alias} v{number}",
            KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT",
            Tags=[{"TagKey": "pseudovault-root", "TagValue": self._alias}],
        )
        return str(created["KeyMetadata"]["KeyId"])

    def _current(self, *, force: bool = False) -> dict[int, _Version]:
        with self._lock:
            if force or time.monotonic() - self._scanned_at >= self._follow_seconds:
                self._scan()
            return self._versions

    def _number(self, key_id: str) -> int:
        match = _KEY_ID.fullmatch(key_id) if isinstance(key_id, str) else None
        if match is None:
            raise KeyNotFoundError(str(key_id))
        return int(match.group(1))

    def _usable(self, key_id: str) -> _Version:
        number = self._number(key_id)
        version = self._current().get(number)
        if version is None or version.state != "Enabled":
            version = self._current(force=True).get(number)
        if version is None or version.state != "Enabled" or version.key_arn is None:
            raise KeyNotFoundError(key_id)
        return version

    @staticmethod
    def _context(key_id: str) -> dict[str, str]:
        return {**_PURPOSE, "pseudovault:version": key_id}

    # --- the provider interface -----------------------------------------------------------

    @property
    def primary_key_id(self) -> str:
        with self._lock:
            self._current()
            if self._primary_number is None:
                raise ProviderUnavailableError("the KMS alias names no usable version")
            return f"{_PREFIX}{self._primary_number}"

    def wrap(self, key: SecretBytes) -> WrappedKey:
        if not isinstance(key, SecretBytes):
            raise TypeError("wrap takes SecretBytes")
        if not 1 <= len(key) <= 4096:
            raise ValueError("a wrapped key is 1 to 4096 bytes")
        with self._lock:
            self._current(force=True)  # rare: never under a stale primary
            key_id = self.primary_key_id
            version = self._usable(key_id)
        blob = self._call(
            lambda: self._client.encrypt(
                KeyId=version.key_arn, Plaintext=key.reveal(), EncryptionContext=self._context(key_id)
            )["CiphertextBlob"]
        )
        return WrappedKey(key_id, bytes(blob))

    def unwrap(self, wrapped: WrappedKey) -> SecretBytes:
        if not isinstance(wrapped, WrappedKey):
            raise TypeError("unwrap takes a WrappedKey")
        version = self._usable(wrapped.key_id)
        if not wrapped.ciphertext:
            raise DecryptionError()
        try:
            plaintext = self._call(
                lambda: self._client.decrypt(
                    CiphertextBlob=wrapped.ciphertext,
                    KeyId=version.key_arn,
                    EncryptionContext=self._context(wrapped.key_id),
                )["Plaintext"]
            )
        except ProviderUnavailableError as exc:
            if "AccessDeniedException" not in str(exc) or not self._reachable(version):
                raise
            # access to the key works: the blob itself names a key it may not use (a forged blob)
            raise DecryptionError() from None
        except Exception as exc:
            if _code(exc) in ("DisabledException", "KMSInvalidStateException", "NotFoundException"):
                current = self._current(force=True).get(version.number)
                if current is None or current.state != "Enabled":
                    raise KeyNotFoundError(wrapped.key_id) from None
            raise DecryptionError() from None
        return SecretBytes(bytes(plaintext))

    def _reachable(self, version: _Version) -> bool:
        try:
            return self._call(lambda: self._describe(version.key_arn or "")) is not None
        except ProviderUnavailableError:
            return False

    def rotate(self, *, now: datetime | None = None) -> str:
        """A new KMS key as version N+1, made primary. ``now`` is not used: KMS dates its keys."""
        if self._alias is None:
            raise KeysError("rotating an AWS KMS root key needs an alias: set PSEUDOVAULT_KEK=aws-kms:alias/NAME")
        alias = self._alias
        with self._lock:
            number = max(self._current(force=True), default=0) + 1

            def rotate() -> None:
                key_id = self._create_key(number)
                self._client.create_alias(AliasName=f"{alias}/v{number}", TargetKeyId=key_id)
                self._client.update_alias(AliasName=alias, TargetKeyId=key_id)

            self._call(rotate)
            self._current(force=True)
            return f"{_PREFIX}{number}"

    def keys(self) -> list[KeyInfo]:
        with self._lock:
            versions = self._current(force=True)
            primary = self._primary_number
            return [
                KeyInfo(
                    key_id=f"{_PREFIX}{v.number}",
                    status=_status(v.state),
                    primary=v.number == primary,
                    created_at=v.created_at,
                )
                for v in sorted(versions.values(), key=lambda v: v.number)
            ]

    def _known(self, key_id: str) -> _Version:
        number = self._number(key_id)
        version = self._current(force=True).get(number)
        if version is None:
            raise KeyNotFoundError(key_id)
        return version

    def destroy(self, key_id: str) -> None:
        """Schedule the version's KMS key for deletion: it decrypts nothing from now on."""
        with self._lock:
            version = self._known(key_id)
            if version.number == self._primary_number:
                raise ValueError("the primary key version cannot be disabled or destroyed")
            if _status(version.state) == "destroyed" or version.key_arn is None:
                return
            arn = version.key_arn
            self._call(
                lambda: self._client.schedule_key_deletion(KeyId=arn, PendingWindowInDays=self._pending_window_days)
            )
            self._current(force=True)

    def _set_enabled(self, key_id: str, enabled: bool) -> None:
        with self._lock:
            version = self._known(key_id)
            if _status(version.state) == "destroyed" or version.key_arn is None:
                raise ValueError(f"key version {key_id} is destroyed; it cannot be {'enabled' if enabled else 'disabled'}")
            if not enabled and version.number == self._primary_number:
                raise ValueError("the primary key version cannot be disabled or destroyed")
            arn = version.key_arn
            if enabled:
                self._call(lambda: self._client.enable_key(KeyId=arn))
            else:
                self._call(lambda: self._client.disable_key(KeyId=arn))
            self._current(force=True)

    def disable(self, key_id: str) -> None:
        self._set_enabled(key_id, False)

    def enable(self, key_id: str) -> None:
        self._set_enabled(key_id, True)

    def refresh(self) -> None:
        self._current(force=True)

    def __repr__(self) -> str:
        primary = f"{_PREFIX}{self._primary_number}" if self._primary_number else None
        return f"AwsKmsProvider(target={self._alias or 'key'!r}, primary={primary!r})"


def _status(state: str) -> str:
    if state == "Enabled":
        return "enabled"
    if state in _DESTROYED_STATES or state == "Deleted":
        return "destroyed"
    return "disabled"


def _iso(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else ""
