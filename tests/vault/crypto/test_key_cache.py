"""vault.crypto.cache.KeyCache: LRU bound, TTL by the injected clock, eviction stamps, no secrets in repr."""

from __future__ import annotations

import pickle
import threading
from datetime import timedelta

import pytest

from pseudovault.keys.secrets import SecretBytes
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.crypto.cache import KeyCache


def _key(n: int) -> SecretBytes:
    return SecretBytes(bytes([n]) * 32)


@pytest.fixture
def cache(clock: FrozenClock) -> KeyCache:
    return KeyCache(3, timedelta(seconds=60), clock)


def test_get_put_evict_clear(cache: KeyCache) -> None:
    assert cache.get("a") is None
    assert cache.put("a", _key(1))
    assert cache.get("a") == _key(1)
    assert "a" in cache and len(cache) == 1
    assert cache.evict("a") is True
    assert cache.evict("a") is False
    assert cache.get("a") is None
    cache.put("b", _key(2))
    cache.put("c", _key(3))
    cache.clear()
    assert len(cache) == 0 and cache.get("b") is None


def test_entries_expire_after_ttl_on_the_injected_clock(cache: KeyCache, clock: FrozenClock) -> None:
    cache.put("a", _key(1))
    clock.advance(timedelta(seconds=59, microseconds=999_999))
    assert cache.get("a") == _key(1)
    clock.advance(timedelta(microseconds=1))
    assert cache.get("a") is None
    assert len(cache) == 0, "an expired entry is dropped when it is looked up"


def test_ttl_counts_from_the_put_not_the_last_use(cache: KeyCache, clock: FrozenClock) -> None:
    cache.put("a", _key(1))
    for _ in range(5):
        clock.advance(timedelta(seconds=10))
        assert cache.get("a") is not None
    clock.advance(timedelta(seconds=10))
    assert cache.get("a") is None


def test_a_clock_moving_backwards_never_extends_a_life(cache: KeyCache, clock: FrozenClock) -> None:
    cache.put("a", _key(1))
    clock.advance(timedelta(seconds=-1))
    assert cache.get("a") is None


def test_least_recently_used_goes_first(cache: KeyCache) -> None:
    for n, name in enumerate("abc"):
        cache.put(name, _key(n))
    assert cache.get("a") is not None  # "b" is now the least recently used
    cache.put("d", _key(4))
    assert len(cache) == 3
    assert cache.get("b") is None
    assert all(cache.get(name) is not None for name in "acd")


def test_a_put_that_raced_with_an_eviction_is_skipped(cache: KeyCache) -> None:
    stamp = cache.stamp
    cache.evict("a")  # e.g. a shred committed while the key was being loaded
    assert cache.put("a", _key(1), stamp=stamp) is False
    assert cache.get("a") is None
    stamp = cache.stamp
    assert cache.put("a", _key(1), stamp=stamp) is True
    stamp = cache.stamp
    cache.clear()
    assert cache.put("a", _key(1), stamp=stamp) is False


@pytest.mark.parametrize(("size", "ttl"), [(0, timedelta(seconds=60)), (10, timedelta(0))])
def test_zero_size_or_ttl_caches_nothing(clock: FrozenClock, size: int, ttl: timedelta) -> None:
    cache = KeyCache(size, ttl, clock)
    assert cache.put("a", _key(1)) is False
    assert cache.get("a") is None


def test_bad_arguments(clock: FrozenClock) -> None:
    with pytest.raises(ValueError):
        KeyCache(-1, timedelta(seconds=1), clock)
    with pytest.raises(ValueError):
        KeyCache(1, timedelta(seconds=-1), clock)
    with pytest.raises(ValueError):
        KeyCache(True, timedelta(seconds=1), clock)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        KeyCache(1, timedelta(seconds=1), clock).put("a", b"\x00" * 32)  # type: ignore[arg-type]


def test_repr_shows_counts_only(cache: KeyCache) -> None:
    secret = bytes(range(32))
    cache.put("dek/some-subject", SecretBytes(secret))
    text = repr(cache)
    assert text == "KeyCache(entries=1, max_entries=3, ttl=60s)"
    assert "some-subject" not in text and secret.hex() not in text
    with pytest.raises(TypeError):
        pickle.dumps(cache)


def test_thread_safety_under_concurrent_use(clock: FrozenClock) -> None:
    cache = KeyCache(50, timedelta(seconds=60), clock)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(2000):
                name = f"k{(worker * 7 + i) % 80}"
                cache.put(name, _key(i % 256))
                cache.get(name)
                if i % 13 == 0:
                    cache.evict(name)
                assert len(cache) <= 50
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(cache) <= 50
