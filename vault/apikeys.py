"""API keys: scoped bearer tokens for the HTTP API, stored only as a hash.

Token::

    pvk_<key id>_<secret>

``pvk_`` is a fixed prefix, so a leaked token is easy to find in a scan; the key id is 10
characters of lower-case base32 (``a-z2-7``, 50 random bits), safe to log and to show; the secret
is 32 random bytes in unpadded base64url (43 characters). The key store never sees a token; the
data store's ``api_keys`` row holds, for the secret part only::

    secret_hash = SHA-256(b"pseudovault/api-key/v1" 0x00 || key id || 0x00 || secret)

Verification (:meth:`ApiKeyService.authenticate`) finds the row by key id and compares hashes
with :func:`hmac.compare_digest`; an unknown id is compared against a dummy hash so it takes the
same time. A malformed token, an unknown id, a wrong secret and a revoked key all raise the same
:class:`InvalidApiKeyError`. ``last_used_at`` is written at most once per ``touch_interval``
(a minute) per key, not on every request.

Scopes (:data:`SCOPES`, defined here and nowhere else): each grants exactly what it names, and
``admin`` grants key, audit and server management only; it does not imply any other scope (least
privilege: an operator's key cannot read PII). A key carries any set of scopes.

Creating and revoking keys is audited (``apikey.create``, ``apikey.revoke``: the key id as
target, the scopes as flags); the token and the name never reach the audit log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from pseudovault.vault.audit import AuditLog
from pseudovault.vault.clock import Clock
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError, VaultError
from pseudovault.vault.store.data_models import ApiKey
from pseudovault.vault.store.db import session_scope
from pseudovault.vault.views import View

__all__ = [
    "MAX_GRACE",
    "MAX_LIFETIME",
    "Scope",
    "SCOPES",
    "SCOPE_DESCRIPTIONS",
    "TOKEN_PREFIX",
    "ApiKeyInfo",
    "ApiKeyService",
    "InvalidApiKeyError",
    "secret_hash",
    "sort_scopes",
    "validate_scopes",
]

log = logging.getLogger(__name__)


class Scope(StrEnum):
    CHECKS = "checks"
    RECORDS_READ = "records:read"
    RECORDS_WRITE = "records:write"
    SUBJECTS_WRITE = "subjects:write"
    SUBJECTS_REVEAL = "subjects:reveal"
    ERASURE = "erasure"
    RESTRICTED_READ = "restricted:read"
    ADMIN = "admin"


#: every scope, in the order the documentation lists them
SCOPES: tuple[str, ...] = tuple(scope.value for scope in Scope)

SCOPE_DESCRIPTIONS: dict[str, str] = {
    Scope.CHECKS: "Ban checks at signup: decisions only, never records or PII.",
    Scope.RECORDS_READ: "Read fraud records (no identifiers, no decrypted text).",
    Scope.RECORDS_WRITE: "Create, update and revoke fraud records.",
    Scope.SUBJECTS_WRITE: "Create, update and list subjects (ids and field names, never values).",
    Scope.SUBJECTS_REVEAL: "Decrypt a subject's fields, with a stated purpose that is audited.",
    Scope.ERASURE: "Shred subjects and make erasure requests (crypto-shredding; irreversible); their receipts.",
    Scope.RESTRICTED_READ: "Read data in separate storage (kept under another law after a withdrawal or "
    "erasure), with a stated legal-request purpose that is audited.",
    Scope.ADMIN: "Key status, rotation and rewrap; audit query, verification and checkpoints; retention policies, "
    "reports and sweeps; legal holds; data-subject request tracking. No PII.",
}

TOKEN_PREFIX = "pvk_"
KEY_ID_LENGTH = 10
NAME_MAX_LENGTH = 64
DEFAULT_TOUCH_INTERVAL = timedelta(minutes=1)

_KEY_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_KEY_ID = re.compile(rf"[a-z2-7]{{{KEY_ID_LENGTH}}}")
_TOKEN = re.compile(rf"{TOKEN_PREFIX}([a-z2-7]{{{KEY_ID_LENGTH}}})_([A-Za-z0-9_-]{{43}})")
_HASH_DOMAIN = b"pseudovault/api-key/v1\x00"
#: the longest an expiring key may live (a key meant to live longer does not expire)
MAX_LIFETIME = timedelta(days=3650)
#: the longest a rotated key's previous token stays valid
MAX_GRACE = timedelta(days=30)
_DUMMY_HASH = hashlib.sha256(b"pseudovault/api-key/no-such-key").digest()


class InvalidApiKeyError(VaultError):
    """The token is malformed, unknown, wrong, revoked or expired: the five are never told apart."""

    code = "unauthorized"

    def __init__(self) -> None:
        super().__init__("invalid or revoked API key")


@dataclass(frozen=True)
class ApiKeyInfo(View):
    """An API key as it may be shown: never the token or its hash."""

    key_id: str
    name: str
    scopes: frozenset[str]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    expires_at: datetime | None = None
    rotated_at: datetime | None = None
    #: after a rotation: until when the previous token is still accepted
    previous_valid_until: datetime | None = None
    #: from :meth:`ApiKeyService.authenticate` with the previous token: when that token stops
    token_valid_until: datetime | None = field(default=None, compare=False, metadata={"hidden": True})

    @property
    def active(self) -> bool:
        """Not revoked (whether it has expired depends on the time: :meth:`usable_at`)."""
        return self.revoked_at is None

    def usable_at(self, now: datetime) -> bool:
        """Whether the key (and the token it was read with) authenticates at ``now``: not
        revoked, not expired, and not a previous token past its grace period."""
        return (
            self.revoked_at is None
            and (self.expires_at is None or now < self.expires_at)
            and (self.token_valid_until is None or now < self.token_valid_until)
        )

    def extra(self) -> Mapping[str, Any]:
        return {"scopes": sort_scopes(self.scopes), "active": self.active}


def secret_hash(key_id: str, secret: str) -> bytes:
    """What ``api_keys.secret_hash`` holds for a token's key id and secret part."""
    return hashlib.sha256(_HASH_DOMAIN + key_id.encode("ascii") + b"\x00" + secret.encode("ascii")).digest()


