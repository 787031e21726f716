"""Fraud records: identifiers kept as keyed pseudonyms, with codes, status and encrypted text.

Modules:

* :mod:`vault.records.service`: the record service: create, read, review, revoke, expire;
* :mod:`vault.records.views`: a record's vocabulary (statuses, severities, limits) and its views;
* :mod:`vault.records.validation`: checks of a record's input;
* :mod:`vault.records.bulk`: bulk import (CSV, JSON Lines) and export as pseudonyms only.

This package gives the public names of the service and its views; the package's own modules
import each other directly.
"""

from pseudovault.vault.ids import validate_record_id
from pseudovault.vault.records.service import RecordService
from pseudovault.vault.records.views import (
    LIVE_STATUSES,
    MAX_BATCH,
    MAX_IDENTIFIERS,
    MAX_LIST_LIMIT,
    MAX_TEXT_BYTES,
    SCHEMA_VERSION,
    SEVERITIES,
    STATUSES,
    TEXT_FIELDS,
    DuplicateRecordError,
    PreparedRecord,
    RecordPage,
    RecordText,
    RecordView,
    effective_status,
)

__all__ = [
    "SCHEMA_VERSION",
    "STATUSES",
    "LIVE_STATUSES",
    "SEVERITIES",
    "TEXT_FIELDS",
    "MAX_IDENTIFIERS",
    "MAX_TEXT_BYTES",
    "MAX_LIST_LIMIT",
    "MAX_BATCH",
    "RecordService",
    "RecordView",
    "RecordText",
    "RecordPage",
    "PreparedRecord",
    "DuplicateRecordError",
    "effective_status",
    "validate_record_id",
]
