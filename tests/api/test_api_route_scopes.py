"""Every route of the app x every scope: 401 without a key, 403 with each scope it does not
accept, neither with one it does. The routes are read from the app itself, so a router added
later is covered without touching this test."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from pseudovault.api.auth import PUBLIC_PATHS, Authenticator, iter_routes, required_scopes
from pseudovault.api.errors import PROBLEM_MEDIA_TYPE
from pseudovault.vault.apikeys import SCOPES
from pseudovault.vault.vault import Vault


def _operations(app: FastAPI) -> list[tuple[str, str, Any]]:
    ops = []
    for path, route in iter_routes(app.routes):
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                ops.append((method, path, route))
    return ops


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _m: str(uuid.uuid4()), path)


def _call(client: TestClient, method: str, path: str, route: Any, headers: dict[str, str]) -> Any:
    kwargs: dict[str, Any] = {"headers": headers}
    if isinstance(route, APIRoute) and route.body_field is not None:
        kwargs["json"] = {}
    return client.request(method, _url(path), **kwargs)


def test_every_route_is_public_by_list_or_declares_scopes(app: FastAPI) -> None:
    ops = _operations(app)
    assert len(ops) >= 13
    for method, path, route in ops:
        scopes = required_scopes(route)
        if path in PUBLIC_PATHS:
            assert scopes is None, f"{method} {path} is listed public but requires {scopes}"
        else:
            assert scopes and scopes <= set(SCOPES), f"{method} {path} declares no scope"
    documented = app.openapi()["paths"]
    for method, path, route in ops:
        if isinstance(route, APIRoute) and route.include_in_schema:
            operation = documented[path][method.lower()]
            scopes = required_scopes(route)
            assert operation.get("x-required-scopes") == ([s for s in SCOPES if s in scopes] if scopes else None)


def test_route_x_scope_matrix(app: FastAPI, client: TestClient, make_key: Callable[..., str], vault: Vault) -> None:
    one_scope = {scope: {"Authorization": f"Bearer {make_key(scope)}"} for scope in SCOPES}
    revoked_token = make_key(*SCOPES)
    vault.apikeys.revoke(revoked_token.split("_")[1])
    bad = {
        "anonymous": {},
        "wrong scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
        "garbage": {"Authorization": "Bearer not-a-token"},
        "unknown key": {"Authorization": "Bearer pvk_aaaaaaaaaa_" + "A" * 43},
        "revoked": {"Authorization": f"Bearer {revoked_token}"},
    }
    checked = 0
    for method, path, route in _operations(app):
        scopes = required_scopes(route)
        if scopes is None:
            response = _call(client, method, path, route, {})
            assert response.status_code not in (401, 403) and response.status_code < 500, (method, path)
            continue
        for label, headers in bad.items():
            response = _call(client, method, path, route, headers)
            assert response.status_code == 401, (method, path, label, response.status_code)
            assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.json()["status"] == 401
        for scope, headers in one_scope.items():
            response = _call(client, method, path, route, headers)
            assert response.status_code < 500, (method, path, scope, response.status_code)
            if scope in scopes:
                assert response.status_code not in (401, 403), (method, path, scope, response.json())
            else:
                assert response.status_code == 403, (method, path, scope, response.status_code)
                assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
                assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
            checked += 1
    assert checked >= 10 * len(SCOPES)


def test_admin_does_not_imply_other_scopes(app: FastAPI) -> None:
    any_key = set()
    for _method, path, route in _operations(app):
        scopes = required_scopes(route)
        if scopes == set(SCOPES):  # what a key does to itself: any key, whatever its scopes
            any_key.add(path)
        elif scopes and "admin" in scopes:
            assert scopes == {"admin"}
        elif scopes:
            assert "admin" not in scopes
    assert any_key == {"/v1/apikeys/self", "/v1/apikeys/self/rotate"}


def test_an_authenticator_takes_known_scopes_only() -> None:
    with pytest.raises(ValueError):
        Authenticator(scopes={"root"})
    with pytest.raises(ValueError):
        Authenticator(scopes=set())
    with pytest.raises(TypeError):
        Authenticator(scopes="admin")
