"""The cache of verified API keys (api.keycache): only successes are cached, a revocation through
the server's vault evicts at once, an entry lives ``ttl`` seconds, ``ttl`` 0 switches it off, and
the cache holds no token. Time is moved, never slept."""

from __future__ import annotations

import threading
from collections.abc import Callable

from api_support import ManualTime
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from pseudovault.api.app import create_app
from pseudovault.api.keycache import KeyCache
from pseudovault.api.settings import ApiSettings
from pseudovault.vault.vault import Vault


def test_entries_expire_and_are_evicted_by_key_id() -> None:
    time = ManualTime()
    cache: KeyCache[str] = KeyCache(5, clock=time)
    cache.put("pvk_aaaaaaaaaa_secret1", "aaaaaaaaaa", "info-a")
    cache.put("pvk_bbbbbbbbbb_secret2", "bbbbbbbbbb", "info-b")
    assert cache.get("pvk_aaaaaaaaaa_secret1") == "info-a"
    assert cache.get("pvk_aaaaaaaaaa_secret2") is None, "another secret for the same id is not a hit"
    assert "secret1" not in repr(cache._entries), "the cache keeps digests, not tokens"
    cache.evict_key("aaaaaaaaaa")
    assert cache.get("pvk_aaaaaaaaaa_secret1") is None and cache.get("pvk_bbbbbbbbbb_secret2") == "info-b"
    time.advance(5)
    assert cache.get("pvk_bbbbbbbbbb_secret2") is None
    off: KeyCache[str] = KeyCache(0, clock=time)
    off.put("pvk_aaaaaaaaaa_secret1", "aaaaaaaaaa", "info-a")
    assert off.get("pvk_aaaaaaaaaa_secret1") is None and len(off) == 0


def test_the_cache_stays_bounded() -> None:
    cache: KeyCache[int] = KeyCache(5, max_entries=3, clock=ManualTime())
    for n in range(10):
        cache.put(f"token-{n}", f"key{n}", n)
        assert len(cache) <= 3
    assert cache.get("token-9") == 9


def test_the_app_answers_from_the_cache_and_evicts_on_revocation(
    app: FastAPI, client: TestClient, vault: Vault, make_key: Callable[..., str]
) -> None:
    token = make_key("subjects:write")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/subjects", headers=headers).status_code == 200
    assert app.state.key_cache.get(token) is not None
    calls = []
    original = vault.apikeys.authenticate
    vault.apikeys.authenticate = lambda t: calls.append(1) or original(t)  # type: ignore[method-assign]
    try:
        assert client.get("/v1/subjects", headers=headers).status_code == 200
        assert calls == [], "a cached key is not verified against the store again"
        wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
        assert client.get("/v1/subjects", headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
        assert client.get("/v1/subjects", headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
        assert calls == [1, 1], "failures are never cached"
    finally:
        del vault.apikeys.authenticate
    vault.apikeys.revoke(token.split("_")[1])
    assert app.state.key_cache.get(token) is None
    assert client.get("/v1/subjects", headers=headers).status_code == 401


def test_a_zero_ttl_switches_the_cache_off(vault: Vault, api_settings: ApiSettings, make_key: Callable[..., str]) -> None:
    settings = api_settings.model_copy(update={"api_key_cache_seconds": 0})
    token = make_key("subjects:write")
    with TestClient(create_app(settings, vault=vault)) as client:
        assert client.get("/v1/subjects", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert client.app.state.key_cache.get(token) is None  # type: ignore[attr-defined]


def test_an_entry_is_refreshed_ahead_of_its_expiry_once() -> None:
    time = ManualTime()
    cache: KeyCache[str] = KeyCache(10, clock=time)
    cache.put("pvk_aaaaaaaaaa_secret1", "aaaaaaaaaa", "info-a")
    assert not cache.claim_refresh("pvk_aaaaaaaaaa_secret1")
    time.advance(5)
    assert cache.claim_refresh("pvk_aaaaaaaaaa_secret1")
    assert not cache.claim_refresh("pvk_aaaaaaaaaa_secret1"), "one refresh at a time"
    assert cache.get("pvk_aaaaaaaaaa_secret1") == "info-a", "served while the refresh runs"
    cache.release("pvk_aaaaaaaaaa_secret1")  # the refresh failed: the next request tries again
    assert cache.claim_refresh("pvk_aaaaaaaaaa_secret1")
    cache.put("pvk_aaaaaaaaaa_secret1", "aaaaaaaaaa", "info-a2")
    time.advance(9)
    assert cache.get("pvk_aaaaaaaaaa_secret1") == "info-a2", "a refreshed entry lives a new ttl"
    cache.forget("pvk_aaaaaaaaaa_secret1")
    assert cache.get("pvk_aaaaaaaaaa_secret1") is None and not cache.claim_refresh("pvk_aaaaaaaaaa_secret1")


def test_the_app_refreshes_a_key_in_the_background_and_drops_one_revoked_elsewhere(
    vault: Vault, api_settings: ApiSettings, make_key: Callable[..., str]
) -> None:
    """Revoked "elsewhere" (in the store, not through this app's vault): the request that finds
    the entry past half its life is still answered from it, without waiting; the refresh it
    started finds the revocation, and the next request is refused, all within the ttl."""
    time = ManualTime()
    app = create_app(api_settings, vault=vault)
    app.state.key_cache = KeyCache(10, clock=time)
    token = make_key("subjects:write")
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        assert client.get("/v1/subjects", headers=headers).status_code == 200
        calls = []
        original = vault.apikeys.authenticate
        vault.apikeys.authenticate = lambda t: calls.append(1) or original(t)  # type: ignore[method-assign]
        try:
            time.advance(4)
            assert client.get("/v1/subjects", headers=headers).status_code == 200
            assert calls == [], "before half its life: no refresh"
            with vault.data_engine.begin() as connection:  # revoked by another process
                connection.execute(text("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP"))
            time.advance(2)
            assert client.get("/v1/subjects", headers=headers).status_code == 200, "answered from the entry"
            for _ in range(200):  # the background refresh runs in a worker thread
                if app.state.key_cache.get(token) is None:
                    break
                threading.Event().wait(0.01)
            assert calls == [1]
            assert client.get("/v1/subjects", headers=headers).status_code == 401
        finally:
            vault.apikeys.authenticate = original  # type: ignore[method-assign]
