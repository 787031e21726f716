"""The in-server periodic retention sweep: ``PSEUDOVAULT_SWEEP_INTERVAL_SECONDS`` (0, the
default, switches it off) makes the server run ``pseudovault retention sweep`` by itself.

Each round waits the interval (with up to 10 % random jitter, so several workers or servers do
not start together), then sweeps in a worker thread as the actor ``system:sweeper``. Running it in
every worker and server at once is safe: each due item is claimed by one sweeper (PostgreSQL
``FOR UPDATE SKIP LOCKED``; SQLite serializes writers), and a round cut off leaves a state the
next completes. A round that fails is logged by exception class and source location only (an
exception's message may quote a value) and the next round runs as usual; when the policy file
changed and was not applied yet, the sweeper refuses (nothing is destroyed under stale due dates)
and a warning says so each round until ``POST /v1/retention/policies/apply``.

Shutdown (:meth:`PeriodicSweep.stop`) asks a running round to stop after its current batch
(the sweeper's progress callback raises), releases the round's unfinished claims, and waits
for it, so the vault is never closed under a running sweep.
"""

from __future__ import annotations

import logging

from pseudovault.api.errors import where
from pseudovault.api.metrics import Metrics
from pseudovault.api.periodic import PeriodicTask
from pseudovault.vault.audit import Actor, acting_as
from pseudovault.vault.retention.views import PoliciesChangedError
from pseudovault.vault.vault import Vault

__all__ = ["PeriodicSweep", "SWEEPER_ACTOR"]

log = logging.getLogger(__name__)

SWEEPER_ACTOR = Actor("system", "sweeper")


class _Stopping(Exception):
    """Raised from the sweeper's progress callback to end a round at shutdown."""


class PeriodicSweep(PeriodicTask):
    """Sweeps ``vault`` every ``interval`` seconds until :meth:`stop`."""

    name = "pseudovault-retention-sweep"

    def __init__(self, vault: Vault, interval: float, metrics: Metrics, *, batch_size: int = 500) -> None:
        super().__init__(interval)
        self._vault = vault
        self._metrics = metrics
        self._batch_size = batch_size

    def round(self) -> None:
        """One sweep (in a worker thread). Never raises: a failure is logged and counted."""

        def progress(_done: int, _total: int) -> None:
            if self.stopping.is_set():
                raise _Stopping

        self.rounds += 1
        try:
            with acting_as(SWEEPER_ACTOR):
                report = self._vault.retention.sweeper.sweep(batch_size=self._batch_size, progress=progress)
        except _Stopping:
            log.info("periodic sweep stopped at shutdown; the next sweep completes it")
            self._metrics.sweeps.labels("stopped").inc()
            return
        except PoliciesChangedError:
            log.warning("periodic sweep refused: the retention policies changed and are not applied yet "
                        "(POST /v1/retention/policies/apply or 'pseudovault retention apply-policies')")
            self._metrics.sweeps.labels("refused").inc()
            return
        except Exception as exc:  # noqa: BLE001 (a failed round must not end the server's sweeps)
            log.error("periodic sweep failed: %s", where(exc))
            self._metrics.sweeps.labels("failed").inc()
            return
        for outcome, count in report.outcomes.items():
            self._metrics.swept_items.labels(outcome).inc(count)
        self._metrics.sweeps.labels("completed").inc()
        if report.applied or report.held or report.failed:
            log.info("periodic sweep: %d applied, %d held, %d failed", report.applied, report.held, report.failed)
