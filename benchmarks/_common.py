"""Shared helpers for the benchmark scripts: timing loops, throwaway stores, the JSON last line."""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

POSTGRES_URL_VARIABLES = ("PSEUDOVAULT_BENCH_POSTGRES_URL", "PSEUDOVAULT_TEST_POSTGRES_URL")


def rate(fn: Callable[[], object], *, seconds: float, min_calls: int = 50) -> float:
    """Calls per second of ``fn``, run for about ``seconds`` (after a short warm-up)."""
    for _ in range(min(20, min_calls)):
        fn()
    calls = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(min_calls):
            fn()
        calls += min_calls
        now = time.perf_counter()
        if now >= deadline:
            return calls / (now - start)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def postgres_url() -> str | None:
    for name in POSTGRES_URL_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    return None


@contextmanager
def sqlite_stores() -> Iterator[tuple[str, str]]:
    with tempfile.TemporaryDirectory(prefix="pvbench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'data.sqlite3'}", f"sqlite:///{Path(tmp) / 'keys.sqlite3'}"


@contextmanager
def postgres_stores(url: str) -> Iterator[tuple[str, str]]:
    """Two throwaway databases next to the one ``url`` names, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(url)
    admin_url = base.set(drivername="postgresql").render_as_string(hide_password=False)
    prefix = f"pvbench_{secrets.token_hex(4)}"
    names = [f"{prefix}_data", f"{prefix}_keys"]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield tuple(  # type: ignore[misc]
                base.set(drivername="postgresql+psycopg", database=n).render_as_string(hide_password=False) for n in names
            )
        finally:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def emit(figures: dict[str, Any]) -> None:
    """Print the figures: a readable block, then (last) one line of JSON."""
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {shown}", file=sys.stderr)
    print(json.dumps(figures, sort_keys=False))
