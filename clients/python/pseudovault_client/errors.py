"""The errors a call raises: a problem detail the vault answered with, as a typed exception, or
the network failing after the retries.

Every :class:`ProblemError` carries the answer's ``status``, ``code`` (the last part of its
``type``), ``detail``, ``request_id`` (quote it when asking the vault's operator) and, for 422,
the invalid parts in ``errors``. A problem detail never holds personal data, so these are safe
to log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "PseudovaultError",
    "TransportError",
    "ProblemError",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "MethodNotAllowed",
    "Conflict",
    "Held",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "ValidationFailed",
    "RateLimited",
    "ServerError",
    "Unavailable",
    "UnexpectedAnswer",
    "problem_error",
]

PROBLEM_BASE = "https://pseudovault.dev/problems/"


class PseudovaultError(Exception):
    """Anything this client raises for a call that did not succeed."""


class TransportError(PseudovaultError):
    """The vault could not be reached, or the connection broke, on every attempt."""


class UnexpectedAnswer(PseudovaultError):
    """The vault answered with something that is not what the operation describes."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"unexpected answer (HTTP {status}): {reason}")
        self.status = status


class ProblemError(PseudovaultError):
    """An RFC 9457 problem detail the vault answered with."""

    status: int = 0

    def __init__(self, problem: Mapping[str, Any], *, status: int, retry_after: float | None = None) -> None:
        self.problem = dict(problem)
        self.status = status
        kind = str(problem.get("type") or "")
        self.code = kind[len(PROBLEM_BASE):] if kind.startswith(PROBLEM_BASE) else kind or "error"
        self.title = str(problem.get("title") or "")
        self.detail = problem.get("detail") if isinstance(problem.get("detail"), str) else None
        self.request_id = problem.get("request_id") if isinstance(problem.get("request_id"), str) else None
        errors = problem.get("errors")
        self.errors: list[dict[str, Any]] = [dict(e) for e in errors if isinstance(e, Mapping)] if isinstance(errors, list) else []
        self.retry_after = retry_after
        super().__init__(self._message())

    def _message(self) -> str:
        text = f"{self.status} {self.code}"
        if self.detail:
            text += f": {self.detail}"
        for error in self.errors[:5]:
            text += f"; {error.get('pointer', '')} {error.get('detail', '')}".rstrip()
        if self.request_id:
            text += f" (request {self.request_id})"
        return text


class BadRequest(ProblemError):
    status = 400


class Unauthorized(ProblemError):
    """401: no token, or a token that is malformed, unknown, wrong, revoked or expired."""

    status = 401


class Forbidden(ProblemError):
    """403: the key does not hold a scope the operation needs."""

    status = 403


class NotFound(ProblemError):
    """404: no such subject, record, hold, request... (a shredded subject is one of them)."""

    status = 404


class MethodNotAllowed(ProblemError):
    status = 405


class Conflict(ProblemError):
    """409: the operation conflicts with the state it found."""

    status = 409


class Held(Conflict):
    """409 ``held``: a legal hold refused the operation; ``hold_id`` names it."""

    def __init__(self, problem: Mapping[str, Any], *, status: int, retry_after: float | None = None) -> None:
        super().__init__(problem, status=status, retry_after=retry_after)
        hold = problem.get("hold_id")
        self.hold_id = hold if isinstance(hold, str) else None


class PayloadTooLarge(ProblemError):
    status = 413


class UnsupportedMediaType(ProblemError):
    status = 415


class ValidationFailed(ProblemError):
    """422: the request is not valid; ``errors`` names each invalid part. Nothing was changed."""

    status = 422


class RateLimited(ProblemError):
    """429: the key's rate limit; ``retry_after`` is how many seconds to wait."""

    status = 429


class ServerError(ProblemError):
    """5xx: the vault failed; nothing of the operation was kept half-done."""

    status = 500


class Unavailable(ServerError):
    """503: a store, the key provider or the rate limiter is down for now."""

    status = 503


_BY_STATUS: dict[int, type[ProblemError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: ValidationFailed,
    429: RateLimited,
    503: Unavailable,
}


def problem_error(status: int, problem: Mapping[str, Any], *, retry_after: float | None = None) -> ProblemError:
    """The exception for an answer of ``status`` with the problem detail ``problem``."""
    if status == 409 and str(problem.get("type", "")).endswith("/held"):
        return Held(problem, status=status, retry_after=retry_after)
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ProblemError)
    return cls(problem, status=status, retry_after=retry_after)
