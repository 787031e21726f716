"""apikeys: API keys of the HTTP API."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from pseudovault.api.cli._base import JsonOpt, apikeys_app, emit, err, open_from_env, out, run_command


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
