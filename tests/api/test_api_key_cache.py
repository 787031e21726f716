"""The cache of verified API keys (api.keycache): only successes are cached, a revocation through
the server's vault evicts at once, an entry lives ``ttl`` seconds, ``ttl`` 0 switches it off, and
the cache holds no token. Time is moved, never slept."""

from __future__ import annotations

from collections.abc import Callable

from api_support import ManualTime
from fastapi import FastAPI
from fastapi.testclient import TestClient

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
