"""Helpers of the API tests that test modules import by name (a conftest module cannot be: the
CLI tests below this folder have a conftest of their own)."""

from __future__ import annotations

__all__ = ["ManualTime"]


class ManualTime:
    """A monotonic clock for the rate limiter that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
