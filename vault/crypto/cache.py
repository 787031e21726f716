"""A bounded in-memory cache of unwrapped keys.

Least recently used entries go first once ``max_entries`` is reached, and every entry expires
``ttl`` after it was put, as measured by the injectable clock (the system clock's monotonic
seconds, so a wall-clock step changes nothing; any other clock's own time). The TTL is what bounds how long a
key shredded by *another* process stays usable here ("gone everywhere within ``ttl``"); the
process that shreds evicts its own entry at once. If the clock moves backwards, entries put
"in the future" count as expired, so a clock step never extends a key's life.

A fill that raced with an eviction must not win: read :attr:`KeyCache.stamp` before loading a key
from its store and pass it to :meth:`KeyCache.put`; the put is skipped if anything was evicted or
cleared since. (Conservative: an unrelated eviction only costs one cache fill.)

``max_entries == 0`` or a zero ``ttl`` disables caching: every put is skipped.

An entry can carry one object derived from its key (:meth:`KeyCache.derived`, e.g. the
AES-GCM context built over a data key), so hot paths do not rebuild it for every field. The
derived object lives and dies with its entry: eviction, expiry and ``clear`` drop both.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NoReturn, TypeVar

from pseudovault.keys.secrets import SecretBytes
from pseudovault.vault.clock import Clock, SystemClock

__all__ = ["KeyCache", "DATA_KEY_PREFIX", "data_key_cache_key", "epoch_cache_key", "record_key_cache_key"]

_D = TypeVar("_D")


class KeyCache:
    """LRU + TTL cache from a string key to :class:`SecretBytes`; thread-safe."""

    __slots__ = ("_max_entries", "_ttl", "_ttl_s", "_clock", "_seconds", "_lock", "_entries", "_stamp")

    def __init__(self, max_entries: int, ttl: timedelta, clock: Clock) -> None:
        if not isinstance(max_entries, int) or isinstance(max_entries, bool) or max_entries < 0:
            raise ValueError("max_entries must be an integer >= 0")
        if not isinstance(ttl, timedelta) or ttl < timedelta(0):
            raise ValueError("ttl must be a non-negative timedelta")
        self._max_entries = max_entries
        self._ttl = ttl
        self._ttl_s = ttl.total_seconds()
        self._clock = clock
        # entries are timed in float seconds: time.monotonic for the system clock (a hot path's
        # lookup costs no datetime), the injected clock's own time otherwise (tests travel in it)
        self._seconds: Callable[[], float] = (
            time.monotonic if type(clock) is SystemClock else (lambda: clock.now().timestamp())
        )
        self._lock = threading.Lock()
        # key -> [value, put_at, derived object or None]; least recently used first
        self._entries: OrderedDict[str, list[Any]] = OrderedDict()
        self._stamp = 0

    @property
    def max_entries(self) -> int:
        return self._max_entries

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    @property
    def stamp(self) -> int:
        """Changes whenever an entry is evicted or the cache is cleared; see :meth:`put`."""
        with self._lock:
            return self._stamp

    def _expired(self, put_at: float, now: float) -> bool:
        return now < put_at or now - put_at >= self._ttl_s

    def get(self, key: str) -> SecretBytes | None:
        """The value for ``key`` if present and not expired; an expired entry is dropped."""
        now = self._seconds()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            value, put_at, _derived = entry
            if self._expired(put_at, now):
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value  # type: ignore[no-any-return]  # an entry is [key, put_at, derived]: a list of Any

    def derived(self, key: str, derive: Callable[[SecretBytes], _D] | None) -> _D | None:
        """The object derived from ``key``'s value (built by ``derive`` on first use), or None
        when ``key`` is absent or expired, or (``derive`` None) when it is not built yet.
        ``derive`` must always build the same kind of object for the same key name.

        The hot path of every field read: a hit whose object is built takes no lock. One dict
        lookup and one ``move_to_end`` are each atomic under the interpreter lock, and a hit that
        races with an eviction returns what it would have returned just before the eviction
        (as with a lock: the caller holds the object either way).
        """
        entries = self._entries
        entry = entries.get(key)
        if entry is None:
            return None
        now = self._seconds()
        put_at = entry[1]
        if now < put_at or now - put_at >= self._ttl_s:  # _expired, inlined
            with self._lock:
                if entries.get(key) is entry:
                    del entries[key]
            return None
        obj = entry[2]
        if obj is None:
            if derive is None:
                return None
            with self._lock:
                if entry[2] is None:
                    entry[2] = derive(entry[0])
                obj = entry[2]
        try:  # noqa: SIM105 (contextlib.suppress costs a call on the hot path)
            entries.move_to_end(key)
        except KeyError:  # evicted since the lookup
            pass
        return obj  # type: ignore[no-any-return]  # what derive() returned for this entry

    def put(self, key: str, value: SecretBytes, *, stamp: int | None = None) -> bool:
        """Cache ``value`` under ``key``; returns whether it was cached.

        With ``stamp`` (a value of :attr:`stamp` read before the key was loaded) the put is
        skipped when an eviction or clear happened in between.
        """
        if not isinstance(value, SecretBytes):
            raise TypeError("KeyCache holds SecretBytes only")
        if self._max_entries == 0 or self._ttl == timedelta(0):
            return False
        now = self._seconds()
        with self._lock:
            if stamp is not None and stamp != self._stamp:
                return False
            self._entries[key] = [value, now, None]
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
            return True

    def evict(self, key: str) -> bool:
        """Drop ``key``; returns whether it was present. Always invalidates pending stamps."""
        with self._lock:
            self._stamp += 1
            return self._entries.pop(key, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._stamp += 1
            self._entries.clear()

    def __len__(self) -> int:
        """Entries held, expired ones not yet dropped included."""
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __repr__(self) -> str:
        return f"KeyCache(entries={len(self)}, max_entries={self._max_entries}, ttl={self._ttl.total_seconds():g}s)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("KeyCache cannot be pickled")


#: what :func:`data_key_cache_key` puts before a subject id (the field hot path concatenates it
#: itself rather than pay for the call)
DATA_KEY_PREFIX = "dek/"


def data_key_cache_key(subject_id: str) -> str:
    """The cache entry of a subject's data key."""
    return DATA_KEY_PREFIX + subject_id


def record_key_cache_key(record_id: str) -> str:
    """The cache entry of a record's (or a separated item's) own data key."""
    return f"rdek/{record_id}"


def epoch_cache_key(epoch: int, kek_id: str, wrapped: bytes) -> str:
    """The cache entry of an epoch key: by a fingerprint of the stored row too, so a cached key is
    never taken for another that reused the epoch number (after a key-store restore)."""
    fingerprint = hashlib.blake2b(kek_id.encode() + b"\x00" + wrapped, digest_size=16).hexdigest()
    return f"epoch/{epoch}/{fingerprint}"
