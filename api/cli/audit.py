"""audit: the audit log."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pseudovault.api.cli._base import ExitCode, JsonOpt, audit_app, emit, load_settings, open_from_env, out, run_command
from pseudovault.vault.audit.external import CheckpointFile


@audit_app.command("verify")
def audit_verify(
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            exists=True,
            dir_okay=False,
            readable=True,
            help="A copy of the audit checkpoint file (signed heads kept outside the data store) to check the log "
            "against; default: PSEUDOVAULT_AUDIT_CHECKPOINT_FILE.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify the hash chain, its signed checkpoints and head, and the signed heads kept outside the
    data store; exit 9 when a link is broken."""
    with run_command(), open_from_env() as vault:
        report = vault.audit.verify(against=CheckpointFile(against) if against is not None else None)
        data = report.as_dict()

        def render() -> None:
            if report.ok:
                out.print(
                    f"Audit log intact: {report.entries} entries up to seq {report.last_seq}, "
                    f"{report.checkpoints} signed checkpoints and "
                    f"{report.external_checkpoints} signed heads from the checkpoint file verified",
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
        typer.Option(min=365, help="Retention in days, at least 365 (default: PSEUDOVAULT_AUDIT_RETENTION_DAYS, 730)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete audit entries older than the retention period; the rest still verifies."""
    with run_command():
        days = older_than_days or load_settings().audit_retention_days
        with open_from_env() as vault:
            before = vault.clock.now() - timedelta(days=days)
            deleted = vault.audit.prune(before)
            if deleted:
                vault.audit.append("audit.prune", detail={"deleted": deleted, "retention_days": days})
            data = {"deleted": deleted, "before": before.isoformat(), "retention_days": days}
        emit(data, as_json, lambda: out.print(f"Deleted {deleted} audit entries older than {days} days"))
