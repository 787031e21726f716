"""A short-lived in-memory cache of verified API keys: the store is not asked on every request.

Verifying a token (vault.apikeys.ApiKeyService.authenticate) is a store round trip through a
session, the largest cost of a ban check's request after the check itself. The cache keeps, per
token, what a successful verification returned, for ``ttl`` seconds (``PSEUDOVAULT_API_KEY_CACHE_SECONDS``,
default 5; 0 switches it off):

* keyed by the SHA-256 of the whole token, so the cache holds no token, and a token that differs
  in any character is a different entry (a wrong secret is never answered from the cache: only
  a token that verified is stored);
* failures are never cached: an invalid or revoked token goes to the store every time;
* a key revoked through this process's vault is evicted at once (``ApiKeyService.on_revoke``);
  revoked elsewhere (the CLI, another worker or server), it keeps working here for at most
  ``ttl`` seconds: that bound is the price of the cache, and why ``ttl`` is short;
* at most ``max_entries`` entries; when full, expired ones are dropped, then all of them;
* **refresh ahead**: once an entry is past half its life, :meth:`claim_refresh` answers True
  once, and the caller verifies the token again in the background (api.auth) while requests keep
  being answered from the entry; the new verification replaces the entry (or :meth:`forget` drops
  it, when the key was revoked). So under steady use an entry never expires and no request waits
  for the store, and a key revoked elsewhere still stops working within ``ttl`` seconds (a refresh
  that fails releases its claim: the next request tries again, until the entry expires).

The clock is injectable (``time.monotonic`` by default), so tests move time instead of sleeping.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["KeyCache"]

_T = TypeVar("_T")


class KeyCache(Generic[_T]):
    def __init__(
        self, ttl: float, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl < 0:
            raise ValueError("ttl must not be negative")
        self.ttl = float(ttl)
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        # token digest -> (key id, value, expiry); and the digests whose refresh is due or claimed
        self._entries: dict[bytes, tuple[str, _T, float]] = {}
        self._refresh_at: dict[bytes, float] = {}

    @staticmethod
    def _digest(token: str) -> bytes:
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()

    def get(self, token: str) -> _T | None:
        if self.ttl == 0:
            return None
        entry = self._entries.get(self._digest(token))
        if entry is None:
            return None
        if entry[2] <= self._clock():
            return None
        return entry[1]

    def put(self, token: str, key_id: str, value: _T) -> None:
        if self.ttl == 0:
            return
        now = self._clock()
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries = {d: e for d, e in self._entries.items() if e[2] > now}
                if len(self._entries) >= self._max:
                    self._entries = {}
                self._refresh_at = {d: t for d, t in self._refresh_at.items() if d in self._entries}
            digest = self._digest(token)
            self._entries[digest] = (key_id, value, now + self.ttl)
            self._refresh_at[digest] = now + self.ttl / 2

    def claim_refresh(self, token: str) -> bool:
        """True once per entry past half its life (until :meth:`put`, :meth:`release` or
        :meth:`forget`): the caller then verifies the token again."""
        if self.ttl == 0:
            return False
        digest = self._digest(token)
        due = self._refresh_at.get(digest)
        if due is None or due > self._clock():
            return False
        with self._lock:
            if self._refresh_at.get(digest) != due:
                return False  # another request claimed it meanwhile
            self._refresh_at[digest] = float("inf")
            return True

    def release(self, token: str) -> None:
        """A claimed refresh failed (the store did not answer): let the next request try again."""
        with self._lock:
            digest = self._digest(token)
            if digest in self._entries:
                self._refresh_at[digest] = self._clock()

    def forget(self, token: str) -> None:
        """Drop ``token``'s entry (a refresh found its key revoked)."""
        with self._lock:
            digest = self._digest(token)
            self._entries.pop(digest, None)
            self._refresh_at.pop(digest, None)

    def evict_key(self, key_id: str) -> None:
        """Forget every token of ``key_id`` (it was revoked)."""
        with self._lock:
            self._entries = {d: e for d, e in self._entries.items() if e[0] != key_id}
            self._refresh_at = {d: t for d, t in self._refresh_at.items() if d in self._entries}

    def clear(self) -> None:
        with self._lock:
            self._entries = {}
            self._refresh_at = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"KeyCache(ttl={self.ttl}, entries={len(self._entries)})"