def sort_scopes(scopes: Iterable[str]) -> list[str]:
    """Scopes in the order of :data:`SCOPES` (any unknown name last)."""
    return sorted(scopes, key=lambda s: (SCOPES.index(s) if s in SCOPES else len(SCOPES), s))


_SCOPE_SHAPE = re.compile(r"[a-z][a-z_]{0,23}(?::[a-z][a-z_]{0,23})?")


def validate_scopes(scopes: Iterable[str]) -> frozenset[str]:
    if isinstance(scopes, str):
        raise TypeError("scopes must be a collection of scope names, not a single string")
    chosen = frozenset(scopes)
    if not chosen:
        raise InvalidInputError("scopes", "at least one scope is required")
    unknown = chosen - set(SCOPES)
    if unknown:
        # an unknown scope is the caller's text: named when it has the shape of a scope name (a
        # typing error: "record:write"), counted otherwise (it could be anything, even PII)
        named = sorted(scope for scope in unknown if isinstance(scope, str) and _SCOPE_SHAPE.fullmatch(scope))
        others = len(unknown) - len(named)
        parts = [f"unknown scope {scope!r}" for scope in named]
        if others:
            parts.append(f"{others} other unknown scope(s)")
        raise InvalidInputError("scopes", f"{'; '.join(parts)}; known: {', '.join(SCOPES)}")
    return chosen


def _validate_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError("name", "a name is required")
    name = name.strip()
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidInputError("name", f"at most {NAME_MAX_LENGTH} characters")
    if any(not ch.isprintable() for ch in name):
        raise InvalidInputError("name", "must be one line of printable characters")
    return name


def _validate_key_id(key_id: object) -> str:
    if not isinstance(key_id, str) or _KEY_ID.fullmatch(key_id) is None:
        raise InvalidInputError("key_id", f"must be {KEY_ID_LENGTH} characters of a-z and 2-7")
    return key_id


def _new_key_id() -> str:
    return "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))


def _new_secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


def _scope_flags(scopes: frozenset[str]) -> dict[str, bool]:
    return {"scope_" + scope.replace(":", "_"): True for scope in sorted(scopes)}


