"""Fixtures of the browser tests: the app served by uvicorn on loopback (over the suite's vault,
SQLite and PostgreSQL), and Chromium driven by Playwright.

Chromium is Debian's (``apt-get install chromium``; ``.ci/run`` installs it), launched by path:
``PSEUDOVAULT_TEST_CHROMIUM`` or ``/usr/bin/chromium``. Without it the tests are skipped, or fail
when ``CI`` is set: CI must run them. Chromium starts without background networking, so a page that
tried to reach the internet would fail rather than wait.

``shots`` is where the tests save their screenshots: ``PSEUDOVAULT_SCREENSHOT_DIR`` when set (the
documentation's pictures are made that way: see docs/console.md), else a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from servers import free_port

CHROMIUM_VARIABLE = "PSEUDOVAULT_TEST_CHROMIUM"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _chromium_path() -> str | None:
    chosen = os.environ.get(CHROMIUM_VARIABLE)
    if chosen:
        return chosen
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def _unavailable(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{message}: CI must run the browser tests", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Chromium for one module's tests. Not longer: Playwright's sync API runs an event loop in
    the main thread while it is open, which a later test's own ``asyncio.run`` would trip over."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    path = _chromium_path()
    if path is None:
        _unavailable("no Chromium (apt-get install chromium, or set PSEUDOVAULT_TEST_CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def live(app: FastAPI) -> Iterator[str]:
    """The app served on 127.0.0.1 (a loopback address: cookies without Secure); its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="console-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the console server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def context(chromium: Any) -> Iterator[Any]:
    """A fresh browser profile (no cookies) in English."""
    ctx = chromium.new_context(locale="en-US", accept_downloads=True)
    ctx.set_default_timeout(10_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    """A page that records every URL it requests, its titles, and CSP violations or script errors."""
    tab = context.new_page()
    tab.requested = []
    tab.problems = []
    tab.on("request", lambda request: tab.requested.append(request.url))
    tab.on("console", lambda message: tab.problems.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: tab.problems.append(str(error)))
    yield tab


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    chosen = os.environ.get("PSEUDOVAULT_SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else tmp_path / "shots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
