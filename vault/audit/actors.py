"""Who acts: the actor of the current context (an API key, the CLI, or the system), set by the interface
that received the request and read by every audit entry written under it."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["SYSTEM", "Actor", "acting_as", "current_actor"]


@dataclass(frozen=True)
class Actor:
    kind: str  # "api_key" | "cli" | "system"
    id: str  # an API key id, a user name for the CLI, or "system"
    client: str | None = None  # a client address, when there is one

    def __post_init__(self) -> None:
        if self.kind not in ("api_key", "cli", "system"):
            raise ValueError(f"unknown actor kind {self.kind!r}")
        if not self.id or len(self.id) > 64:
            raise ValueError("actor id must be 1 to 64 characters")


SYSTEM = Actor("system", "system")


_current: contextvars.ContextVar[Actor] = contextvars.ContextVar("pseudovault_actor", default=SYSTEM)


def current_actor() -> Actor:
    return _current.get()


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)
