"""records and check: fraud records (bans) and ban checks."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from pseudovault.api.cli._base import JsonOpt, app, emit, err, flatten, open_from_env, out, parse_time, records_app, run_command
from pseudovault.vault.errors import (
    InvalidInputError,
)

IdentifierOpt = Annotated[
    list[str], typer.Option("--identifier", "-i", help="KIND=VALUE, e.g. email=a@b.example (repeatable).")
]


IdentifiersJsonOpt = Annotated[
    str | None,
    typer.Option(
        "--identifiers-json",
        help="Read identifiers from FILE, or '-' for stdin: a JSON list of [kind, value] pairs (keeps them "
        "out of the shell history).",
    ),
]


DomainOpt = Annotated[str, typer.Option(help="Pseudonymisation domain.")]


def _parse_identifiers(pairs: list[str], identifiers_json: str | None) -> list[tuple[str, str]]:
    identifiers: list[tuple[str, str]] = []
    for pair in pairs:
        kind, sep, value = pair.partition("=")
        if not sep or not kind:
            raise InvalidInputError("--identifier", "expected KIND=VALUE, e.g. email=a@b.example")
        identifiers.append((kind, value))
    if identifiers_json is not None:
        text = sys.stdin.read() if identifiers_json == "-" else Path(identifiers_json).read_text(encoding="utf-8")
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError("--identifiers-json", f"not valid JSON (line {exc.lineno})") from None
        if not isinstance(loaded, list) or not all(
            isinstance(item, list) and len(item) == 2 and all(isinstance(part, str) for part in item) for item in loaded
        ):
            raise InvalidInputError("--identifiers-json", "expected a JSON list of [kind, value] pairs")
        identifiers.extend((kind, value) for kind, value in loaded)
    if not identifiers:
        raise InvalidInputError("--identifier", "at least one identifier is required")
    return identifiers


def _render_records(items: list[Any]) -> None:
    table = Table("record id", "category", "reason", "severity", "status", "identifiers", "expires")
    for view in items:
        kinds = ", ".join(f"{kind}x{count}" if count > 1 else kind for kind, count in view.identifier_kinds.items())
        expires = view.expires_at.isoformat() if view.expires_at else "-"
        table.add_row(view.record_id, view.category, view.reason_code, view.severity, view.status, kinds, expires)
    out.print(table)


def _render_record(data: dict[str, Any]) -> None:
    table = Table(show_header=False, box=None)
    for key, value in flatten({k: v for k, v in data.items() if k != "text"}):
        table.add_row(key, "-" if value is None else str(value))
    out.print(table)
    text = data.get("text")
    if text is not None:
        if not text["available"]:
            out.print("(no text: none was stored, or it was shredded with its subject)")
        for name in ("reason", "evidence", "notes"):
            if text.get(name) is not None:
                out.print(f"{name}:", markup=False)
                out.print(text[name], markup=False)


@records_app.command("add")
def records_add(
    identifier: IdentifierOpt = [],  # noqa: B006 - typer reads the default, never mutates it
    identifiers_json: IdentifiersJsonOpt = None,
    category: Annotated[str, typer.Option(help="Retention category (see 'records categories').")] = ...,  # type: ignore[assignment]  # typer: ... marks a required option
    reason: Annotated[str | None, typer.Option(help="Free-text reason (stored encrypted).")] = None,
    reason_code: Annotated[
        str | None, typer.Option(help="Reason code; default: the category's default code (e.g. fraud).")
    ] = None,
    severity: Annotated[str, typer.Option(help="low, medium, high or critical.")] = "high",
    expires_at: Annotated[
        str | None, typer.Option(help="ISO 8601 (UTC if no offset); default: the category's retention period (none for a category that runs from a later event, such as a withdrawal).")
    ] = None,
    subject: Annotated[str | None, typer.Option(help="Link to this subject id.")] = None,
    evidence: Annotated[str | None, typer.Option(help="Evidence (stored encrypted).")] = None,
    notes: Annotated[str | None, typer.Option(help="Notes (stored encrypted).")] = None,
    domain: DomainOpt = "default",
    source: Annotated[str, typer.Option(help="Where the record comes from.")] = "manual",
    external_ref: Annotated[str | None, typer.Option(help="A unique reference (an id, never PII).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a fraud record (a ban); prints the new record id as the last word."""
    with run_command():
        identifiers = _parse_identifiers(identifier, identifiers_json)
        expires = parse_time(expires_at, "--expires-at")
        with open_from_env() as vault:
            code = reason_code
            if code is None:
                code = vault.records.catalogue.for_record(category, "--category").default_reason_code
                if code is None:
                    raise InvalidInputError("--reason-code", f"category {category} has no default reason code")
            record_id = vault.records.create(
                identifiers,
                category=category,
                reason_code=code,
                reason=reason,
                severity=severity,
                source=source,
                expires_at=expires,
                subject_id=subject,
                evidence=evidence,
                notes=notes,
                domain=domain,
                external_ref=external_ref,
            )
            view = vault.records.get(record_id)
        emit(view.as_dict(), as_json, lambda: out.print(f"Created record {record_id}"))


