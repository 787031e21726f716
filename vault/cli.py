"""The ``pseudovault`` command: a thin shell over the vault, like the HTTP API.

Every command opens the vault, does one unit of work, and closes it. Errors are one line on
standard error and a non-zero exit code, never a traceback. Commands that print data take
``--json``. Values given with ``--field`` appear in the shell's history and the process list;
``--fields-json -`` reads them from standard input instead (``--identifiers-json -`` likewise for
the identifiers of ``records add|find`` and ``check``). ``check`` exits 0 whatever the decision:
the decision is its output, not an error.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from pseudovault.keys.errors import DecryptionError, KeyNotFoundError, KeyringError, KeysError, ProviderUnavailableError
from pseudovault.vault.config import Settings
from pseudovault.vault.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    NotInitialisedError,
    UnavailableError,
    VaultError,
)

__all__ = ["app", "main", "run_command", "cli_error", "open_from_env", "emit", "ExitCode"]


class ExitCode(IntEnum):
    ERROR = 1
    USAGE = 2
    NOT_FOUND = 3
    INVALID = 4
    NOT_INITIALISED = 5
    UNAVAILABLE = 6
    KEYRING = 7
    CONFLICT = 8
    AUDIT_BROKEN = 9


out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

app = typer.Typer(
    name="pseudovault",
    help="Pseudonymization and fraud-record vault.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
subjects_app = typer.Typer(help="Subjects and their encrypted PII.", no_args_is_help=True)
keys_app = typer.Typer(help="Key hierarchy: rotation and rewrapping.", no_args_is_help=True)
app.add_typer(subjects_app, name="subjects")
app.add_typer(keys_app, name="keys")
apikeys_app = typer.Typer(help="API keys of the HTTP API: create, list, revoke.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log: list, verify, checkpoint, prune.", no_args_is_help=True)
app.add_typer(apikeys_app, name="apikeys")
app.add_typer(audit_app, name="audit")
records_app = typer.Typer(help="Fraud records (bans), keyed by their identifiers' pseudonyms.", no_args_is_help=True)
app.add_typer(records_app, name="records")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def cli_error(message: str, code: ExitCode = ExitCode.ERROR) -> NoReturn:
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(int(code))


def _map_error(exc: BaseException) -> tuple[str, ExitCode]:
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, NotFoundError):
        return str(exc), ExitCode.NOT_FOUND
    if isinstance(exc, InvalidInputError):
        return str(exc), ExitCode.INVALID
    if isinstance(exc, NotInitialisedError):
        return str(exc), ExitCode.NOT_INITIALISED
    if isinstance(exc, UnavailableError):
        return str(exc), ExitCode.UNAVAILABLE
    if isinstance(exc, ConflictError):
        return str(exc), ExitCode.CONFLICT
    if isinstance(exc, KeyringError):
        return str(exc), ExitCode.KEYRING
    if isinstance(exc, ProviderUnavailableError):
        return f"the root key provider cannot be reached: {exc}", ExitCode.UNAVAILABLE
    if isinstance(exc, (DecryptionError, KeyNotFoundError)):
        return "stored data could not be decrypted with the available keys", ExitCode.KEYRING
    if isinstance(exc, (VaultError, KeysError)):
        return str(exc), ExitCode.ERROR
    if isinstance(exc, SQLAlchemyError):
        # Driver messages can quote SQL parameters: never print them.
        return f"store error ({type(exc).__name__}); check the store URL and that it is reachable", ExitCode.UNAVAILABLE
    if isinstance(exc, OSError):
        return f"{exc.strerror or type(exc).__name__}: {exc.filename or ''}".rstrip(": "), ExitCode.ERROR
    return f"unexpected {type(exc).__name__}", ExitCode.ERROR


@contextmanager
def run_command() -> Iterator[None]:
    """Turn every failure into one line on stderr and an exit code."""
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:  # the whole point: no traceback reaches the user
        message, code = _map_error(exc)
        cli_error(message, code)


def _prompt_passphrase(confirm: bool) -> str:
    if not sys.stdin.isatty():
        raise NotInitialisedError("no passphrase: set PSEUDOVAULT_PASSPHRASE (standard input is not a terminal)")
    if confirm:
        return typer.prompt("New keyring passphrase", hide_input=True, confirmation_prompt=True)
    return typer.prompt("Keyring passphrase", hide_input=True)


def load_settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic ValidationError: name the variable, not its value
        names = []
        for e in getattr(exc, "errors", lambda: [])():
            loc = ".".join(str(p) for p in e.get("loc", ()))
            names.append(f"PSEUDOVAULT_{loc.upper()}: {e.get('msg')}")
        raise InvalidInputError("configuration", "; ".join(names) or "invalid settings") from None


@contextmanager
def open_from_env() -> Iterator[Any]:
    from pseudovault.vault.audit import Actor, acting_as
    from pseudovault.vault.bootstrap import open_vault

    vault = open_vault(load_settings(), _prompt_passphrase)
    try:
        with acting_as(Actor("cli", _cli_user())):
            yield vault
    finally:
        vault.close()


def _cli_user() -> str:
    import getpass

    try:
        name = getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        return "cli"
    cleaned = "".join(ch for ch in name if ch.isalnum() or ch in "._-")[:64]
    return cleaned or "cli"


def emit(data: Any, as_json: bool, render: Callable[[], None]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    else:
        render()


def _parse_fields(pairs: list[str], fields_json: str | None) -> dict[str, str]:
    fields: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise InvalidInputError("--field", "expected NAME=VALUE")
        if name in fields:
            raise InvalidInputError(f"--field {name}", "given more than once")
        fields[name] = value
    if fields_json is not None:
        text = sys.stdin.read() if fields_json == "-" else Path(fields_json).read_text(encoding="utf-8")
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError("--fields-json", f"not valid JSON (line {exc.lineno})") from None
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise InvalidInputError("--fields-json", "expected a JSON object of string values")
        for name, value in loaded.items():
            if name in fields:
                raise InvalidInputError(f"field {name}", "given more than once")
            fields[name] = value
    return fields


# ---------------------------------------------------------------------------------------------
# init / status


@app.command()
def init(as_json: JsonOpt = False) -> None:
    """Create the vault on the configured stores (safe to run again)."""
    from pseudovault.vault.bootstrap import init_vault
    from pseudovault.vault.config import redact_url

    with run_command():
        settings = load_settings()
        result = init_vault(settings, _prompt_passphrase)
        try:
            data = {
                "created": result.created,
                "home": str(settings.home_dir),
                "keyring": str(settings.keyring_path) if settings.kek_uri.kind == "keyring" else None,
                "kek": str(settings.kek_uri),
                "data_store": redact_url(settings.resolved_data_url),
                "key_store": redact_url(settings.resolved_keys_url),
            }
        finally:
            result.vault.close()

        def render() -> None:
            verb = "Initialised" if result.created else "Already initialised:"
            out.print(f"{verb} vault in {data['home']}")
            out.print(f"  root key    {data['kek']}")
            out.print(f"  data store  {data['data_store']}")
            out.print(f"  key store   {data['key_store']}")

        emit(data, as_json, render)


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Stores, key versions and counts (never key material)."""
    with run_command(), open_from_env() as vault:
        data = vault.status()

        def render() -> None:
            table = Table(show_header=False, box=None)
            for key, value in _flatten(data):
                table.add_row(key, str(value))
            out.print(table)

        emit(data, as_json, render)


