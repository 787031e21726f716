"""apikeys: API keys of the HTTP API."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from pseudovault.api.cli._base import JsonOpt, apikeys_app, emit, err, open_from_env, out, parse_time, run_command
from pseudovault.vault.apikeys import MAX_GRACE, MAX_LIFETIME
from pseudovault.vault.errors import InvalidInputError


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
    expires_in_days: Annotated[int | None, typer.Option(
        "--expires-in-days", min=1, max=MAX_LIFETIME.days, help="The key stops authenticating after this many days.")] = None,
    expires_at: Annotated[str | None, typer.Option(
        "--expires-at", help="The key stops authenticating at this time (ISO 8601; UTC without an offset).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key; prints its token as the last word. The token is shown once. Without
    --expires-in-days or --expires-at it does not expire (revoke it to end it)."""
    with run_command(), open_from_env() as vault:
        if expires_in_days is not None and expires_at is not None:
            raise InvalidInputError("--expires-at", "give --expires-in-days or --expires-at, not both")
        until = parse_time(expires_at, "--expires-at")
        if expires_in_days is not None:
            until = vault.clock.now() + timedelta(days=expires_in_days)
        info, token = vault.apikeys.create(name, scope, expires_at=until)
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
    active: Annotated[bool, typer.Option("--active", help="Only keys that authenticate: not revoked, not expired.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List API keys (ids, names, scopes, last use, expiry; never tokens)."""
    with run_command(), open_from_env() as vault:
        now = vault.clock.now()
        infos = [info for info in vault.apikeys.list(include_revoked=not active) if not active or info.usable_at(now)]
        data = [{**info.as_dict(), "expired": info.active and not info.usable_at(now)} for info in infos]

        def render() -> None:
            table = Table("key id", "name", "scopes", "created", "last used", "expires", "rotated", "status")
            for row in data:
                status = "expired" if row["expired"] else "active" if row["active"] else f"revoked {row['revoked_at']}"
                table.add_row(
                    row["key_id"],
                    row["name"],
                    " ".join(row["scopes"]),
                    row["created_at"],
                    row["last_used_at"] or "never",
                    row["expires_at"] or "never",
                    row["rotated_at"] or "never",
                    status,
                )
            out.print(table)

        emit(data, as_json, render)


@apikeys_app.command("rotate")
def apikeys_rotate(
    key_id: str,
    grace_hours: Annotated[float, typer.Option(
        "--grace-hours", min=0, max=MAX_GRACE.days * 24,
        help="How long the token it replaces stays valid, for the service to switch over (0: refused at once).")] = 24,
    as_json: JsonOpt = False,
) -> None:
    """A new token for the key (same id, name, scopes and expiry); prints it as the last word. The
    token it replaces stays valid for --grace-hours."""
    with run_command(), open_from_env() as vault:
        info, token = vault.apikeys.rotate(key_id, grace=timedelta(hours=grace_hours))
        data = {**info.as_dict(), "token": token.get_secret_value()}
        err.print("The token is shown once and cannot be recovered: store it now.", markup=False)
        until = data["previous_valid_until"] or "now"
        emit(
            data,
            as_json,
            lambda: out.print(
                f"Rotated API key {info.key_id}; the previous token is refused from {until}: "
                f"{token.get_secret_value()}",
                markup=False,
            ),
        )


@apikeys_app.command("revoke")
def apikeys_revoke(key_id: str, as_json: JsonOpt = False) -> None:
    """Revoke an API key for good: requests with its token are refused from now on."""
    with run_command(), open_from_env() as vault:
        data = vault.apikeys.revoke(key_id).as_dict()
        emit(data, as_json, lambda: out.print(f"Revoked API key {key_id}", markup=False))