def _to_info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        key_id=row.id,
        name=row.name,
        scopes=frozenset(row.scopes.split()),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        rotated_at=row.rotated_at,
        previous_valid_until=row.previous_valid_until,
    )


class ApiKeyService:
    """Create, list, revoke and authenticate API keys (data store table ``api_keys``)."""

    def __init__(
        self, engine: Engine, clock: Clock, audit: AuditLog, *, touch_interval: timedelta = DEFAULT_TOUCH_INTERVAL
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._audit = audit
        self._touch_interval = touch_interval
        self._revoke_listeners: list[Callable[[str], None]] = []

    def __repr__(self) -> str:
        return "ApiKeyService()"

    def on_revoke(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(key_id)`` after every revocation or rotation through this object (a
        cache of verified keys evicts the key at once; see api.keycache)."""
        self._revoke_listeners.append(listener)

    def create(
        self, name: str, scopes: Iterable[str], *, expires_at: datetime | None = None
    ) -> tuple[ApiKeyInfo, SecretStr]:
        """A new key; returns its description and its token, which is never available again.
        ``expires_at``: when it stops authenticating (in the future, at most
        :data:`MAX_LIFETIME` away); None for a key that does not expire."""
        name = _validate_name(name)
        chosen = validate_scopes(scopes)
        now = self._clock.now()
        if expires_at is not None:
            if not isinstance(expires_at, datetime) or expires_at.tzinfo is None:
                raise InvalidInputError("expires_at", "must be a time with its UTC offset")
            if expires_at <= now:
                raise InvalidInputError("expires_at", "must be in the future")
            if expires_at - now > MAX_LIFETIME:
                raise InvalidInputError("expires_at", f"must be at most {MAX_LIFETIME.days} days away")
        for _attempt in range(5):
            key_id, secret = _new_key_id(), _new_secret()
            try:
                with session_scope(self._engine, write=True) as session:
                    row = ApiKey(
                        id=key_id,
                        name=name,
                        secret_hash=secret_hash(key_id, secret),
                        scopes=" ".join(sort_scopes(chosen)),
                        created_at=now,
                        revoked_at=None,
                        last_used_at=None,
                        expires_at=expires_at,
                    )
                    session.add(row)
                    session.flush()
                    detail: dict[str, bool | int] = {**_scope_flags(chosen)}
                    if expires_at is not None:  # its lifetime in whole days, rounded up
                        detail["expires_in_days"] = -((now - expires_at) // timedelta(days=1))
                    self._audit.append("apikey.create", targets=[key_id], detail=detail, session=session)
            except IntegrityError:  # the random id was taken: draw another
                continue
            log.info("created API key %s with %d scope(s)", key_id, len(chosen))
            return _to_info(row), SecretStr(f"{TOKEN_PREFIX}{key_id}_{secret}")
        raise VaultError("could not draw a free API key id")

    def list(self, *, include_revoked: bool = True) -> list[ApiKeyInfo]:
        stmt = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
        if not include_revoked:
            stmt = stmt.where(ApiKey.revoked_at.is_(None))
        with session_scope(self._engine) as session:
            return [_to_info(row) for row in session.scalars(stmt)]

    def get(self, key_id: str) -> ApiKeyInfo:
        key_id = _validate_key_id(key_id)
        with session_scope(self._engine) as session:
            row = session.get(ApiKey, key_id)
            if row is None:
                raise NotFoundError("API key", key_id)
            return _to_info(row)

    def active(self, key_id: str) -> ApiKeyInfo | None:
        """The key ``key_id`` if it exists, is not revoked and has not expired (read from the
        store, never cached)."""
        with session_scope(self._engine) as session:
            row = session.get(ApiKey, key_id)
            info = _to_info(row) if row is not None else None
        return info if info is not None and info.usable_at(self._clock.now()) else None

    def count_active(self) -> int:
        """Keys that authenticate now: not revoked, not expired."""
        now = self._clock.now()
        with session_scope(self._engine) as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(ApiKey)
                    .where(ApiKey.revoked_at.is_(None), (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > now))
                )
                or 0
            )

    def revoke(self, key_id: str) -> ApiKeyInfo:
        """Revoke a key for good; revoking a revoked key again changes nothing (and is audited)."""
        key_id = _validate_key_id(key_id)
        with session_scope(self._engine, write=True) as session:
            row = session.get(ApiKey, key_id, with_for_update=True)
            if row is None:
                raise NotFoundError("API key", key_id)
            already = row.revoked_at is not None
            if not already:
                row.revoked_at = self._clock.now()
            self._audit.append("apikey.revoke", targets=[key_id], detail={"already": already}, session=session)
            info = _to_info(row)
        for listener in self._revoke_listeners:
            listener(key_id)
        log.info("revoked API key %s (already %s)", key_id, already)
        return info

    def rotate(self, key_id: str, *, grace: timedelta = timedelta(0)) -> tuple[ApiKeyInfo, SecretStr]:
        """A new token for the key ``key_id`` (same id, name, scopes and expiry: its audit trail
        goes on); the token it replaces stays valid for ``grace`` (at most :data:`MAX_GRACE`;
        zero: refused at once). A token replaced earlier is refused from now on."""
        key_id = _validate_key_id(key_id)
        if not isinstance(grace, timedelta) or grace < timedelta(0) or grace > MAX_GRACE:
            raise InvalidInputError("grace", f"must be from 0 to {MAX_GRACE.days} days")
        secret = _new_secret()
        now = self._clock.now()
        with session_scope(self._engine, write=True) as session:
            row = session.get(ApiKey, key_id, with_for_update=True)
            if row is None:
                raise NotFoundError("API key", key_id)
            info = _to_info(row)
            if not info.usable_at(now):
                raise ConflictError(f"API key {key_id} is revoked or expired: create a new one")
            row.previous_secret_hash = bytes(row.secret_hash) if grace > timedelta(0) else None
            row.previous_valid_until = now + grace if grace > timedelta(0) else None
            row.secret_hash = secret_hash(key_id, secret)
            row.rotated_at = now
            self._audit.append(
                "apikey.rotate", targets=[key_id], detail={"grace_seconds": int(grace.total_seconds())}, session=session
            )
            info = _to_info(row)
        # caches of this process drop the key's tokens: the next request reads the old token's end
        for listener in self._revoke_listeners:
            listener(key_id)
        log.info("rotated API key %s (grace %d s)", key_id, int(grace.total_seconds()))
        return info, SecretStr(f"{TOKEN_PREFIX}{key_id}_{secret}")

    def authenticate(self, token: str) -> ApiKeyInfo:
        """The active key ``token`` belongs to, or InvalidApiKeyError."""
        match = _TOKEN.fullmatch(token) if isinstance(token, str) else None
        if match is None:
            raise InvalidApiKeyError()
        key_id, secret = match.group(1), match.group(2)
        presented = secret_hash(key_id, secret)
        with session_scope(self._engine) as session:
            row = session.get(ApiKey, key_id)
            stored = bytes(row.secret_hash) if row is not None else _DUMMY_HASH
            previous = bytes(row.previous_secret_hash) if row is not None and row.previous_secret_hash else _DUMMY_HASH
            # both comparisons, always, in constant time: which one matched is not a timing signal
            is_current = hmac.compare_digest(presented, stored)
            is_previous = hmac.compare_digest(presented, previous)
            if row is None or not (is_current or (is_previous and row.previous_secret_hash is not None)):
                raise InvalidApiKeyError()
            info = _to_info(row)
            if not is_current:  # the token a rotation replaced: valid to the end of its grace period
                info = replace(info, token_valid_until=row.previous_valid_until)
        now = self._clock.now()
        if not info.usable_at(now):  # revoked or expired: refused like a wrong token
            raise InvalidApiKeyError()
        if info.last_used_at is None or now - info.last_used_at >= self._touch_interval:
            self._touch(key_id, now)
        return info

    def _touch(self, key_id: str, now: datetime) -> None:
        """Record a use; a no-op when another request recorded one within the interval."""
        with session_scope(self._engine, write=True) as session:
            session.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id)
                .where((ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at <= now - self._touch_interval))
                .values(last_used_at=now)
            )
