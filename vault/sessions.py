"""Web console sessions: an API key exchanged for a short-lived, server-side session.

Signing in to the console (:meth:`ConsoleSessions.open`) takes an API key's token, verifies it
like any API call, and answers a fresh session id: 32 random bytes in base64url, which the
browser keeps in an HttpOnly cookie. The store never holds the id: the ``console_sessions`` row
holds its SHA-256 (an id has 256 bits of entropy; a plain hash is enough, no key or salt is
needed to make it unguessable), the key it stands for, and when it began and was last used.

A session is valid (:meth:`ConsoleSessions.resolve`) while

* its API key is not revoked (read from the store on every request, never cached: revoking a
  key ends its sessions at once, in every process);
* it was used within the idle limit (``idle``, default 30 minutes), and
* it began within the absolute limit (``lifetime``, default 8 hours).

An expired session's row is deleted when it is next presented, and every sign-in deletes the
expired rows of all sessions. ``last_seen_at`` is written at most once per ``touch`` (default
30 s) per session, so idle expiry is judged to within that much.

Every session is in the data store, so every process serving the console sees the same sessions:
a sign-out in one ends the session in all of them, with no cache in between.

Signing in and out is audited (``console.sign_in``, ``console.sign_out``; the key id as the
actor and target); the session id never reaches the audit log or a log line.

The CSRF token of a session (:func:`csrf_token`) is an HMAC of a fixed label under the session
id: a page can carry it in its forms, and only a holder of the id (the browser whose cookie it
is) can have it. It is compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr
from sqlalchemy import Engine, delete, func, select, update

from pseudovault.vault.apikeys import ApiKeyService
from pseudovault.vault.audit import Actor, AuditLog
from pseudovault.vault.clock import Clock
from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.store.data_models import ConsoleSession
from pseudovault.vault.store.db import session_scope

__all__ = [
    "DEFAULT_IDLE",
    "DEFAULT_LIFETIME",
    "ConsoleSessions",
    "SessionInfo",
    "csrf_token",
    "csrf_matches",
]

log = logging.getLogger(__name__)

DEFAULT_IDLE = timedelta(minutes=30)
DEFAULT_LIFETIME = timedelta(hours=8)
DEFAULT_TOUCH = timedelta(seconds=30)
_ID_BYTES = 32
_ID_LENGTH = 43  # unpadded base64url of 32 bytes
_CSRF_LABEL = b"pseudovault/console/csrf/v1"


def _hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode("ascii")).digest()


def _well_formed(session_id: object) -> bool:
    if not isinstance(session_id, str) or len(session_id) != _ID_LENGTH:
        return False
    return all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in session_id)


def csrf_token(session_id: str) -> str:
    """The CSRF token of the session with this id (what its forms carry)."""
    digest = hmac.new(session_id.encode("ascii"), _CSRF_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def csrf_matches(session_id: str, presented: object) -> bool:
    """Whether ``presented`` is the session's CSRF token (constant time)."""
    if not isinstance(presented, str) or not presented.isascii():
        return False
    return hmac.compare_digest(csrf_token(session_id).encode("ascii"), presented.encode("ascii"))


@dataclass(frozen=True)
class SessionInfo:
    """A valid session: the API key it stands for (id, name, scopes) and when it began."""

    key_id: str
    name: str
    scopes: frozenset[str]
    created_at: datetime
    last_seen_at: datetime

    def __repr__(self) -> str:
        return f"SessionInfo(key_id={self.key_id!r})"


class ConsoleSessions:
    """Open, resolve and close console sessions (data store table ``console_sessions``)."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        audit: AuditLog,
        apikeys: ApiKeyService,
        *,
        idle: timedelta = DEFAULT_IDLE,
        lifetime: timedelta = DEFAULT_LIFETIME,
        touch: timedelta = DEFAULT_TOUCH,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._audit = audit
        self._apikeys = apikeys
        self._max_touch = touch
        self.configure(idle=idle, lifetime=lifetime)

    def __repr__(self) -> str:
        return f"ConsoleSessions(idle={self.idle}, lifetime={self.lifetime})"

    def configure(self, *, idle: timedelta, lifetime: timedelta) -> None:
        """Set the limits (the server's settings)."""
        if idle <= timedelta(0) or lifetime <= timedelta(0):
            raise InvalidInputError("session", "idle and absolute limits must be positive")
        self.idle, self.lifetime = idle, lifetime
        self._touch = min(self._max_touch, idle / 4)

    def open(self, token: str, *, client: str | None = None) -> tuple[SecretStr, SessionInfo]:
        """A new session for the API key ``token`` (InvalidApiKeyError when it is not an active
        key); returns the session id (for the cookie, never stored) and what it stands for."""
        key = self._apikeys.authenticate(token)
        session_id = base64.urlsafe_b64encode(secrets.token_bytes(_ID_BYTES)).rstrip(b"=").decode("ascii")
        now = self._clock.now()
        with session_scope(self._engine, write=True) as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.created_at <= now - self.lifetime))
            session.execute(delete(ConsoleSession).where(ConsoleSession.last_seen_at <= now - self.idle))
            session.add(ConsoleSession(id_hash=_hash(session_id), key_id=key.key_id, created_at=now, last_seen_at=now))
            session.flush()
            self._audit.append(
                "console.sign_in",
                targets=[key.key_id],
                actor=Actor("api_key", key.key_id, client=client),
                session=session,
            )
        log.info("console session opened for API key %s", key.key_id)
        info = SessionInfo(key.key_id, key.name, key.scopes, now, now)
        return SecretStr(session_id), info

    def resolve(self, session_id: str) -> SessionInfo | None:
        """The session with this id, or None when there is none or it expired (its row is then
        deleted) or its key was revoked."""
        if not _well_formed(session_id):
            return None
        digest = _hash(session_id)
        now = self._clock.now()
        with session_scope(self._engine) as session:
            row = session.get(ConsoleSession, digest)
        if row is None:
            return None
        key = self._apikeys.active(row.key_id)
        if key is None or now - row.created_at >= self.lifetime or now - row.last_seen_at >= self.idle:
            self._delete(digest)
            return None
        if now - row.last_seen_at >= self._touch:
            with session_scope(self._engine, write=True) as session:
                session.execute(
                    update(ConsoleSession)
                    .where(ConsoleSession.id_hash == digest)
                    .where(ConsoleSession.last_seen_at < now)
                    .values(last_seen_at=now)
                )
        return SessionInfo(key.key_id, key.name, key.scopes, row.created_at, now)

    def close(self, session_id: str, *, client: str | None = None) -> bool:
        """End the session (sign-out); False when there was none. Audited when there was one."""
        if not _well_formed(session_id):
            return False
        digest = _hash(session_id)
        with session_scope(self._engine, write=True) as session:
            row = session.get(ConsoleSession, digest, with_for_update=True)
            if row is None:
                return False
            key_id = row.key_id
            session.delete(row)
            self._audit.append(
                "console.sign_out", targets=[key_id], actor=Actor("api_key", key_id, client=client), session=session
            )
        log.info("console session closed for API key %s", key_id)
        return True

    def count(self) -> int:
        """Sessions stored now (expired ones included until they are pruned)."""
        with session_scope(self._engine) as session:
            return int(session.scalar(select(func.count()).select_from(ConsoleSession)) or 0)

    def _delete(self, digest: bytes) -> None:
        with session_scope(self._engine, write=True) as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.id_hash == digest))
