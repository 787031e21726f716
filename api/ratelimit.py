"""Per-API-key rate limits: a token bucket for every key.

A bucket holds up to ``burst`` tokens and gains ``rate`` tokens per second; a request takes
``cost`` tokens (1; a batch may cost more) or, when the bucket holds fewer, is refused with the
time until it would hold enough. Buckets are per key id, so one key running out leaves every
other key unaffected. Ban checks are an oracle (is this identifier banned?): the limit is what
keeps a ``checks`` key from enumerating identifiers.

Two implementations of :class:`RateLimiter`:

* :class:`TokenBucketLimiter`, in process memory (the default): each worker process has its own
  buckets, so with N workers a key gets up to N times the rate.
* :class:`RedisRateLimiter` (``PSEUDOVAULT_RATE_LIMIT_URL=redis://...``): one bucket per key in
  Redis, updated atomically by a Lua script, shared by every worker and server. Times come from
  the caller's clock (``time.time``), so keep the servers' clocks synchronised (NTP). When Redis
  cannot be reached the request is refused with 503, not let through: the limit protects an oracle.

Both take the clock as a parameter, so tests move time instead of sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pseudovault.vault.errors import UnavailableError

__all__ = [
    "RateDecision",
    "RateLimiter",
    "TokenBucketLimiter",
    "RedisRateLimiter",
    "NoRateLimit",
    "acquire",
    "retry_after_header",
]

Clock = Callable[[], float]


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: float = 0.0  # seconds until the request would be allowed (0 when allowed)
    remaining: float = 0.0  # tokens left after this request


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds - 1e-9)))


class RateLimiter(Protocol):
    def acquire(self, key: str, cost: float = 1.0) -> RateDecision: ...

    def ping(self) -> None:
        """Raise UnavailableError when the limiter cannot answer (readiness)."""
        ...

    def close(self) -> None: ...


def _check(rate: float, burst: int) -> None:
    if not (isinstance(rate, (int, float)) and rate > 0 and math.isfinite(rate)):
        raise ValueError("rate must be a positive number of tokens per second")
    if not isinstance(burst, int) or isinstance(burst, bool) or burst < 1:
        raise ValueError("burst must be a positive integer")


class NoRateLimit:
    def ping(self) -> None:
        """Nothing to reach."""
    """Allows everything (``PSEUDOVAULT_RATE_LIMIT_PER_SECOND=0``)."""

    def acquire(self, key: str, cost: float = 1.0) -> RateDecision:
        return RateDecision(True)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return "NoRateLimit()"


class TokenBucketLimiter:
    """Token buckets in this process's memory; thread-safe."""

    def __init__(self, rate: float, burst: int, *, clock: Clock = time.monotonic) -> None:
        _check(rate, burst)
        self.rate = float(rate)
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def ping(self) -> None:
        """In memory: always there."""

    def acquire(self, key: str, cost: float = 1.0) -> RateDecision:
        if cost > self.burst:
            return RateDecision(False, math.inf)
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            if now > at:
                tokens = min(float(self.burst), tokens + (now - at) * self.rate)
                at = now
            if tokens >= cost:
                self._buckets[key] = (tokens - cost, at)
                return RateDecision(True, 0.0, tokens - cost)
            self._buckets[key] = (tokens, at)
            return RateDecision(False, (cost - tokens) / self.rate, tokens)

    def close(self) -> None:
        with self._lock:
            self._buckets.clear()

    def __repr__(self) -> str:
        return f"TokenBucketLimiter(rate={self.rate}, burst={self.burst})"


# KEYS[1] bucket key; ARGV: rate, burst, now (seconds), cost, ttl (milliseconds)
_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate)
  at = now
end
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', at))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {allowed, string.format('%.17g', retry), string.format('%.17g', tokens)}
"""


class RedisRateLimiter:
    """Token buckets in Redis, shared by every process that uses the same Redis and prefix."""

    def __init__(
        self,
        url: str,
        rate: float,
        burst: int,
        *,
        clock: Clock = time.time,
        prefix: str = "pseudovault:ratelimit:",
        socket_timeout: float = 0.5,
    ) -> None:
        _check(rate, burst)
        import redis

        self.rate = float(rate)
        self.burst = burst
        self._clock = clock
        self._prefix = prefix
        self._client: Any = redis.Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
        )
        self._script = self._client.register_script(_LUA)
        # a full bucket is the same as no bucket: let idle ones expire
        self._ttl_ms = math.ceil(burst / self.rate * 1000) + 1000
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)

    def acquire(self, key: str, cost: float = 1.0) -> RateDecision:
        if cost > self.burst:
            return RateDecision(False, math.inf)
        try:
            allowed, retry, tokens = self._script(
                keys=[self._prefix + key],
                args=[repr(self.rate), self.burst, repr(self._clock()), repr(float(cost)), self._ttl_ms],
            )
        except self._errors as exc:
            raise UnavailableError(f"the rate limiter cannot be reached ({type(exc).__name__})") from None
        return RateDecision(bool(int(allowed)), float(retry), float(tokens))

    def ping(self) -> None:
        """Redis answers a PING within the socket timeout, else UnavailableError."""
        try:
            self._client.ping()
        except self._errors as exc:
            raise UnavailableError(f"the rate limiter cannot be reached ({type(exc).__name__})") from None

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"RedisRateLimiter(rate={self.rate}, burst={self.burst})"


async def acquire(limiter: RateLimiter, key: str, cost: float = 1.0) -> RateDecision:
    """``limiter.acquire`` from the event loop: in place for a limiter in process memory (no I/O,
    no thread hop), in a worker thread for a shared one (Redis is a network round trip)."""
    if isinstance(limiter, (TokenBucketLimiter, NoRateLimit)):
        return limiter.acquire(key, cost)
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(limiter.acquire, key, cost)
