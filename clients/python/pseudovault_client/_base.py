"""What the sync and async clients share: building a call, the retry policy, and reading an
answer into a model or an exception. Nothing here does I/O."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from pseudovault_client.errors import UnexpectedAnswer, problem_error
from pseudovault_client.receipts import Receipt

__all__ = ["Call", "RetryPolicy", "body", "path", "query", "model", "text", "receipt", "new_idempotency_key"]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

_sleep = time.sleep
_async_sleep = asyncio.sleep

#: answers that mean "not done, try again": the rate limit, and a store, proxy or gateway down
RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How a call is retried: up to ``retries`` more attempts, waiting ``backoff * 2**n`` seconds
    (with jitter, at most ``max_backoff``), or what ``Retry-After`` says.

    A call is retried when the vault did not act on it: a connection that could not be made, or
    429. Any other failure (a timeout, a broken connection, 502, 503, 504) is retried only when
    sending the call again cannot do it twice: reads, checks, and creates sent with an
    ``Idempotency-Key`` (which the client adds for you).
    """

    retries: int = 3
    backoff: float = 0.25
    max_backoff: float = 8.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), 60.0)
        return min(self.max_backoff, self.backoff * 2.0**attempt) * (0.5 + random.random() / 2)  # noqa: S311


@dataclass
class Call(Generic[T]):
    """One operation: its request, whether sending it twice is harmless, and how its answer reads."""

    method: str
    url: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, Any] | None = None
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    repeatable: bool = False


_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def require_safe_transport(base_url: httpx.URL) -> None:
    """Refuse to send a token in the clear across a network: ``https``, or ``http`` to this machine."""
    if base_url.scheme == "https" or (base_url.scheme == "http" and base_url.host in _LOOPBACK):
        return
    raise ValueError(
        f"refusing to send the API token over {base_url.scheme or 'no scheme'} to {base_url.host or 'no host'}: "
        "use https (or insecure_http=True for a network you trust)"
    )


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


def path(template: str, **values: object) -> str:
    """``template`` with each ``{name}`` replaced by its value, percent-encoded."""
    return template.format(**{name: quote(str(value), safe="") for name, value in values.items()})


def query(**values: object) -> dict[str, Any]:
    """The query parameters that were given (None means "not given")."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, datetime):
            out[name] = value.isoformat()
        else:
            out[name] = str(value)
    return out


def body(cls: type[M], value: M | Mapping[str, Any] | None) -> Any:
    """A request body: ``value`` as the model ``cls`` (a mapping is validated into it first, so a
    mistake is refused here, before anything is sent), as JSON; fields never set are left out."""
    if value is None:
        return None
    chosen = value if isinstance(value, cls) else cls.model_validate(value)
    return chosen.model_dump(mode="json", exclude_unset=True, by_alias=True)


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # an HTTP date
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds()) if when.tzinfo else None


def raise_for(response: httpx.Response) -> None:
    """Raise the typed error of a problem answer; nothing for a success."""
    if response.status_code < 400:
        return
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        problem = {"type": "about:blank", "title": response.reason_phrase, "status": response.status_code}
    raise problem_error(response.status_code, problem, retry_after=retry_after(response))


def model(cls: type[M]) -> Callable[[httpx.Response], M]:
    def parse(response: httpx.Response) -> M:
        raise_for(response)
        try:
            return cls.model_validate_json(response.content)
        except ValidationError as exc:
            raise UnexpectedAnswer(response.status_code, f"not a {cls.__name__}: {exc.error_count()} error(s)") from None

    return parse


def text(response: httpx.Response) -> str:
    raise_for(response)
    return response.text


def receipt(response: httpx.Response) -> Receipt:
    raise_for(response)
    return Receipt(response.content)


def idempotent(call: Call[T], key: str | None) -> Call[T]:
    """``call`` with an ``Idempotency-Key`` (``key``, or a new random one): safe to send again."""
    call.headers["Idempotency-Key"] = key or new_idempotency_key()
    call.repeatable = True
    return call


def should_retry(call: Call[Any], attempt: int, policy: RetryPolicy, *, status: int | None, sent: bool) -> bool:
    """Whether to send ``call`` again after attempt ``attempt`` (0-based) ended with ``status``
    (None: no answer; ``sent``: whether the request may have reached the vault)."""
    if attempt >= policy.retries:
        return False
    if status is None:
        return not sent or call.repeatable
    if status == 429:
        return True
    return status in RETRY_STATUSES and call.repeatable


def not_sent(exc: httpx.TransportError) -> bool:
    """A failure before the request could reach the vault."""
    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
