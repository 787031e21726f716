"""A task the server runs every N seconds in a worker thread, until shutdown: the base of the
periodic retention sweep (api.sweeper) and the key maintenance (api.keymaint).

Each round waits the interval with up to 10 % random jitter (so several workers or servers do not
start together), then runs :meth:`PeriodicTask.round` in a worker thread. :meth:`PeriodicTask.stop`
sets :attr:`stopping` (a round may watch it to end early), wakes the wait between rounds and waits
for a running round to return, so the vault is never closed under it.
"""

from __future__ import annotations

import abc
import asyncio
import random
import threading

from starlette.concurrency import run_in_threadpool

__all__ = ["PeriodicTask"]


class PeriodicTask(abc.ABC):
    """Runs :meth:`round` every ``interval`` seconds from :meth:`start` until :meth:`stop`."""

    #: the asyncio task's name
    name = "pseudovault-periodic"

    def __init__(self, interval: float) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._interval = interval
        self.stopping = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self.rounds = 0

    def start(self) -> None:
        """Start the rounds (call from the event loop: the app's lifespan)."""
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop: wake the wait between rounds, or let a running round return; wait for it."""
        self.stopping.set()
        if self._task is not None and self._wake is not None:
            self._wake.set()
            await self._task
            self._task = None

    async def _run(self) -> None:
        assert self._wake is not None
        while not self.stopping.is_set():
            delay = self._interval * (1 + random.random() / 10)  # noqa: S311 (jitter, not a secret)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
                return  # woken: stopping
            except TimeoutError:
                pass
            await run_in_threadpool(self.round)

    @abc.abstractmethod
    def round(self) -> None:
        """One round, in a worker thread. Must not raise: log and count a failure instead."""
