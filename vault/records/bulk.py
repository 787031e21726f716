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
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TextIO

from sqlalchemy import and_, or_, select

from pseudovault.vault.crypto.lookup import DEFAULT_DOMAIN, validate_domain
from pseudovault.vault.errors import ConflictError, InvalidInputError
from pseudovault.vault.identifiers import InvalidIdentifierError
from pseudovault.vault.identifiers.model import BUILTIN_KINDS, CUSTOM_PREFIX, parse_kind
from pseudovault.vault.records.service import (
    LIVE_STATUSES,
    MAX_BATCH,
    MAX_IDENTIFIERS,
    STATUSES,
    PreparedRecord,
    RecordService,
    effective_status,
)
from pseudovault.vault.retention.restrictions import processable_records
from pseudovault.vault.store.db import session_scope
from pseudovault.vault.store.models import Record, RecordIdentifier

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

log = logging.getLogger(__name__)

FORMATS = ("csv", "jsonl")
#: the columns (CSV) or keys (JSON Lines) a row may have besides its identifiers
RECORD_COLUMNS = (
    "category",
    "reason_code",
    "reason",
    "severity",
    "expires_at",
    "source_ref",
)
_REQUIRED = ("category", "reason_code")
#: an import report keeps this many rejections (all of them go to ``on_reject``)
MAX_REPORTED_REJECTIONS = 1000
#: the ``source`` of imported records
IMPORT_SOURCE = "import"
EXPORT_CSV_COLUMNS = (
    "record_id",
    "domain",
    "category",
    "reason_code",
    "severity",
    "status",
    "status_reason_code",
    "source",
    "external_ref",
    "created_at",
    "updated_at",
    "expires_at",
    "review_at",
    "slot",
    "kind",
    "lookalike",
    "lookup_version",
    "norm_version",
    "pseudonym",
)

_CHUNK = 1 << 20
_STREAM_CHUNK = 1 << 16  # characters
_IMPORT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SOURCE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/#+-]{0,127}")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_EXPORT_PAGE = 1000

Progress = Callable[[int, int | None], None]


# --- reports ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    """One rejected row: where, why (a code), which field; never any value of the row."""

    line: int
    reason_code: str
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "reason_code": self.reason_code,
            "field": self.field,
            "message": self.message,
        }


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
        shown = (
            self.rejections
            if max_rejections is None
            else self.rejections[:max_rejections]
        )
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


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote: how many records and pseudonyms, in which format."""

    format: str
    records: int
    pseudonyms: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "records": self.records,
            "pseudonyms": self.pseudonyms,
        }


class _Rejected(Exception):
    """A row is rejected (internal: becomes a :class:`Rejection`)."""

    def __init__(self, reason_code: str, field: str | None, message: str) -> None:
        super().__init__(reason_code)
        self.reason_code = reason_code
        self.field = field
        self.message = message


@dataclass
class _Row:
    """A parsed row, ready for ``RecordService.prepare`` (holds PII: never logged; no repr)."""

    line: int
    ref: str
    identifiers: list[tuple[str, str]]
    values: dict[str, Any]

    def __repr__(self) -> str:
        return f"_Row(line={self.line})"


# --- sources ------------------------------------------------------------------------------------


def detect_format(name: str | os.PathLike[str] | None, given: str | None) -> str:
    """``given`` if set (checked), else from the file name's extension (.csv; .jsonl, .ndjson, .json)."""
    if given is not None:
        if given not in FORMATS:
            raise InvalidInputError("format", "must be csv or jsonl")
        return given
    suffix = Path(os.fspath(name)).suffix.lower() if name is not None else ""
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise InvalidInputError(
        "format", "cannot tell the format from the file name: give csv or jsonl"
    )


