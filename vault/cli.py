"""The ``pseudovault`` command: a thin shell over the vault, like the HTTP API.

Every command opens the vault, does one unit of work, and closes it. Errors are one line on
standard error and a non-zero exit code, never a traceback. Commands that print data take
``--json``. Values given with ``--field`` appear in the shell's history and the process list;
``--fields-json -`` reads them from standard input instead.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from keys.errors import DecryptionError, KeyNotFoundError, KeyringError, KeysError
from vault.config import Settings
from vault.errors import (
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
    from vault.bootstrap import open_vault

    from vault.audit import Actor, acting_as

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
        text = sys.stdin.read() if fields_json == "-" else open(fields_json, encoding="utf-8").read()
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
    from vault.bootstrap import init_vault
    from vault.config import redact_url

    with run_command():
        settings = load_settings()
        result = init_vault(settings, _prompt_passphrase)
        try:
            data = {
                "created": result.created,
                "home": str(settings.home_dir),
                "keyring": str(settings.keyring_path),
                "data_store": redact_url(settings.resolved_data_url),
                "key_store": redact_url(settings.resolved_keys_url),
            }
        finally:
            result.vault.close()

        def render() -> None:
            verb = "Initialised" if result.created else "Already initialised:"
            out.print(f"{verb} vault in {data['home']}")
            out.print(f"  keyring     {data['keyring']}")
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
    as_json: JsonOpt = False,
) -> None:
    """Create a subject; prints the new subject id as the last word."""
    with run_command():
        fields = _parse_fields(field, fields_json)
        if not fields:
            raise InvalidInputError("--field", "at least one field is required")
        with open_from_env() as vault:
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
