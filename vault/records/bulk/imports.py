"""Bulk import: a file of plaintext identifiers in, records out, a batch per transaction, resumable
(see :mod:`vault.records.bulk`)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

from sqlalchemy import select

from pseudovault.vault.crypto.lookup import DEFAULT_DOMAIN, validate_domain
from pseudovault.vault.errors import ConflictError, InvalidInputError
from pseudovault.vault.identifiers import InvalidIdentifierError
from pseudovault.vault.records.bulk.rows import (
    IMPORT_ID,
    IMPORT_SOURCE,
    MAX_REPORTED_REJECTIONS,
    ParsedRow,
    Progress,
    Rejection,
    RowRejected,
    csv_rows,
    detect_format,
    hash_path,
    hash_stream,
    jsonl_rows,
    kind_field,
)
from pseudovault.vault.records.service import RecordService
from pseudovault.vault.records.views import MAX_BATCH, PreparedRecord
from pseudovault.vault.store.data_models import Record
from pseudovault.vault.store.db import session_scope

__all__ = ["ImportReport", "import_records"]


log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    """What an import did. ``rejections`` holds the first :data:`MAX_REPORTED_REJECTIONS`;
    ``rejected`` counts them all. ``rows`` counts the data rows read (blank lines aside)."""

    import_id: str
    format: str
    domain: str
    rows: int = 0
    imported: int = 0
    skipped: int = 0
    rejected: int = 0
    batches: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    def as_dict(self, *, max_rejections: int | None = None) -> dict[str, Any]:
        shown = self.rejections if max_rejections is None else self.rejections[:max_rejections]
        return {
            "import_id": self.import_id,
            "format": self.format,
            "domain": self.domain,
            "rows": self.rows,
            "imported": self.imported,
            "skipped": self.skipped,
            "rejected": self.rejected,
            "batches": self.batches,
            "rejections": [r.as_dict() for r in shown],
            "rejections_truncated": len(shown) < self.rejected,
        }


_FIELD_CODES = {
    "severity": "invalid_severity",
    "reason_code": "invalid_reason_code",
    "reason": "invalid_reason",
}


def _rejection_of(error: InvalidInputError) -> RowRejected:
    """A prepare() error as a rejection, in words of our own (an InvalidInputError's reason may
    quote a code the row gave)."""
    if isinstance(error, InvalidIdentifierError):
        field = kind_field(error.kind)  # a kind the row named is echoed only if it is one
        return RowRejected(error.reason_code, field, f"{field}: invalid ({error.reason_code})")
    name = error.field
    if name == "category":
        return RowRejected(
            "unknown_category",
            "category",
            "not a category records may use (see 'records categories')",
        )
    if name == "expires_at":
        return RowRejected(
            "invalid_expires_at",
            "expires_at",
            "expires_at must be in the future and within the category's period",
        )
    if name == "domain":
        return RowRejected("invalid_domain", "domain", "invalid pseudonymisation domain")
    code = _FIELD_CODES.get(name, f"invalid_{re.sub(r'[^a-z0-9_]', '_', name.lower())}"[:40])
    return RowRejected(
        code,
        name,
        f"{name}: {error.reason}" if name in ("severity", "reason_code", "reason") else f"{name} is invalid",
    )


class _Importer:
    def __init__(
        self,
        service: RecordService,
        report: ImportReport,
        batch_size: int,
        on_reject: Callable[[Rejection], None] | None,
    ) -> None:
        self.service = service
        self.report = report
        self.batch_size = batch_size
        self.on_reject = on_reject
        self.seen_refs: set[str] = set()
        self.pending: list[Rejection] = []

    def reject(self, line: int, error: RowRejected) -> None:
        """Note a rejection; :meth:`flush` reports a batch's rejections in line order."""
        self.pending.append(Rejection(line, error.reason_code, error.field, error.message))

    def flush(self) -> None:
        self.pending.sort(key=lambda r: r.line)
        for rejection in self.pending:
            self.report.rejected += 1
            if len(self.report.rejections) < MAX_REPORTED_REJECTIONS:
                self.report.rejections.append(rejection)
            if self.on_reject is not None:
                self.on_reject(rejection)
        self.pending.clear()

    def existing(self, refs: Sequence[str]) -> set[str]:
        if not refs:
            return set()
        found: set[str] = set()
        with session_scope(self.service._engine) as session:
            for start in range(0, len(refs), 1000):
                found.update(
                    session.scalars(select(Record.external_ref).where(Record.external_ref.in_(refs[start : start + 1000])))
                )
        return found

    def write(self, batch: list[ParsedRow]) -> None:
        """Prepare and store one batch in one transaction (rows already stored are skipped)."""
        existing = self.existing([row.ref for row in batch])
        pending = [row for row in batch if row.ref not in existing]
        self.report.skipped += len(batch) - len(pending)
        prepared: list[PreparedRecord] = []
        for row in pending:
            try:
                prepared.append(
                    self.service.prepare(
                        row.identifiers,
                        category=row.values["category"],
                        reason_code=row.values["reason_code"],
                        reason=row.values.get("reason"),
                        severity=row.values.get("severity", "high"),
                        source=IMPORT_SOURCE,
                        expires_at=row.values.get("expires_at"),
                        domain=self.report.domain,
                        external_ref=row.ref,
                    )
                )
            except InvalidInputError as error:
                self.reject(row.line, _rejection_of(error))
        if not prepared:
            return
        try:
            self.service.create_many(prepared)
        except ConflictError:
            # another import of the same rows committed meanwhile: keep only what is still new
            existing = self.existing([p.row["external_ref"] for p in prepared])
            if not existing:
                raise
            remaining = [p for p in prepared if p.row["external_ref"] not in existing]
            self.report.skipped += len(prepared) - len(remaining)
            if remaining:
                self.service.create_many(remaining)
            prepared = remaining
        self.report.imported += len(prepared)
        self.report.batches += 1

    def run(
        self,
        rows: Iterator[tuple[int, int, Callable[[], tuple[list[tuple[str, str]], dict[str, Any]]]]],
        progress: Progress | None,
        total_lines: int | None,
    ) -> None:
        batch: list[ParsedRow] = []
        last_line = 0
        prefix = f"import:{self.report.import_id}:"
        for first, last, parse in rows:
            self.report.rows += 1
            last_line = last
            try:
                identifiers, values = parse()
            except RowRejected as error:
                self.reject(first, error)
                continue
            ref = values.pop("source_ref", None)
            if ref is None:
                ref = f"{prefix}{first}"
            elif ref in self.seen_refs:
                self.reject(
                    first,
                    RowRejected(
                        "duplicate_source_ref",
                        "source_ref",
                        "an earlier row has this source_ref",
                    ),
                )
                continue
            else:
                self.seen_refs.add(ref)
            batch.append(ParsedRow(first, ref, identifiers, values))
            if len(batch) >= self.batch_size:
                self.write(batch)
                self.flush()
                batch = []
                if progress is not None:
                    progress(last_line, total_lines)
        if batch:
            self.write(batch)
        self.flush()
        if progress is not None:
            progress(
                last_line if total_lines is None else max(last_line, total_lines),
                total_lines,
            )


