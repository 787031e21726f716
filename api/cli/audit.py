"""audit: the audit log."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pseudovault.api.cli._base import (
    ExitCode,
    JsonOpt,
    audit_app,
    cli_error,
    emit,
    load_settings,
    open_from_env,
    out,
    run_command,
)
from pseudovault.vault.audit.external import CheckpointFile
from pseudovault.vault.errors import InvalidInputError


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
                    f"{report.external_checkpoints} lines of the checkpoint file verified",
                    markup=False,
                )
                if report.restore_acknowledged_at is not None:
                    out.print(
                        f"A restore of the data store was acknowledged at {report.restore_acknowledged_at.isoformat()}; "
                        f"{report.superseded_lines} signed heads written before it are superseded",
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


@audit_app.command("acknowledge-restore")
def audit_acknowledge_restore(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """After restoring the data store from a backup: record the restore, so that the log verifies
    again. Refused (exit 8) when the log verifies already or the restored chain is itself broken."""
    with run_command():
        if not yes:
            if not sys.stdin.isatty():
                raise InvalidInputError("--yes", "acknowledging a restore is permanent: confirm with --yes when not interactive")
            if not typer.confirm(
                "Record, permanently, that the data store was restored and the entries after its backup are gone?",
                default=False,
            ):
                cli_error("not acknowledged", ExitCode.ERROR)
        with open_from_env() as vault:
            record = vault.audit.acknowledge_restore()
        emit(
            record.as_dict(),
            as_json,
            lambda: out.print(
                f"Restore acknowledged at seq {record.seq}: the log ended at seq {record.log_ended_at} and had reached "
                f"seq {record.had_reached}; {record.superseded_lines} signed heads of the checkpoint file superseded",
                markup=False,
            ),
        )


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
