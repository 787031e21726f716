"""The ``webhooks`` commands of ``pseudovault``: deliver the signed-webhook outbox (for cron, when
the server's own delivery is off) and list the deliveries (vault.retention.webhooks)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from pseudovault.api.cli._base import JsonOpt, app, emit, open_from_env, out, run_command
from pseudovault.vault.errors import InvalidInputError

__all__ = []


webhooks_app = typer.Typer(help="Signed webhooks: deliver the outbox, list deliveries.", no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")


@webhooks_app.command("deliver")
def webhooks_deliver(as_json: JsonOpt = False) -> None:
    """Send the due deliveries once (for cron, when the server's own delivery is off)."""
    with run_command(), open_from_env() as vault:
        if vault.webhook_config is None:
            raise InvalidInputError("PSEUDOVAULT_WEBHOOK_URL", "no webhook endpoint is configured")
        data = vault.webhooks.deliver_due(limit=1000).as_dict()
        emit(data, as_json, lambda: out.print(
            f"Delivered {data['delivered']}, to retry {data['retried']}, failed {data['failed']}"))


@webhooks_app.command("list")
def webhooks_list(
    state: Annotated[str | None, typer.Option("--state", help="pending, delivered or failed.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The webhook deliveries, newest first."""
    with run_command(), open_from_env() as vault:
        data = [d.as_dict() for d in vault.webhooks.deliveries(state=state, limit=1000)]

        def render() -> None:
            table = Table("delivery", "event", "subject", "state", "attempts", "last status")
            for d in data:
                table.add_row(d["delivery_id"], d["event"], d["subject_id"], d["state"], str(d["attempts"]),
                              str(d["last_status"] or "-"))
            out.print(table)

        emit(data, as_json, render)
