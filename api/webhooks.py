"""The in-server webhook delivery: with ``PSEUDOVAULT_WEBHOOK_URL`` set, the server sends the
due deliveries of the webhook outbox (vault.retention.webhooks) every
``PSEUDOVAULT_WEBHOOK_INTERVAL_SECONDS`` (30; 0 switches it off: run ``pseudovault webhooks
deliver`` from cron instead). Safe in every worker and server at once: each delivery is claimed
by one deliverer. A failing round is logged by class and location only, and the next runs."""

from __future__ import annotations

import logging

from pseudovault.api.errors import where
from pseudovault.api.periodic import PeriodicTask
from pseudovault.vault.audit import Actor, acting_as
from pseudovault.vault.vault import Vault

__all__ = ["WEBHOOKS_ACTOR", "PeriodicWebhooks"]

log = logging.getLogger(__name__)

WEBHOOKS_ACTOR = Actor("system", "webhooks")


class PeriodicWebhooks(PeriodicTask):
    name = "pseudovault-webhooks"

    def __init__(self, vault: Vault, interval: float) -> None:
        super().__init__(interval)
        self._vault = vault

    def round(self) -> None:
        """One delivery pass (in a worker thread). Never raises."""
        self.rounds += 1
        try:
            with acting_as(WEBHOOKS_ACTOR):
                report = self._vault.webhooks.deliver_due()
        except Exception as exc:  # noqa: BLE001 - the next round retries; a message may quote a value
            log.error("webhook delivery round failed: %s", where(exc))
            return
        if report.delivered or report.retried or report.failed:
            log.info("webhooks: %d delivered, %d to retry, %d failed", report.delivered, report.retried, report.failed)
