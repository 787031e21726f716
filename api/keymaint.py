"""The in-server key maintenance that keeps the backup horizon (``PSEUDOVAULT_EPOCH_MAX_AGE_DAYS``,
30 by default; 0 switches it off).

Every ``PSEUDOVAULT_KEY_MAINTENANCE_INTERVAL_SECONDS`` (3600 by default, with up to 10 % random
jitter) the server checks the current wrapping epoch's age in a worker thread, as the actor
``system:keys``. Once it is older than the maximum age, the root key and the epoch are rotated,
every wrapped key is rewrapped, and the old epoch and root version are destroyed
(:meth:`vault.vault.Vault.maintain_keys`); a rewrap left unfinished by a crash is completed the
same way. So a backup of the key store is useless at the latest ``max age + interval`` after it was
taken, for every subject shredded since.

Running it in every worker and server is safe (see ``maintain_keys``). A failed round is logged by
exception class and source location and counted; the next round runs as usual. Shutdown waits
for a running round.
"""

from __future__ import annotations

import logging

from pseudovault.api.errors import where
from pseudovault.api.metrics import Metrics
from pseudovault.api.periodic import PeriodicTask
from pseudovault.vault.audit import Actor, acting_as
from pseudovault.vault.vault import Vault

__all__ = ["PeriodicKeyMaintenance", "KEYS_ACTOR"]

log = logging.getLogger(__name__)

KEYS_ACTOR = Actor("system", "keys")


class PeriodicKeyMaintenance(PeriodicTask):
    """Runs :meth:`Vault.maintain_keys` every ``interval`` seconds until :meth:`stop`."""

    name = "pseudovault-key-maintenance"

    def __init__(self, vault: Vault, interval: float, metrics: Metrics) -> None:
        super().__init__(interval)
        self._vault = vault
        self._metrics = metrics

    def round(self) -> None:
        """One check (in a worker thread). Never raises: a failure is logged and counted."""
        self.rounds += 1
        try:
            with acting_as(KEYS_ACTOR):
                done = self._vault.maintain_keys()
        except Exception as exc:  # noqa: BLE001 (a failed round must not end the maintenance)
            log.error("key maintenance failed: %s", where(exc))
            self._metrics.key_maintenance.labels("failed").inc()
            return
        if done["rotated"]:
            log.info(
                "key maintenance: rotated to root key %s, epoch %s", done["rotated"]["root_key_id"], done["rotated"]["epoch"]
            )
            self._metrics.key_maintenance.labels("rotated").inc()
        elif done["rewrap"]:
            self._metrics.key_maintenance.labels("rewrapped").inc()
        else:
            self._metrics.key_maintenance.labels("idle").inc()
