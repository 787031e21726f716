"""The ``pseudovault`` command: an interface over the domain, beside the HTTP API.

One module per command group, each adding its commands to the groups of :mod:`._base` (exit
codes, error mapping, output, opening the vault): ``core`` (init, status), ``subjects``, ``keys``,
``records`` (records, check), ``apikeys``, ``audit``, ``retention`` (retention, holds, subjects
categorize/event), ``rights`` (erasure, receipts, rights, separated), ``webhooks`` and ``serve``.
"""

from __future__ import annotations

from pseudovault.api.cli import apikeys, audit, core, keys, records, retention, rights, serve, subjects, webhooks
from pseudovault.api.cli._base import ExitCode, app

__all__ = ["app", "main", "ExitCode"]

# imported for the commands they add to the app
_GROUPS = (core, subjects, keys, records, apikeys, audit, retention, rights, serve, webhooks)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