def _flatten(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(data, list) and data and all(isinstance(x, dict) for x in data):
        for i, item in enumerate(data):
            yield from _flatten(item, f"{prefix}[{i}]")
    else:
        yield prefix, data


# ---------------------------------------------------------------------------------------------
# subjects

FieldOpt = Annotated[list[str], typer.Option("--field", "-f", help="NAME=VALUE (repeatable).")]
FieldsJsonOpt = Annotated[
    str | None, typer.Option("--fields-json", help="Read fields from a JSON object in FILE, or '-' for stdin.")
]


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
        fields = _parse_fields(field, fields_json)
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
    field: Annotated[list[str], typer.Option("--field", "-f", help="Only these fields (repeatable).")] = [],  # noqa: B006
    purpose: Annotated[str | None, typer.Option(help="Why the PII is revealed; recorded in the audit log.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Decrypt and print a subject's fields (an audited reveal)."""
    with run_command(), open_from_env() as vault:
        values = vault.subjects.read(subject_id, field or None, purpose=purpose)

        def render() -> None:
            table = Table("field", "value")
            for name in sorted(values):
                table.add_row(name, values[name])
            out.print(table)

        emit({"subject_id": subject_id, "fields": values}, as_json, render)


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
        changes: dict[str, str | None] = dict(_parse_fields(field, fields_json))
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


# ---------------------------------------------------------------------------------------------
# keys


@keys_app.command("rotate")
def keys_rotate(as_json: JsonOpt = False) -> None:
    """Add a new root KEK version and a new wrapping epoch; run 'keys rewrap' afterwards."""
    with run_command(), open_from_env() as vault:
        data = vault.rotate_keys()
        root, epoch = data["root_key_id"], data["epoch"]
        emit(
            data,
            as_json,
            lambda: out.print(f"New root key {root} and wrapping epoch {epoch}; now run 'pseudovault keys rewrap'"),
        )


@keys_app.command("rewrap")
def keys_rewrap(
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 500,
    as_json: JsonOpt = False,
) -> None:
    """Move every wrapped key to the current keys; destroy what no longer wraps anything.

    Resumable and safe to interrupt: run it again to continue.
    """
    with run_command(), open_from_env() as vault:
        with Progress(
            TextColumn("rewrapping"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=as_json or not err.is_terminal,
        ) as progress:
            task = progress.add_task("rewrap", total=None)

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            report = vault.rewrap(batch_size=batch_size, progress=on_progress)
        data = report.as_dict()
        emit(
            data,
            as_json,
            lambda: out.print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in data.items())),
        )


@keys_app.command("maintain")
def keys_maintain(
    max_age_days: Annotated[
        float | None,
        typer.Option(min=0, help="Rotate when the current epoch is this many days old (default: PSEUDOVAULT_EPOCH_MAX_AGE_DAYS)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Keep the backup horizon: rotate when the current epoch is too old, then rewrap and destroy
    the old keys. What the server does on its own schedule; run it from cron without a server."""
    from datetime import timedelta

    with run_command(), open_from_env() as vault:
        max_age = timedelta(days=max_age_days) if max_age_days is not None else None
        data = vault.maintain_keys(max_age)

        def render() -> None:
            if data["rotated"]:
                out.print(f"Rotated to root key {data['rotated']['root_key_id']} and epoch {data['rotated']['epoch']}")
            if data["rewrap"]:
                destroyed = ", ".join(data["rewrap"]["root_keys_destroyed"]) or "none"
                out.print(f"Rewrapped; epochs destroyed: {data['rewrap']['epochs_destroyed']}; root keys destroyed: {destroyed}")
            if not data["rotated"] and not data["rewrap"]:
                out.print("Nothing to do")
            out.print(f"Next rotation due: {data['next_rotation_at'] or 'never (no maximum age set)'}")

        emit(data, as_json, render)


# ---------------------------------------------------------------------------------------------
# records and checks

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


def _parse_time(text: str | None, option: str) -> Any:
    """An ISO 8601 timestamp; one without a UTC offset is taken as UTC."""
    from datetime import UTC, datetime

    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(option, "expected an ISO 8601 timestamp, e.g. 2027-01-01T00:00:00+00:00") from None
    value = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 has no UTC equivalent
        raise InvalidInputError(option, "is out of range") from None
    return value


def _render_records(items: list[Any]) -> None:
    table = Table("record id", "category", "reason", "severity", "status", "identifiers", "expires")
    for view in items:
        kinds = ", ".join(f"{kind}x{count}" if count > 1 else kind for kind, count in view.identifier_kinds.items())
        expires = view.expires_at.isoformat() if view.expires_at else "-"
        table.add_row(view.record_id, view.category, view.reason_code, view.severity, view.status, kinds, expires)
    out.print(table)


def _render_record(data: dict[str, Any]) -> None:
    table = Table(show_header=False, box=None)
    for key, value in _flatten({k: v for k, v in data.items() if k != "text"}):
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
    category: Annotated[str, typer.Option(help="Retention category (see 'records categories').")] = ...,  # type: ignore[assignment]
    reason: Annotated[str | None, typer.Option(help="Free-text reason (stored encrypted).")] = None,
    reason_code: Annotated[
        str | None, typer.Option(help="Reason code; default: the category's default code (e.g. fraud).")
    ] = None,
    severity: Annotated[str, typer.Option(help="low, medium, high or critical.")] = "high",
    expires_at: Annotated[
        str | None, typer.Option(help="ISO 8601 (UTC if no offset); default: the category's retention period.")
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
        expires = _parse_time(expires_at, "--expires-at")
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
    as_json: JsonOpt = False,
) -> None:
    """Show a record (codes, status, identifier kinds); --reveal decrypts its text."""
    with run_command(), open_from_env() as vault:
        if reveal and not purpose:
            raise InvalidInputError("--purpose", "a purpose is required with --reveal")
        data = vault.records.get(record_id, include_pseudonyms=pseudonyms).as_dict()
        if reveal:
            text = vault.records.reveal(record_id, purpose=purpose or "").as_dict()
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
    reason_code: Annotated[str, typer.Option(help="Why it is revoked, e.g. appeal_upheld.")] = ...,  # type: ignore[assignment]
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
        expires = _parse_time(expires_at, "--expires-at")
        with open_from_env() as vault:
            view = vault.records.update(record_id, severity=severity, expires_at=expires, notes=notes)
        emit(view.as_dict(), as_json, lambda: out.print(f"Updated record {record_id}"))


@records_app.command("categories")
def records_categories(as_json: JsonOpt = False) -> None:
    """The retention categories, their periods and legal bases (records use those marked so)."""
    from pseudovault.vault.categories import CATALOGUE

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
    from pseudovault.vault.bulk import detect_format

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

            report = vault.records.import_records(
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
    from pseudovault.vault.bulk import detect_format

    with run_command():
        if format is None:
            fmt = "csv" if output is not None and output.suffix.lower() == ".csv" else "jsonl"
        else:
            fmt = detect_format(None, format)
        with open_from_env() as vault:
            if output is None:
                report = vault.records.export_records(sys.stdout, format=fmt, status=status, category=category, domain=domain)
            else:
                with output.open("w", encoding="utf-8", newline="") as handle:
                    report = vault.records.export_records(handle, format=fmt, status=status, category=category, domain=domain)
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


# ---------------------------------------------------------------------------------------------
# lookup keys

VersionArg = Annotated[int, typer.Argument(min=1, help="Lookup key version.")]


@keys_app.command("rotate-lookup")
def keys_rotate_lookup(
    promote: Annotated[
        bool, typer.Option("--promote/--no-promote", help="Make the new version primary at once (default).")
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Add a lookup key version for pseudonyms; older versions keep matching (lazy re-indexing)."""
    with run_command(), open_from_env() as vault:
        version = vault.lookup.rotate(promote=promote)
        data = {"version": version, "primary": promote}
        emit(
            data,
            as_json,
            lambda: out.print(f"New lookup key version {version}" + (" (primary)" if promote else " (not primary yet)")),
        )


@keys_app.command("list-lookup")
def keys_list_lookup(as_json: JsonOpt = False) -> None:
    """Lookup key versions, their status and how many pseudonyms each holds."""
    with run_command(), open_from_env() as vault:
        counts = vault.lookup.pseudonym_counts()
        data = [{**k.as_dict(), "pseudonyms": counts.get(k.version, 0)} for k in vault.lookup.versions()]

        def render() -> None:
            table = Table("version", "status", "primary", "root key", "pseudonyms", "created")
            for k in data:
                table.add_row(
                    str(k["version"]), k["status"], "yes" if k["primary"] else "", k["kek_id"], str(k["pseudonyms"]), k["created_at"]
                )
            out.print(table)

        emit(data, as_json, render)


@keys_app.command("promote-lookup")
def keys_promote_lookup(version: VersionArg, as_json: JsonOpt = False) -> None:
    """Make an enabled lookup key version the primary one."""
    with run_command(), open_from_env() as vault:
        vault.lookup.promote(version)
        emit({"version": version, "primary": True}, as_json, lambda: out.print(f"Lookup key version {version} is primary"))


@keys_app.command("disable-lookup")
def keys_disable_lookup(version: VersionArg, as_json: JsonOpt = False) -> None:
    """Stop using a lookup key version for checks (reversible with enable-lookup)."""
    with run_command(), open_from_env() as vault:
        vault.lookup.disable(version)
        emit({"version": version, "status": "disabled"}, as_json, lambda: out.print(f"Disabled lookup key version {version}"))


@keys_app.command("enable-lookup")
def keys_enable_lookup(version: VersionArg, as_json: JsonOpt = False) -> None:
    """Use a disabled lookup key version for checks again."""
    with run_command(), open_from_env() as vault:
        vault.lookup.enable(version)
        emit({"version": version, "status": "enabled"}, as_json, lambda: out.print(f"Enabled lookup key version {version}"))


@keys_app.command("destroy-lookup")
def keys_destroy_lookup(
    version: VersionArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Destroy even if some bans have no pseudonym under another version.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Destroy a lookup key version and its pseudonyms, irreversibly."""
    with run_command():
        if not yes:
            if not sys.stdin.isatty():
                raise InvalidInputError("--yes", "destroying is irreversible: confirm with --yes when not interactive")
            if not typer.confirm(f"Destroy lookup key version {version}? This cannot be undone.", default=False):
                cli_error("not destroyed", ExitCode.ERROR)
        with open_from_env() as vault:
            orphaned = vault.lookup.destroy(version, force=force)
        data = {"version": version, "status": "destroyed", "identifiers_orphaned": orphaned}
        emit(data, as_json, lambda: out.print(f"Destroyed lookup key version {version} ({orphaned} identifier(s) orphaned)"))


# ---------------------------------------------------------------------------------------------
# API keys


@apikeys_app.command("create")
def apikeys_create(
    name: Annotated[str, typer.Option("--name", help="What the key is for, e.g. signup-service.")],
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope",
            help="A scope to grant (repeatable): checks, records:read, records:write, subjects:write, "
            "subjects:reveal, erasure, admin.",
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Create an API key; prints its token as the last word. The token is shown once."""
    with run_command(), open_from_env() as vault:
        info, token = vault.apikeys.create(name, scope)
        data = {**info.as_dict(), "token": token.get_secret_value()}
        err.print("The token is shown once and cannot be recovered: store it now.", markup=False)
        scopes = ", ".join(data["scopes"])
        emit(
            data,
            as_json,
            lambda: out.print(
                f"Created API key {info.key_id} ({scopes}): {token.get_secret_value()}", markup=False
            ),
        )


@apikeys_app.command("list")
def apikeys_list(
    active: Annotated[bool, typer.Option("--active", help="Only keys that are not revoked.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List API keys (ids, names, scopes, last use; never tokens)."""
    with run_command(), open_from_env() as vault:
        data = [info.as_dict() for info in vault.apikeys.list(include_revoked=not active)]

        def render() -> None:
            table = Table("key id", "name", "scopes", "created", "last used", "status")
            for row in data:
                table.add_row(
                    row["key_id"],
                    row["name"],
                    " ".join(row["scopes"]),
                    row["created_at"],
                    row["last_used_at"] or "never",
                    "active" if row["active"] else f"revoked {row['revoked_at']}",
                )
            out.print(table)

        emit(data, as_json, render)


@apikeys_app.command("revoke")
def apikeys_revoke(key_id: str, as_json: JsonOpt = False) -> None:
    """Revoke an API key for good: requests with its token are refused from now on."""
    with run_command(), open_from_env() as vault:
        data = vault.apikeys.revoke(key_id).as_dict()
        emit(data, as_json, lambda: out.print(f"Revoked API key {key_id}", markup=False))


# ---------------------------------------------------------------------------------------------
# audit log


@audit_app.command("verify")
def audit_verify(as_json: JsonOpt = False) -> None:
    """Verify the hash chain and its signed checkpoints; exit 9 when a link is broken."""
    with run_command(), open_from_env() as vault:
        report = vault.audit.verify()
        data = report.as_dict()

        def render() -> None:
            if report.ok:
                out.print(
                    f"Audit log intact: {report.entries} entries up to seq {report.last_seq}, "
                    f"{report.checkpoints} signed checkpoints verified",
                    markup=False,
                )
            else:
                out.print(
                    f"Audit log BROKEN at seq {report.first_broken_seq}: {report.reason} "
                    f"({report.entries} entries verified before it)",
                    markup=False,
                )

        emit(data, as_json, render)
    if not report.ok:
        raise typer.Exit(int(ExitCode.AUDIT_BROKEN))


@audit_app.command("list")
def audit_list(
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. subject.reveal.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only this actor id (an API key id, a user).")] = None,
    target: Annotated[str | None, typer.Option(help="Only entries naming this target id.")] = None,
    after: Annotated[int, typer.Option(min=0, help="Continue after this sequence number.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List audit entries in sequence order (ids, codes and counts; never PII)."""
    with run_command(), open_from_env() as vault:
        records = vault.audit.query(action=action, actor_id=actor, target=target, after_seq=after, limit=limit)
        data = [record.as_dict() for record in records]

        def render() -> None:
            table = Table("seq", "at", "actor", "action", "targets", "outcome", "purpose")
            for row in data:
                table.add_row(
                    str(row["seq"]),
                    row["at"],
                    f"{row['actor_kind']}:{row['actor_id']}",
                    row["action"],
                    " ".join(row["targets"]),
                    row["outcome"],
                    row["purpose"] or "",
                )
            out.print(table)

        emit(data, as_json, render)


@audit_app.command("checkpoint")
def audit_checkpoint(as_json: JsonOpt = False) -> None:
    """Sign a checkpoint of the audit chain's head now."""
    with run_command(), open_from_env() as vault:
        checkpoint = vault.audit.checkpoint()
        data = checkpoint.as_dict()
        emit(
            data,
            as_json,
            lambda: out.print(f"Signed checkpoint at seq {checkpoint.seq} with {checkpoint.key_id}", markup=False),
        )


@audit_app.command("prune")
def audit_prune(
    older_than_days: Annotated[
        int | None,
        typer.Option(min=1, help="Retention in days (default: PSEUDOVAULT_AUDIT_RETENTION_DAYS, 730)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete audit entries older than the retention period; the rest still verifies."""
    from datetime import timedelta

    with run_command():
        days = older_than_days or load_settings().audit_retention_days
        with open_from_env() as vault:
            before = vault.clock.now() - timedelta(days=days)
            deleted = vault.audit.prune(before)
            if deleted:
                vault.audit.append("audit.prune", detail={"deleted": deleted, "retention_days": days})
            data = {"deleted": deleted, "before": before.isoformat(), "retention_days": days}
        emit(data, as_json, lambda: out.print(f"Deleted {deleted} audit entries older than {days} days"))


# ---------------------------------------------------------------------------------------------
# retention, holds, erasure, receipts, rights, separate storage (vault.retention.cli, which uses
# the helpers above: imported last on purpose)

from pseudovault.vault.retention.cli import register as _register_retention  # noqa: E402

_register_retention(app, subjects_app, sys.modules[__name__])


def main() -> None:
    app()


if __name__ == "__main__":
    main()
