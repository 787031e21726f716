"""subjects: add, show, update, list, shred, replay-shreds."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from pseudovault.api.cli._base import (
    ExitCode,
    FieldOpt,
    FieldsJsonOpt,
    JsonOpt,
    cli_error,
    emit,
    open_from_env,
    out,
    parse_fields,
    run_command,
    subjects_app,
)
from pseudovault.vault.errors import (
    InvalidInputError,
)


@subjects_app.command("add")
def subjects_add(
    field: FieldOpt = [],  # noqa: B006 - typer reads the default, never mutates it
    fields_json: FieldsJsonOpt = None,
    category: Annotated[
        list[str],
        typer.Option("--category", "-c", help="Data category: CODE or CODE:FIELD,FIELD (repeatable), e.g. member."),
    ] = [],  # noqa: B006
    as_json: JsonOpt = False,
) -> None:
    """Create a subject (with its data categories); prints the new subject id as the last word."""
    from pseudovault.vault.retention.service import parse_category_specs

    with run_command():
        fields = parse_fields(field, fields_json)
        if not fields:
            raise InvalidInputError("--field", "at least one field is required")
        categories = parse_category_specs(category)
        with open_from_env() as vault:
            if categories:  # validated before the subject is created (vault.retention)
                subject_id = vault.retention.create_subject(fields, categories)
            else:
                subject_id = vault.subjects.create(fields)
        emit({"subject_id": subject_id}, as_json, lambda: out.print(f"Created subject {subject_id}"))


@subjects_app.command("show")
def subjects_show(
    subject_id: str,
    purpose: Annotated[str, typer.Option(
        "--purpose", help="Why the PII is revealed (a case or ticket, never personal data); recorded in the audit log.")],
    field: Annotated[list[str], typer.Option("--field", "-f", help="Only these fields (repeatable).")] = [],  # noqa: B006
    legal_request: Annotated[bool, typer.Option(
        "--legal-request", help="Read a restricted subject for a legal request (audited).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Decrypt and print a subject's fields (an audited reveal, with its purpose). A subject whose
    processing is restricted is not shown, except with --legal-request."""
    with run_command(), open_from_env() as vault:
        values = vault.subjects.read(subject_id, field or None, purpose=purpose,
                                     restricted="legal_request" if legal_request else "refuse")

        def render() -> None:
            table = Table("field", "value")
            for name in sorted(values):
                table.add_row(name, values[name])
            out.print(table)

        emit({"subject_id": subject_id, "fields": values}, as_json, render)


@subjects_app.command("verify")
def subjects_verify(
    subject_id: str,
    field: Annotated[str, typer.Option("--field", "-f", help="The one-way field, e.g. password.")] = "password",
    as_json: JsonOpt = False,
) -> None:
    """Check a value against a one-way field (asked for at the terminal, else read from the first
    line of standard input: never an argument, which other users could see). Exit 0 when it
    matches, 1 when it does not."""
    with run_command():
        if sys.stdin.isatty():
            value = str(typer.prompt(f"Value of {field}", hide_input=True))
        else:
            value = sys.stdin.readline().rstrip("\r\n")
        with open_from_env() as vault:
            match = vault.subjects.verify(subject_id, field, value)
        data = {"subject_id": subject_id, "field": field, "match": match}
        emit(data, as_json, lambda: out.print("match" if match else "no match"))
    if not match:
        raise typer.Exit(ExitCode.ERROR)


@subjects_app.command("update")
def subjects_update(
    subject_id: str,
    field: FieldOpt = [],  # noqa: B006
    unset: Annotated[list[str], typer.Option("--unset", help="Delete this field (repeatable).")] = [],  # noqa: B006
    fields_json: FieldsJsonOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set or delete fields of a subject."""
    with run_command():
        changes: dict[str, str | None] = dict(parse_fields(field, fields_json))
        for name in unset:
            if name in changes:
                raise InvalidInputError(f"field {name}", "both set and unset")
            changes[name] = None
        if not changes:
            raise InvalidInputError("--field", "nothing to change")
        with open_from_env() as vault:
            vault.subjects.update(subject_id, changes)
        emit(
            {"subject_id": subject_id, "updated": sorted(changes)},
            as_json,
            lambda: out.print(f"Updated subject {subject_id}"),
        )


@subjects_app.command("list")
def subjects_list(
    after: Annotated[str | None, typer.Option(help="Continue after this subject id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List subjects by id, without decrypting anything."""
    with run_command(), open_from_env() as vault:
        items = vault.subjects.list(after=after, limit=limit)
        data = [
            {
                "subject_id": s.subject_id,
                "created_at": s.created_at.isoformat(),
                "updated_at": s.updated_at.isoformat(),
                "fields": list(s.field_names),
            }
            for s in items
        ]

        def render() -> None:
            table = Table("subject id", "created", "fields")
            for row in data:
                table.add_row(row["subject_id"], row["created_at"], ", ".join(row["fields"]))
            out.print(table)

        emit(data, as_json, render)


@subjects_app.command("shred")
def subjects_shred(
    subject_id: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    reason: Annotated[str, typer.Option(help="Reason code, e.g. request, withdrawal, retention.")] = "request",
    as_json: JsonOpt = False,
) -> None:
    """Destroy a subject's data key and data, irreversibly."""
    with run_command():
        if not yes:
            if not sys.stdin.isatty():
                raise InvalidInputError("--yes", "shredding is irreversible: confirm with --yes when not interactive")
            if not typer.confirm(f"Shred subject {subject_id}? This cannot be undone.", default=False):
                cli_error("not shredded", ExitCode.ERROR)
        with open_from_env() as vault:
            result = vault.subjects.shred(subject_id, reason)
        data = {
            "subject_id": result.subject_id,
            "shredded_at": result.shredded_at.isoformat(),
            "already": result.already,
        }
        emit(
            data,
            as_json,
            lambda: out.print(
                f"Subject {subject_id} was already shredded" if result.already else f"Shredded subject {subject_id}"
            ),
        )


@subjects_app.command("replay-shreds")
def subjects_replay_shreds(as_json: JsonOpt = False) -> None:
    """After restoring a store from backup: destroy again every subject the shred ledger names."""
    with run_command(), open_from_env() as vault:
        count = vault.subjects.replay_shred_ledger()
        emit({"destroyed": count}, as_json, lambda: out.print(f"Destroyed {count} restored subject(s) again"))
