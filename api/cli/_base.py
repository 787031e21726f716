"""The CLI's shared parts: exit codes, error mapping, output, settings, opening the vault, and the
command groups every command module adds its commands to.

The ``pseudovault`` command: a thin shell over the vault, like the HTTP API.

Every command opens the vault, does one unit of work, and closes it. Errors are one line on
standard error and a non-zero exit code, never a traceback. Commands that print data take
``--json``. Values given with ``--field`` appear in the shell's history and the process list;
``--fields-json -`` reads them from standard input instead (``--identifiers-json -`` likewise for
the identifiers of ``records add|find`` and ``check``). ``check`` exits 0 whatever the decision:
the decision is its output, not an error.
"""

from __future__ import annotations

import gc
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console, ConsoleDimensions

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

__all__ = [
    "ExitCode",
    "FieldOpt",
    "FieldsJsonOpt",
    "JsonOpt",
    "ReceivedOpt",
    "RequesterOpt",
    "ReferenceOpt",
    "apikeys_app",
    "app",
    "audit_app",
    "cli_error",
    "emit",
    "err",
    "flatten",
    "keys_app",
    "load_settings",
    "open_from_env",
    "out",
    "parse_fields",
    "parse_time",
    "prompt_passphrase",
    "records_app",
    "run_command",
    "subjects_app",
]


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
    CANNOT_LISTEN = 10


#: the width of output that goes to a pipe or a file (no terminal to fit, unless ``COLUMNS`` says):
#: wide enough that tables keep ids and codes whole instead of cutting them at 80 columns
PIPE_WIDTH = 1000


class _Console(Console):
    """A console as wide as its terminal, or :data:`PIPE_WIDTH` when it writes to a pipe or a
    file and ``COLUMNS`` is not set (judged at each print: the streams and environment of a
    process may change after this module is imported)."""

    @property
    def size(self) -> ConsoleDimensions:
        dimensions = super().size
        if not self.is_terminal and not os.environ.get("COLUMNS"):
            return ConsoleDimensions(PIPE_WIDTH, dimensions.height)
        return dimensions

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


def _console(**options: Any) -> Console:
    return _Console(highlight=False, soft_wrap=True, **options)


out = _console()


err = _console(stderr=True)


app = typer.Typer(
    name="pseudovault",
    help="Pseudonymization and fraud-record vault.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from pseudovault import __version__

        out.print(f"pseudovault {__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def _root(
    _version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Pseudonymization and fraud-record vault."""


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

    from pseudovault.vault.store.db import connection_failure

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
        # Driver messages can quote SQL parameters: never print them (nor a failed connection's,
        # which names hosts, users and databases): say which failure it was
        why = connection_failure(exc)
        if why == "no_database":
            return (
                "the database named in the store URL does not exist on its server; create it (e.g. createdb) and "
                "run again",
                ExitCode.NOT_INITIALISED,
            )
        if why == "credentials":
            return "the store's server refused the credentials in the store URL", ExitCode.UNAVAILABLE
        if why == "unreachable":
            return (
                "the store's server cannot be reached (not running, or another host or port); check the store URL",
                ExitCode.UNAVAILABLE,
            )
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


def prompt_passphrase(confirm: bool) -> str:
    if not sys.stdin.isatty():
        raise NotInitialisedError("no passphrase: set PSEUDOVAULT_PASSPHRASE (standard input is not a terminal)")
    if confirm:  # a new passphrase: asked again while too short (three tries), then confirmed
        from pseudovault.vault.bootstrap import MIN_PASSPHRASE_LENGTH

        for _attempt in range(3):
            value = str(typer.prompt("New keyring passphrase", hide_input=True))
            if len(value) >= MIN_PASSPHRASE_LENGTH:
                again = str(typer.prompt("Repeat it", hide_input=True))
                if again == value:
                    return value
                err.print("The two entries differ; try again.", markup=False)
                continue
            err.print(f"A passphrase has at least {MIN_PASSPHRASE_LENGTH} characters; try again.", markup=False)
        raise InvalidInputError("passphrase", "no acceptable passphrase after three tries")
    return str(typer.prompt("Keyring passphrase", hide_input=True))


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

    vault = open_vault(load_settings(), prompt_passphrase)
    # what opening built (modules, the vault and its caches) lives as long as the command: moved
    # out of the collector's reach, as the API server does after its startup, a long command (a
    # sweep of a backlog, an import) no longer walks it in every full collection (~70 ms each,
    # about a fifth of a SQLite sweep's time)
    gc.freeze()
    try:
        with acting_as(Actor("cli", _cli_user())):
            yield vault
    finally:
        vault.close()


def _cli_user() -> str:
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


def parse_fields(pairs: list[str], fields_json: str | None) -> dict[str, str]:
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


FieldOpt = Annotated[list[str], typer.Option("--field", "-f", help="NAME=VALUE (repeatable).")]


FieldsJsonOpt = Annotated[
    str | None, typer.Option("--fields-json", help="Read fields from a JSON object in FILE, or '-' for stdin.")
]


ReferenceOpt = Annotated[str | None, typer.Option("--reference", help="Case or ticket id (never personal data).")]


ReceivedOpt = Annotated[str | None, typer.Option("--received-at", help="When the request came in (ISO 8601).")]


RequesterOpt = Annotated[str, typer.Option("--requester", help="Who made it: self, guardian (a child under 14) or agent.")]


def parse_time(text: str | None, option: str) -> Any:
    """An ISO 8601 timestamp; one without a UTC offset is taken as UTC."""
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

def flatten(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(data, list) and data and all(isinstance(x, dict) for x in data):
        for i, item in enumerate(data):
            yield from flatten(item, f"{prefix}[{i}]")
    else:
        yield prefix, data