def import_records(
    service: RecordService,
    source: str | os.PathLike[str] | TextIO,
    *,
    format: str | None = None,
    domain: str = DEFAULT_DOMAIN,
    batch_size: int = 1000,
    progress: Progress | None = None,
    on_reject: Callable[[Rejection], None] | None = None,
    import_id: str | None = None,
) -> ImportReport:
    """Import records from a CSV or JSON Lines file (a path) or text stream (module docstring).

    ``format`` is detected from a path's extension when not given (a stream needs it, unless
    it has a ``name``). ``progress(done_lines, total_lines)`` is called after every batch and at
    the end (``total_lines`` None when unknown); an exception it raises stops the import after
    that batch, which stays committed. ``on_reject`` gets every rejection as it happens.
    ``import_id`` replaces the content hash in the generated external_refs: a stream that cannot
    seek (so cannot be hashed first) needs one; rerunning with the same id resumes.

    Bad input as a whole (format, domain, batch size, header) raises InvalidInputError before
    anything is written.
    """
    domain = validate_domain(domain)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or not 1 <= batch_size <= MAX_BATCH:
        raise InvalidInputError("batch_size", f"must be an integer from 1 to {MAX_BATCH}")
    if import_id is not None and (not isinstance(import_id, str) or IMPORT_ID.fullmatch(import_id) is None):
        raise InvalidInputError("import_id", "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

    total_lines: int | None = None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        fmt = detect_format(path, format)
        if import_id is None:
            import_id, total_lines = hash_path(path)
        stream: IO[str] = path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="")
        owned = True
    elif hasattr(source, "read"):
        stream = source
        fmt = detect_format(getattr(source, "name", None) if format is None else None, format)
        if import_id is None:
            if not (hasattr(source, "seekable") and source.seekable()):
                raise InvalidInputError(
                    "import_id",
                    "a stream that cannot seek needs an import_id (it cannot be hashed first)",
                )
            import_id, total_lines = hash_stream(source)
        owned = False
    else:
        raise InvalidInputError("source", "must be a file path or a text stream")

    report = ImportReport(import_id=import_id, format=fmt, domain=domain)
    importer = _Importer(service, report, batch_size, on_reject)
    outcome = "error"
    try:
        rows = csv_rows(stream) if fmt == "csv" else jsonl_rows(stream)
        importer.run(rows, progress, total_lines)
        outcome = "ok"
    except InvalidInputError:
        outcome = "invalid"
        raise
    finally:
        if owned:
            stream.close()
        _audit_import(service, report, outcome)
    log.info(
        "import %s (%s): %d imported, %d skipped, %d rejected in %d batch(es)",
        report.import_id,
        fmt,
        report.imported,
        report.skipped,
        report.rejected,
        report.batches,
    )
    return report


def _audit_import(service: RecordService, report: ImportReport, outcome: str) -> None:
    detail = {
        "import_id": report.import_id,
        "format": report.format,
        "domain": report.domain,
        "rows": report.rows,
        "imported": report.imported,
        "skipped": report.skipped,
        "rejected": report.rejected,
        "batches": report.batches,
    }
    try:
        service._audit.append("record.import", outcome=outcome, detail=detail)
    except Exception as exc:  # a failing store fails the import already; do not mask that error
        if outcome == "ok":
            raise
        log.error(
            "could not audit the failed import %s (%s)",
            report.import_id,
            type(exc).__name__,
        )
