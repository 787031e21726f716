"""What the record service holds, as the halves of it (:mod:`vault.records.creating`,
:mod:`vault.records.reading`) see it: set once by :class:`vault.records.service.RecordService`."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import Engine

from pseudovault.vault.audit import AuditLog
from pseudovault.vault.clock import Clock
from pseudovault.vault.crypto.keystore import KeyHierarchy
from pseudovault.vault.crypto.lookup import LookupKeys
from pseudovault.vault.identifiers import Normalizer
from pseudovault.vault.retention.categories import CategoryCatalogue

__all__ = ["RecordServiceState"]


class RecordServiceState:
    """The record service's collaborators (typed for its halves; the service sets them)."""

    _engine: Engine
    _keys: KeyHierarchy
    _lookup: LookupKeys
    _normalizer: Normalizer
    _clock: Clock
    _audit: AuditLog
    _catalogue: CategoryCatalogue
    #: called with the pseudonyms about to be stored, before their commit (the vault wires the
    #: check miss filter here, so this process never misses a ban it wrote itself)
    on_identifiers: Callable[[Iterable[bytes]], None] | None = None