def _hash_path(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    lines = 0
    last = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk
    if last and not last.endswith(b"\n"):
        lines += 1
    return digest.hexdigest()[:16], lines


def _hash_stream(stream: IO[str]) -> tuple[str, int]:
    """Hash a seekable text stream from where it is, then put it back there."""
    start = stream.tell()
    digest = hashlib.sha256()
    lines = 0
    last = ""
    while chunk := stream.read(_STREAM_CHUNK):
        digest.update(chunk.encode("utf-8", "surrogatepass"))
        lines += chunk.count("\n")
        last = chunk
    if last and not last.endswith("\n"):
        lines += 1
    stream.seek(start)
    return digest.hexdigest()[:16], lines


# --- row parsing --------------------------------------------------------------------------------


def _kind_field(kind: object) -> str:
    """The field name of an identifier in a rejection: the kind if it is one, else "identifiers"."""
    try:
        return f"identifier.{parse_kind(kind)}"
    except InvalidIdentifierError:
        return "identifiers"


def _check_text(value: str, field: str) -> None:
    if not value.isascii() and _SURROGATE.search(value):
        raise _Rejected("invalid_encoding", field, f"{field} is not valid UTF-8")


def _parse_expires(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Rejected(
            "invalid_expires_at",
            "expires_at",
            "expires_at must be an ISO 8601 timestamp",
        )
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _Rejected(
            "invalid_expires_at",
            "expires_at",
            "expires_at must be an ISO 8601 timestamp",
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _record_values(raw: dict[str, Any]) -> dict[str, Any]:
    """The prepare() keyword arguments of a row's non-identifier fields (strings checked here,
    codes and categories by prepare)."""
    values: dict[str, Any] = {}
    for name in RECORD_COLUMNS:
        value = raw.get(name)
        if value is None or value == "":
            if name in _REQUIRED:
                raise _Rejected("missing_field", name, f"{name} is required")
            continue
        if not isinstance(value, str):
            raise _Rejected(f"invalid_{name}", name, f"{name} must be a string")
        _check_text(value, name)
        values[name] = value
    values["expires_at"] = _parse_expires(values.get("expires_at"))
    source_ref = values.get("source_ref")
    if source_ref is not None and _SOURCE_REF.fullmatch(source_ref) is None:
        raise _Rejected(
            "invalid_source_ref",
            "source_ref",
            "source_ref must match [A-Za-z0-9][A-Za-z0-9_.:/#+-]{0,127}",
        )
    return values


def _check_identifiers(identifiers: list[tuple[str, str]]) -> None:
    if not identifiers:
        raise _Rejected(
            "missing_identifier", "identifiers", "a row needs at least one identifier"
        )
    if len(identifiers) > MAX_IDENTIFIERS:
        raise _Rejected(
            "too_many_identifiers",
            "identifiers",
            f"at most {MAX_IDENTIFIERS} identifiers per row",
        )
    for kind, value in identifiers:
        if not isinstance(value, str):
            raise _Rejected(
                "invalid_identifier",
                _kind_field(kind),
                "an identifier value must be a string",
            )
        _check_text(value, _kind_field(kind))


def _csv_header(cells: list[str]) -> tuple[list[str], list[int]]:
    """(column name per position, positions of the identifier columns)."""
    names: list[str] = []
    seen: set[str] = set()
    identifier_positions: list[int] = []
    for position, cell in enumerate(cells, start=1):
        name = cell.strip().lstrip("\ufeff")
        if name in seen:
            raise InvalidInputError(
                "header", f"column {position} repeats an earlier column"
            )
        if name in RECORD_COLUMNS:
            names.append(name)
        elif name in BUILTIN_KINDS or name.startswith(CUSTOM_PREFIX):
            try:
                parse_kind(name)
            except InvalidIdentifierError:
                raise InvalidInputError(
                    "header", f"column {position} is not a valid custom:<name> kind"
                ) from None
            names.append(name)
            identifier_positions.append(position - 1)
        else:
            raise InvalidInputError(
                "header",
                f"column {position} is not a known column (expected {', '.join(RECORD_COLUMNS)}, "
                f"an identifier kind: {', '.join(BUILTIN_KINDS)}, or custom:<name>)",
            )
        seen.add(name)
    for name in _REQUIRED:
        if name not in seen:
            raise InvalidInputError("header", f"the header has no {name} column")
    if not identifier_positions:
        raise InvalidInputError("header", "the header has no identifier column")
    return names, identifier_positions


def _csv_rows(
    stream: IO[str],
) -> Iterator[
    tuple[int, int, Callable[[], tuple[list[tuple[str, str]], dict[str, Any]]]]
]:
    """(first line, last line, parse) per data row; ``parse`` raises _Rejected for a bad row."""
    reader = csv.reader(stream, strict=True)
    header: list[str] | None = None
    while header is None:
        try:
            cells = next(reader)
        except StopIteration:
            raise InvalidInputError(
                "header", "the file is empty: a CSV import needs a header line"
            ) from None
        except csv.Error:
            raise InvalidInputError(
                "header", "the header line is not valid CSV"
            ) from None
        if cells:
            header = cells
    names, identifier_positions = _csv_header(header)
    width = len(names)
    previous = reader.line_num
    while True:
        first = previous + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            last = reader.line_num
            previous = last

            def malformed() -> tuple[list[tuple[str, str]], dict[str, Any]]:
                raise _Rejected(
                    "malformed_csv", None, "the row is not valid CSV (quoting)"
                )

            yield first, last, malformed
            continue
        last = previous = reader.line_num
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # a blank line

        def parse(
            cells: list[str] = cells,
        ) -> tuple[list[tuple[str, str]], dict[str, Any]]:
            if len(cells) != width:
                raise _Rejected(
                    "wrong_column_count",
                    None,
                    f"the row has {len(cells)} cells, the header {width}",
                )
            identifiers = [
                (names[i], cells[i]) for i in identifier_positions if cells[i].strip()
            ]
            raw = {
                name: cells[i]
                for i, name in enumerate(names)
                if i not in identifier_positions
            }
            _check_identifiers(identifiers)
            return identifiers, _record_values(raw)

        yield first, last, parse


def _json_identifiers(value: object) -> list[tuple[str, str]]:
    identifiers: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for kind, item in value.items():
            if isinstance(item, list):
                identifiers.extend((kind, v) for v in item)
            elif item is not None and item != "":
                identifiers.append((kind, item))
    elif isinstance(value, list):
        for item in value:
            if not isinstance(item, dict) or set(item) != {"kind", "value"}:
                raise _Rejected(
                    "invalid_identifiers",
                    "identifiers",
                    'each identifier must be an object {"kind": ..., "value": ...}',
                )
            identifiers.append((item["kind"], item["value"]))
    else:
        raise _Rejected(
            "invalid_identifiers",
            "identifiers",
            'identifiers must be an object {kind: value} or a list of {"kind", "value"}',
        )
    for kind, _ in identifiers:
        if not isinstance(kind, str):
            raise _Rejected(
                "invalid_identifiers",
                "identifiers",
                "an identifier kind must be a string",
            )
    return identifiers


_JSON_KEYS = frozenset({"identifiers", *RECORD_COLUMNS})


def _jsonl_rows(
    stream: IO[str],
) -> Iterator[
    tuple[int, int, Callable[[], tuple[list[tuple[str, str]], dict[str, Any]]]]
]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue

        def parse(line: str = line) -> tuple[list[tuple[str, str]], dict[str, Any]]:
            try:
                data = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                raise _Rejected(
                    "malformed_json", None, "the line is not valid JSON"
                ) from None
            if not isinstance(data, dict):
                raise _Rejected(
                    "not_an_object", None, "each line must be one JSON object"
                )
            if not set(data) <= _JSON_KEYS:
                unknown = len(set(data) - _JSON_KEYS)
                raise _Rejected(
                    "unknown_field",
                    None,
                    f"the object has {unknown} unknown key(s); known: identifiers, {', '.join(RECORD_COLUMNS)}",
                )
            if "identifiers" not in data:
                raise _Rejected(
                    "missing_identifier",
                    "identifiers",
                    "a row needs at least one identifier",
                )
            identifiers = _json_identifiers(data["identifiers"])
            _check_identifiers(identifiers)
            return identifiers, _record_values(data)

        yield number, number, parse


# --- import -------------------------------------------------------------------------------------

_FIELD_CODES = {
    "severity": "invalid_severity",
    "reason_code": "invalid_reason_code",
    "reason": "invalid_reason",
}


def _rejection_of(error: InvalidInputError) -> _Rejected:
    """A prepare() error as a rejection, in words of our own (an InvalidInputError's reason may
    quote a code the row gave)."""
    if isinstance(error, InvalidIdentifierError):
        field = _kind_field(
            error.kind
        )  # a kind the row named is echoed only if it is one
        return _Rejected(
            error.reason_code, field, f"{field}: invalid ({error.reason_code})"
        )
    name = error.field
    if name == "category":
        return _Rejected(
            "unknown_category",
            "category",
            "not a category records may use (see 'records categories')",
        )
    if name == "expires_at":
        return _Rejected(
            "invalid_expires_at",
            "expires_at",
            "expires_at must be in the future and within the category's period",
        )
    if name == "domain":
        return _Rejected("invalid_domain", "domain", "invalid pseudonymisation domain")
    code = _FIELD_CODES.get(
        name, f"invalid_{re.sub(r'[^a-z0-9_]', '_', name.lower())}"[:40]
    )
    return _Rejected(
        code,
        name,
        f"{name}: {error.reason}"
        if name in ("severity", "reason_code", "reason")
        else f"{name} is invalid",
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

    def reject(self, line: int, error: _Rejected) -> None:
        """Note a rejection; :meth:`flush` reports a batch's rejections in line order."""
        self.pending.append(
            Rejection(line, error.reason_code, error.field, error.message)
        )

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
                    session.scalars(
                        select(Record.external_ref).where(
                            Record.external_ref.in_(refs[start : start + 1000])
                        )
                    )
                )
        return found

    def write(self, batch: list[_Row]) -> None:
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
        rows: Iterator[
            tuple[int, int, Callable[[], tuple[list[tuple[str, str]], dict[str, Any]]]]
        ],
        progress: Progress | None,
        total_lines: int | None,
    ) -> None:
        batch: list[_Row] = []
        last_line = 0
        prefix = f"import:{self.report.import_id}:"
        for first, last, parse in rows:
            self.report.rows += 1
            last_line = last
            try:
                identifiers, values = parse()
            except _Rejected as error:
                self.reject(first, error)
                continue
            ref = values.pop("source_ref", None)
            if ref is None:
                ref = f"{prefix}{first}"
            elif ref in self.seen_refs:
                self.reject(
                    first,
                    _Rejected(
                        "duplicate_source_ref",
                        "source_ref",
                        "an earlier row has this source_ref",
                    ),
                )
                continue
            else:
                self.seen_refs.add(ref)
            batch.append(_Row(first, ref, identifiers, values))
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
    if (
        not isinstance(batch_size, int)
        or isinstance(batch_size, bool)
        or not 1 <= batch_size <= MAX_BATCH
    ):
        raise InvalidInputError(
            "batch_size", f"must be an integer from 1 to {MAX_BATCH}"
        )
    if import_id is not None and (
        not isinstance(import_id, str) or _IMPORT_ID.fullmatch(import_id) is None
    ):
        raise InvalidInputError(
            "import_id", "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
        )

    total_lines: int | None = None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        fmt = detect_format(path, format)
        if import_id is None:
            import_id, total_lines = _hash_path(path)
        stream: IO[str] = path.open(
            "r", encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
        owned = True
    elif hasattr(source, "read"):
        stream = source
        fmt = detect_format(
            getattr(source, "name", None) if format is None else None, format
        )
        if import_id is None:
            if not (hasattr(source, "seekable") and source.seekable()):
                raise InvalidInputError(
                    "import_id",
                    "a stream that cannot seek needs an import_id (it cannot be hashed first)",
                )
            import_id, total_lines = _hash_stream(source)
        owned = False
    else:
        raise InvalidInputError("source", "must be a file path or a text stream")

    report = ImportReport(import_id=import_id, format=fmt, domain=domain)
    importer = _Importer(service, report, batch_size, on_reject)
    outcome = "error"
    try:
        rows = _csv_rows(stream) if fmt == "csv" else _jsonl_rows(stream)
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
    except (
        Exception
    ) as exc:  # a failing store fails the import already; do not mask that error
        if outcome == "ok":
            raise
        log.error(
            "could not audit the failed import %s (%s)",
            report.import_id,
            type(exc).__name__,
        )


# --- export -------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_records(
    service: RecordService,
    out: TextIO,
    *,
    format: str = "jsonl",
    domain: str | None = None,
    status: str | None = None,
    category: str | None = None,
) -> ExportReport:
    """Write the records (filtered by domain, effective status, category) as pseudonyms only.

    JSON Lines: one object per record with a ``pseudonyms`` list. CSV: a header
    (:data:`EXPORT_CSV_COLUMNS`), then one line per stored pseudonym with its record's columns.
    """
    if format not in FORMATS:
        raise InvalidInputError("format", "must be csv or jsonl")
    if status is not None and status not in STATUSES:
        raise InvalidInputError("status", f"must be one of {', '.join(STATUSES)}")
    if category is not None and category not in service.catalogue:
        raise InvalidInputError(
            "category", "unknown category (see 'records categories')"
        )
    if domain is not None:
        domain = validate_domain(domain)
    now = service._clock.now()
    r = Record.__table__
    ri = RecordIdentifier.__table__
    record_columns = (
        r.c.id, r.c.domain, r.c.category, r.c.reason_code, r.c.severity, r.c.status, r.c.status_reason_code,
        r.c.source, r.c.external_ref, r.c.created_at, r.c.updated_at, r.c.expires_at, r.c.review_at,
    )  # fmt: skip
    stmt = (
        select(*record_columns)
        .where(processable_records(r))  # nothing restricted: separate storage, a subject's restriction
        .order_by(r.c.created_at, r.c.id)
        .limit(_EXPORT_PAGE)
    )
    if status in LIVE_STATUSES:
        stmt = stmt.where(
            r.c.status == status, or_(r.c.expires_at.is_(None), r.c.expires_at > now)
        )
    elif status == "expired":
        stmt = stmt.where(
            or_(
                r.c.status == "expired",
                and_(
                    r.c.status.in_(LIVE_STATUSES),
                    r.c.expires_at.is_not(None),
                    r.c.expires_at <= now,
                ),
            )
        )
    elif status == "revoked":
        stmt = stmt.where(r.c.status == "revoked")
    if category is not None:
        stmt = stmt.where(r.c.category == category)
    if domain is not None:
        stmt = stmt.where(r.c.domain == domain)

    writer = csv.writer(out, lineterminator="\n") if format == "csv" else None
    if writer is not None:
        writer.writerow(EXPORT_CSV_COLUMNS)
    records = pseudonyms = 0
    outcome = "error"
    try:
        with session_scope(service._engine) as session:
            anchor: tuple[datetime, str] | None = None
            while True:
                page_stmt = stmt
                if anchor is not None:
                    page_stmt = stmt.where(
                        or_(
                            r.c.created_at > anchor[0],
                            and_(r.c.created_at == anchor[0], r.c.id > anchor[1]),
                        )
                    )
                page = session.execute(page_stmt).all()
                if not page:
                    break
                by_record: dict[str, list[dict[str, Any]]] = {
                    row.id: [] for row in page
                }
                for ident in session.execute(
                    select(
                        ri.c.record_id,
                        ri.c.slot,
                        ri.c.kind,
                        ri.c.lookalike,
                        ri.c.lookup_version,
                        ri.c.norm_version,
                        ri.c.pseudonym,
                    )
                    .where(ri.c.record_id.in_(list(by_record)))
                    .order_by(
                        ri.c.record_id, ri.c.slot, ri.c.lookalike, ri.c.lookup_version
                    )
                ):
                    by_record[ident.record_id].append(
                        {
                            "slot": ident.slot,
                            "kind": ident.kind,
                            "lookalike": bool(ident.lookalike),
                            "lookup_version": ident.lookup_version,
                            "norm_version": ident.norm_version,
                            "pseudonym": bytes(ident.pseudonym).hex(),
                        }
                    )
                for row in page:
                    data = {
                        "record_id": row.id,
                        "domain": row.domain,
                        "category": row.category,
                        "reason_code": row.reason_code,
                        "severity": row.severity,
                        "status": effective_status(row.status, row.expires_at, now),
                        "status_reason_code": row.status_reason_code,
                        "source": row.source,
                        "external_ref": row.external_ref,
                        "created_at": _iso(row.created_at),
                        "updated_at": _iso(row.updated_at),
                        "expires_at": _iso(row.expires_at),
                        "review_at": _iso(row.review_at),
                    }
                    items = by_record[row.id]
                    if writer is None:
                        out.write(
                            json.dumps(
                                {**data, "pseudonyms": items}, separators=(",", ":")
                            )
                            + "\n"
                        )
                    else:
                        head = [data[c] for c in EXPORT_CSV_COLUMNS[:13]]
                        for item in items:
                            writer.writerow(
                                [*head, item["slot"], item["kind"], "true" if item["lookalike"] else "false",
                                 item["lookup_version"], item["norm_version"], item["pseudonym"]]
                            )  # fmt: skip
                    records += 1
                    pseudonyms += len(items)
                last = page[-1]
                anchor = (last.created_at, last.id)
                if len(page) < _EXPORT_PAGE:
                    break
        outcome = "ok"
    finally:
        detail: dict[str, Any] = {
            "format": format,
            "records": records,
            "pseudonyms": pseudonyms,
        }
        for key, value in (
            ("status", status),
            ("category", category),
            ("domain", domain),
        ):
            if value is not None:
                detail[key] = value
        try:
            service._audit.append("record.export", outcome=outcome, detail=detail)
        except Exception as exc:
            if outcome == "ok":
                raise
            log.error("could not audit the failed export (%s)", type(exc).__name__)
    log.info(
        "exported %d record(s), %d pseudonym(s) as %s", records, pseudonyms, format
    )
    return ExportReport(format=format, records=records, pseudonyms=pseudonyms)


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
