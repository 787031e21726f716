"""Idempotency keys: a create retried with the same key gives the same answer and creates nothing new.

A client that lost the answer to a POST cannot tell whether it was done; with an
``Idempotency-Key`` it can simply send it again. The API key's id (the scope), a hash of the
client's key, the operation and a hash of the request keyed by the client's key (a body holds
PII: an unkeyed hash of it could be confirmed by guessing; the key itself is never stored) are
stored with the id of what was created
(table ``idempotency_keys``), **in the same data-store transaction as the creation**, so a crash
leaves both or neither. A retry with the same key and the same request finds the row and gets the
same resource; the same key with another request is refused (422); two requests with one key at
the same moment create one resource (the second's insert of the row fails and it answers with the
first's). Rows are kept :data:`TTL` (the server's hourly maintenance deletes older ones); a key
must be 8 to 128 characters of ``A-Z a-z 0-9 . _ : -`` (a UUID, say): it is stored only as a hash.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.store.data_models import IdempotencyRecord
from pseudovault.vault.store.db import session_scope

__all__ = ["KEY_PATTERN", "TTL", "IdempotencyClaim", "find", "once", "once_view", "prune", "record"]

#: how long a key is remembered
TTL = timedelta(hours=24)
KEY_PATTERN = r"^[A-Za-z0-9._:-]{8,128}$"
_KEY = re.compile(KEY_PATTERN)


@dataclass(frozen=True)
class IdempotencyClaim:
    """One request's claim on an idempotency key: who (``scope``, the API key id), which key,
    which operation, and a hash of the request (hex SHA-256)."""

    scope: str
    key: str
    operation: str
    request_hash: str

    def __post_init__(self) -> None:
        if not _KEY.fullmatch(self.key):
            raise InvalidInputError("Idempotency-Key", "must be 8 to 128 characters of A-Z a-z 0-9 . _ : -")

    @classmethod
    def for_request(cls, scope: str, key: str, operation: str, request: bytes) -> IdempotencyClaim:
        """The claim of a request whose body is ``request`` (its bytes in a stable form)."""
        digest = hashlib.sha256(b"pseudovault/idempotency-request/v1\x00" + key.encode() + b"\x00" + request)
        return cls(scope, key, operation, digest.hexdigest())

    def key_hash(self) -> str:
        return hashlib.sha256(b"pseudovault/idempotency/v1\x00" + self.scope.encode() + b"\x00" + self.key.encode()).hexdigest()

    def __repr__(self) -> str:
        return f"IdempotencyClaim(scope={self.scope!r}, operation={self.operation!r})"


def find(session: Session, claim: IdempotencyClaim) -> str | None:
    """The id of what was created under this claim's key, or None; InvalidInputError when the key
    was used with another operation or request."""
    row = session.get(IdempotencyRecord, (claim.scope, claim.key_hash()))
    if row is None:
        return None
    if row.operation != claim.operation or row.request_hash != claim.request_hash:
        raise InvalidInputError("Idempotency-Key", "was used before with a different request")
    return row.resource_id


def record(session: Session, claim: IdempotencyClaim, resource_id: str, now: datetime) -> None:
    """Store the claim with what it created, in ``session`` (the creation's transaction)."""
    session.add(
        IdempotencyRecord(
            scope=claim.scope,
            key_hash=claim.key_hash(),
            operation=claim.operation,
            request_hash=claim.request_hash,
            resource_id=resource_id,
            created_at=now,
        )
    )
    session.flush()


def once(engine: Engine, claim: IdempotencyClaim, create: Callable[[], str]) -> tuple[str, bool]:
    """``(id, created)``: what the claim's key created before, or what ``create`` creates now.

    ``create`` must :func:`record` the claim in its own transaction; when two requests with one
    key race, the second's insert of the key fails (IntegrityError) and it answers with the first's.
    """
    with session_scope(engine) as session:
        existing = find(session, claim)
    if existing is not None:
        return existing, False
    try:
        return create(), True
    except IntegrityError:
        with session_scope(engine) as session:
            existing = find(session, claim)
        if existing is None:
            raise
        return existing, False


_V = TypeVar("_V")


def once_view(
    engine: Engine,
    claim: IdempotencyClaim | None,
    create: Callable[[], _V],
    resource_id: Callable[[_V], str],
    fetch: Callable[[str], _V],
) -> _V:
    """:func:`once` for a create that answers with a view: ``create()`` when ``claim`` is None or
    its key made nothing yet, else ``fetch`` of what the key made (as it stands now)."""
    if claim is None:
        return create()
    made: list[_V] = []

    def run() -> str:
        made.append(create())
        return resource_id(made[0])

    found, created = once(engine, claim, run)
    return made[0] if created else fetch(found)


def prune(session: Session, before: datetime) -> int:
    """Delete the rows created before ``before``; how many."""
    result = cast(CursorResult[Any], session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < before)))
    return int(result.rowcount)
