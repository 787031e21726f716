"""Bulk import and export of fraud records: plaintext identifiers in, pseudonyms out.

Import (:func:`import_records`)
    Reads CSV or JSON Lines (formats and examples: docs/import-export.md) as a stream, a batch of
    ``batch_size`` rows at a time, and stores each row as a record through
    :meth:`vault.records.RecordService.prepare` and :meth:`~vault.records.RecordService.create_many`
    (cached Pseudonymizers, Core ``executemany`` inserts, a data key of its own only for a record
    with a ``reason``). Nothing is read whole: the file is read twice in chunks, once to hash it
    (and count its lines, for progress), once to import it.

    Crash safety: every batch is one transaction (all of it or none of it). Every row carries an
    ``external_ref``: its ``source_ref`` when it has one, else ``import:<id>:<line>`` where ``<id>``
    is the first 16 hex digits of the SHA-256 of the file's content (of its bytes for a path, of
    its UTF-8 text for a stream) and ``<line>`` the row's first line. A row whose external_ref
    exists already is skipped, before it is normalized. So an import that stopped (a crash, a
    failed store, a progress callback that raised) is resumed by running the same file again, and
    running a finished import again adds nothing.

    Bad rows are rejected, not fatal: an invalid identifier, an unknown category, a bad severity,
    a malformed CSV or JSON row. Each rejection has the row's line number (the first line of a CSV
    row whose quoted cells span several lines), a ``reason_code``, the ``field`` it concerns and a
    message of our own words: never a value of the row. Nothing of a rejected row is written.
    A bad *header* (unknown, duplicate or missing columns) stops the import before anything is
    written: :class:`vault.errors.InvalidInputError` naming the column's position only.

Export (:func:`export_records`)
    Writes records as pseudonyms only: per record its codes, severity, (effective) status,
    source, external_ref and timestamps, and per stored pseudonym its kind, look-alike flag,
    lookup-key version, normalization version and the 32 bytes in hex. Never PII, never the
    encrypted text, never the link to a subject. Streamed: pages of records by (created_at, id)
    keyset, in one read transaction (one consistent snapshot). Records in separate storage
    (vault.retention) are left out, as in listings.

Both append one audit entry (``record.import`` / ``record.export``) with counts and codes only;
each import batch also appends the ``record.create_many`` entry of
:meth:`~vault.records.RecordService.create_many`.

Modules: :mod:`vault.records.bulk.rows` (formats, sources, parsing rows),
:mod:`vault.records.bulk.imports` and :mod:`vault.records.bulk.exports`; this package gives their
public names and :class:`BulkTransfer`, the vault's entry point (``Vault.bulk``).
"""

from __future__ import annotations

import os
from typing import Any, TextIO

from pseudovault.vault.records.bulk.exports import EXPORT_CSV_COLUMNS, ExportReport, export_records
from pseudovault.vault.records.bulk.imports import ImportReport, import_records
from pseudovault.vault.records.bulk.rows import FORMATS, MAX_REPORTED_REJECTIONS, RECORD_COLUMNS, Rejection, detect_format
from pseudovault.vault.records.service import RecordService

__all__ = [
    "BulkTransfer",
    "EXPORT_CSV_COLUMNS",
    "FORMATS",
    "MAX_REPORTED_REJECTIONS",
    "RECORD_COLUMNS",
    "ExportReport",
    "ImportReport",
    "Rejection",
    "detect_format",
    "export_records",
    "import_records",
]


class BulkTransfer:
    """Bulk import and export over a vault's record service (``Vault.bulk``)."""

    def __init__(self, records: RecordService) -> None:
        self._records = records

    def import_records(self, source: str | os.PathLike[str] | TextIO, **options: Any) -> ImportReport:
        """Import a CSV or JSON Lines file of plaintext identifiers: :func:`import_records`."""
        return import_records(self._records, source, **options)

    def export_records(self, out: TextIO, **options: Any) -> ExportReport:
        """Write the records as pseudonyms only: :func:`export_records`."""
        return export_records(self._records, out, **options)
