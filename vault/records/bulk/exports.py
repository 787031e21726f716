"""Bulk export: records out as pseudonyms only, streamed in pages from one snapshot (see
:mod:`vault.records.bulk`)."""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import and_, or_, select

from pseudovault.vault.crypto.lookup import validate_domain
from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.records.bulk.rows import FORMATS
from pseudovault.vault.records.service import RecordService
from pseudovault.vault.records.views import LIVE_STATUSES, STATUSES, effective_status
from pseudovault.vault.retention.restrictions import processable_records
from pseudovault.vault.store.data_models import Record, RecordIdentifier
from pseudovault.vault.store.db import session_scope
from pseudovault.vault.views import View, to_json

__all__ = ["EXPORT_CSV_COLUMNS", "ExportReport", "export_records"]


log = logging.getLogger(__name__)

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


_EXPORT_PAGE = 1000


@dataclass(frozen=True)
class ExportReport(View):
    """What an export wrote: how many records and pseudonyms, in which format."""

    format: str
    records: int
    pseudonyms: int



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
        raise InvalidInputError("category", "unknown category (see 'records categories')")
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
        stmt = stmt.where(r.c.status == status, or_(r.c.expires_at.is_(None), r.c.expires_at > now))
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
                by_record: dict[str, list[dict[str, Any]]] = {row.id: [] for row in page}
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
                    .order_by(ri.c.record_id, ri.c.slot, ri.c.lookalike, ri.c.lookup_version)
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
                        "created_at": to_json(row.created_at),
                        "updated_at": to_json(row.updated_at),
                        "expires_at": to_json(row.expires_at),
                        "review_at": to_json(row.review_at),
                    }
                    items = by_record[row.id]
                    if writer is None:
                        out.write(json.dumps({**data, "pseudonyms": items}, separators=(",", ":")) + "\n")
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
    log.info("exported %d record(s), %d pseudonym(s) as %s", records, pseudonyms, format)
    return ExportReport(format=format, records=records, pseudonyms=pseudonyms)
