"""Helpers of the console tests: sign in through the form, read a page's CSRF token."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

__all__ = ["csrf_of", "sign_in", "post_form"]

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, token: str) -> str:
    """Sign in with ``token``; returns the CSRF token of the new session (from the overview)."""
    form = client.get("/console/sign-in")
    assert form.status_code == 200
    answer = client.post(
        "/console/sign-in", data={"csrf": csrf_of(form.text), "api_key": token}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console/"
    overview = client.get("/console/")
    assert overview.status_code == 200
    return csrf_of(overview.text)


def post_form(client: TestClient, path: str, csrf: str, **fields: Any) -> Any:
    return client.post(path, data={"csrf": csrf, **fields}, follow_redirects=False)
