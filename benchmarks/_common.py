"""Shared helpers for the benchmark scripts: timing loops, throwaway stores, the JSON last line."""

from __future__ import annotations

import json
import os
import secrets
import statistics
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


class Paired:
    """The rates of a vault path and its raw baseline measured in alternating rounds."""

    def __init__(self, vault_rates: list[float], raw_rates: list[float]) -> None:
        self.vault_rates = vault_rates
        self.raw_rates = raw_rates
        self.ratios = [v / r for v, r in zip(vault_rates, raw_rates, strict=True)]

    @property
    def vault(self) -> float:
        return statistics.median(self.vault_rates)

    @property
    def raw(self) -> float:
        return statistics.median(self.raw_rates)

    @property
    def ratio(self) -> float:
        """The median of the rounds' ratios: a round's two sides ran back to back, so a burst
        of machine noise moves one round, not the figure."""
        return statistics.median(self.ratios)

    def ratio_range(self) -> list[float]:
        return [round(min(self.ratios), 3), round(max(self.ratios), 3)]

    def record(self, figures: dict[str, Any], prefix: str, *, unit: str = "ops_per_s", scale: float = 1.0) -> None:
        """``{prefix}_vault_{unit}``, ``{prefix}_raw_{unit}``, ``{prefix}_ratio`` and
        ``{prefix}_ratio_range`` ([lowest, highest] round)."""
        figures[f"{prefix}_vault_{unit}"] = round(self.vault * scale, 1)
        figures[f"{prefix}_raw_{unit}"] = round(self.raw * scale, 1)
        figures[f"{prefix}_ratio"] = round(self.ratio, 3)
        figures[f"{prefix}_ratio_range"] = self.ratio_range()


def interleaved(
    vault_fn: Callable[[], object], raw_fn: Callable[[], object], *, seconds: float, rounds: int = 6, min_calls: int = 50
) -> Paired:
    """``rounds`` rounds of ``seconds / rounds`` each side, alternating which side goes first
    (``min_calls``: the calls between two looks at the clock; a few for slow calls)."""
    per_side = seconds / rounds
    vault_rates: list[float] = []
    raw_rates: list[float] = []
    for i in range(rounds):
        if i % 2:
            raw_rates.append(rate(raw_fn, seconds=per_side, min_calls=min_calls))
            vault_rates.append(rate(vault_fn, seconds=per_side, min_calls=min_calls))
        else:
            vault_rates.append(rate(vault_fn, seconds=per_side, min_calls=min_calls))
            raw_rates.append(rate(raw_fn, seconds=per_side, min_calls=min_calls))
    return Paired(vault_rates, raw_rates)


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
