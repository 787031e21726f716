"""The ``pseudovault`` command: an interface over the domain, beside the HTTP API.

One module per command group, each adding its commands to the groups of :mod:`._base` (exit
codes, error mapping, output, opening the vault): ``core`` (init, status), ``subjects``, ``keys``,
``records`` (records, check), ``apikeys``, ``audit``, ``retention`` (retention, holds, subjects
categorize/event), ``rights`` (erasure, receipts, rights, separated), ``webhooks`` and ``serve``.
"""

from __future__ import annotations

import sys

from pseudovault.api.cli import apikeys, audit, core, keys, records, retention, rights, serve, subjects, webhooks
from pseudovault.api.cli._base import ExitCode, app

__all__ = ["app", "main", "ExitCode"]

# imported for the commands they add to the app
_GROUPS = (core, subjects, keys, records, apikeys, audit, retention, rights, serve, webhooks)


def main(argv: list[str] | None = None) -> None:
    """Run the command. A usage error (an unknown command or option, a missing or malformed
    argument) is one line on standard error and exit code 2, like every other error's one line."""
    try:
        result = app(args=argv, prog_name="pseudovault", standalone_mode=False)
    except Exception as error:
        # the parser's exceptions by name: Typer raises Click's, or those of the copy of Click it
        # carries (Typer 0.22 and later), with the same names and attributes
        kinds = {kind.__name__ for kind in type(error).__mro__}
        if "UsageError" in kinds:
            context = getattr(error, "ctx", None)
            command = getattr(context, "command_path", None) or "pseudovault"
            print(f"error: {error.format_message()} (see '{command} --help')", file=sys.stderr)  # type: ignore[attr-defined]
            sys.exit(ExitCode.USAGE)
        if "Abort" in kinds:
            print("Aborted.", file=sys.stderr)
            sys.exit(ExitCode.ERROR)
        if "ClickException" in kinds:
            print(f"error: {error.format_message()}", file=sys.stderr)  # type: ignore[attr-defined]
            sys.exit(getattr(error, "exit_code", ExitCode.ERROR))
        raise
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