@records_app.command("show")
def records_show(
    record_id: str,
    reveal: Annotated[bool, typer.Option("--reveal", help="Decrypt the reason, evidence and notes (audited).")] = False,
    purpose: Annotated[str | None, typer.Option(help="Why the text is revealed; required with --reveal.")] = None,
    pseudonyms: Annotated[bool, typer.Option("--pseudonyms", help="Include the stored pseudonyms (hex).")] = False,
    legal_request: Annotated[bool, typer.Option(
        "--legal-request", help="Reveal although its subject is restricted, for a legal request (audited).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a record (codes, status, identifier kinds); --reveal decrypts its text (not while its
    subject is restricted, except with --legal-request)."""
    with run_command(), open_from_env() as vault:
        if reveal and not purpose:
            raise InvalidInputError("--purpose", "a purpose is required with --reveal")
        data = vault.records.get(record_id, include_pseudonyms=pseudonyms).as_dict()
        if reveal:
            text = vault.records.reveal(record_id, purpose=purpose or "",
                                        restricted="legal_request" if legal_request else "refuse").as_dict()
            text.pop("record_id")
            data["text"] = text
        emit(data, as_json, lambda: _render_record(data))


@records_app.command("find")
def records_find(
    identifier: IdentifierOpt = [],  # noqa: B006
    identifiers_json: IdentifiersJsonOpt = None,
    domain: DomainOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Find the records (any status) holding an identifier (audited: the kind, never the value)."""
    with run_command():
        identifiers = _parse_identifiers(identifier, identifiers_json)
        if len(identifiers) != 1:
            raise InvalidInputError("--identifier", "give exactly one identifier")
        kind, value = identifiers[0]
        with open_from_env() as vault:
            views = vault.records.find(kind, value, domain=domain)
        emit([v.as_dict() for v in views], as_json, lambda: _render_records(views))


@records_app.command("list")
def records_list(
    status: Annotated[str | None, typer.Option(help="active, under_review, revoked or expired.")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    domain: Annotated[str | None, typer.Option(help="Only this pseudonymisation domain.")] = None,
    after: Annotated[str | None, typer.Option(help="Continue after this record id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List records by creation time, without decrypting anything."""
    with run_command(), open_from_env() as vault:
        page = vault.records.list(status=status, category=category, domain=domain, after=after, limit=limit)

        def render() -> None:
            _render_records(list(page.items))
            if page.next_after:
                out.print(f"more: --after {page.next_after}")

        emit(page.as_dict(), as_json, render)


def _set_status(record_id: str, status: str, reason_code: str, as_json: bool) -> None:
    with run_command(), open_from_env() as vault:
        view = vault.records.set_status(record_id, status, reason_code=reason_code)
        emit(view.as_dict(), as_json, lambda: out.print(f"Record {record_id} is {view.status}"))


@records_app.command("review")
def records_review(
    record_id: str,
    reason_code: Annotated[str, typer.Option(help="Why it is put under review.")] = "review",
    as_json: JsonOpt = False,
) -> None:
    """Put a record under review: its matches give at most 'review' until it is activated again."""
    _set_status(record_id, "under_review", reason_code, as_json)


@records_app.command("activate")
def records_activate(
    record_id: str,
    reason_code: Annotated[str, typer.Option(help="Why it is active again.")] = "reviewed",
    as_json: JsonOpt = False,
) -> None:
    """Make a record under review active again."""
    _set_status(record_id, "active", reason_code, as_json)


@records_app.command("revoke")
def records_revoke(
    record_id: str,
    reason_code: Annotated[str, typer.Option(help="Why it is revoked, e.g. appeal_upheld.")] = ...,  # type: ignore[assignment]  # typer: ... marks a required option
    as_json: JsonOpt = False,
) -> None:
    """Revoke a record for good: it never matches again."""
    with run_command(), open_from_env() as vault:
        view = vault.records.revoke(record_id, reason_code=reason_code)
        emit(view.as_dict(), as_json, lambda: out.print(f"Revoked record {record_id}"))


@records_app.command("update")
def records_update(
    record_id: str,
    severity: Annotated[str | None, typer.Option(help="low, medium, high or critical.")] = None,
    expires_at: Annotated[str | None, typer.Option(help="ISO 8601 (UTC if no offset).")] = None,
    notes: Annotated[str | None, typer.Option(help="Replace the notes (stored encrypted).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a record's severity, expiry or notes."""
    with run_command():
        expires = parse_time(expires_at, "--expires-at")
        with open_from_env() as vault:
            view = vault.records.update(record_id, severity=severity, expires_at=expires, notes=notes)
        emit(view.as_dict(), as_json, lambda: out.print(f"Updated record {record_id}"))


@records_app.command("categories")
def records_categories(as_json: JsonOpt = False) -> None:
    """The retention categories, their periods and legal bases (records use those marked so)."""
    from pseudovault.vault.retention.policy_file import CATALOGUE

    with run_command():
        data = [c.as_dict() for c in CATALOGUE]

        def render() -> None:
            table = Table("code", "retention", "for records", "default reason", "legal basis")
            for c in data:
                retention = c["retention"] or f"none (review every {c['review_interval']})"
                table.add_row(
                    c["code"], retention, "yes" if c["for_records"] else "", c["default_reason_code"] or "", c["legal_basis"]
                )
            out.print(table)

        emit(data, as_json, render)


IMPORT_SHOWN_REJECTIONS = 20


@records_app.command("import")
def records_import(
    file: Annotated[Path, typer.Argument(help="A CSV or JSON Lines file (see docs/import-export.md).")],
    format: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl; default: from the file's extension.")
    ] = None,
    domain: DomainOpt = "default",
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per transaction.")] = 1000,
    rejects: Annotated[
        Path | None, typer.Option("--rejects", help="Write every rejected row (line, reason code; no values) as JSON Lines.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import records from a file of plaintext identifiers; rows already imported are skipped.

    Each batch is one transaction, so an interrupted import is resumed by running it again.
    Exits 0 when the import ran, even if some rows were rejected (the summary lists them);
    non-zero only when it could not run (bad header, unreadable file, store error).
    """
    from pseudovault.vault.records.bulk import detect_format

    with run_command():
        fmt = detect_format(file, format)
        if not file.is_file():
            raise InvalidInputError("FILE", "no such file")
        with open_from_env() as vault, contextlib.ExitStack() as stack:
            on_reject = None
            if rejects is not None:
                handle = stack.enter_context(rejects.open("w", encoding="utf-8"))

                def on_reject(rejection: Any) -> None:
                    handle.write(json.dumps(rejection.as_dict(), sort_keys=True) + "\n")

            progress = stack.enter_context(
                Progress(
                    TextColumn("importing"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("lines"),
                    TimeRemainingColumn(),
                    console=err,
                    transient=True,
                    disable=as_json or not err.is_terminal,
                )
            )
            task = progress.add_task("import", total=None)

            def on_progress(done: int, total: int | None) -> None:
                progress.update(task, completed=done, total=total)

            report = vault.bulk.import_records(
                file, format=fmt, domain=domain, batch_size=batch_size, progress=on_progress, on_reject=on_reject
            )
        data = report.as_dict(max_rejections=IMPORT_SHOWN_REJECTIONS)

        def render() -> None:
            out.print(
                f"Imported {report.imported} record(s), skipped {report.skipped} already imported, "
                f"rejected {report.rejected} row(s) (import {report.import_id})",
                markup=False,
            )
            for r in data["rejections"]:
                where = f" [{r['field']}]" if r["field"] else ""
                out.print(f"  line {r['line']}: {r['reason_code']}{where}", markup=False)
            if data["rejections_truncated"]:
                more = report.rejected - len(data["rejections"])
                hint = f"; all of them are in {rejects}" if rejects is not None else "; use --rejects FILE for all"
                out.print(f"  ... and {more} more{hint}", markup=False)

        emit(data, as_json, render)


@records_app.command("export")
def records_export(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE instead of standard output.")] = None,
    format: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv; default: from --output's extension, else jsonl.")
    ] = None,
    status: Annotated[str | None, typer.Option(help="active, under_review, revoked or expired.")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    domain: Annotated[str | None, typer.Option(help="Only this pseudonymisation domain.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Export records as pseudonyms only (no PII, no reason text, no subject link).

    The summary goes to standard output with --output, to standard error otherwise.
    """
    from pseudovault.vault.records.bulk import detect_format

    with run_command():
        if format is None:
            fmt = "csv" if output is not None and output.suffix.lower() == ".csv" else "jsonl"
        else:
            fmt = detect_format(None, format)
        with open_from_env() as vault:
            if output is None:
                report = vault.bulk.export_records(sys.stdout, format=fmt, status=status, category=category, domain=domain)
            else:
                with output.open("w", encoding="utf-8", newline="") as handle:
                    report = vault.bulk.export_records(handle, format=fmt, status=status, category=category, domain=domain)
        data = report.as_dict()
        stream = sys.stdout if output is not None else sys.stderr
        if as_json:
            stream.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        else:
            where = f" to {output}" if output is not None else ""
            stream.write(f"Exported {report.records} record(s), {report.pseudonyms} pseudonym(s){where}\n")


@app.command("check")
def check(
    identifier: IdentifierOpt = [],  # noqa: B006
    identifiers_json: IdentifiersJsonOpt = None,
    domain: DomainOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Check a signup's identifiers against the records: allow, review or deny.

    Exits 0 whatever the decision (the decision is data, not an error); read it from the output
    (with --json: {"decision", "matches", "checked_kinds"}).
    """
    with run_command():
        identifiers = _parse_identifiers(identifier, identifiers_json)
        with open_from_env() as vault:
            decision = vault.checks.check(identifiers, domain=domain)
        data = decision.as_dict()

        def render() -> None:
            out.print(f"{decision.decision} ({len(decision.matches)} matching record(s))")
            if decision.matches:
                table = Table("record id", "category", "reason", "severity", "status", "matched", "match")
                for m in decision.matches:
                    table.add_row(
                        m.record_id, m.category, m.reason_code, m.severity, m.status, ", ".join(m.matched_kinds), m.match
                    )
                out.print(table)

        emit(data, as_json, render)
