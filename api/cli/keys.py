"""keys: root key and epoch rotation, rewrap, maintenance, lookup keys."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from pseudovault.api.cli._base import ExitCode, JsonOpt, cli_error, emit, err, keys_app, open_from_env, out, run_command
from pseudovault.vault.crypto.lookup import ADVISED_ENABLED_VERSIONS
from pseudovault.vault.errors import (
    InvalidInputError,
)


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
        enabled = vault.lookup.enabled_versions()
        data = {"version": version, "primary": promote, "enabled_versions": enabled}
        emit(
            data,
            as_json,
            lambda: out.print(f"New lookup key version {version}" + (" (primary)" if promote else " (not primary yet)")),
        )
        if enabled > ADVISED_ENABLED_VERSIONS:
            err.print(
                f"warning: {enabled} lookup key versions are enabled, and every check derives its pseudonyms "
                "under each; disable or destroy the versions that nothing depends on alone "
                "('keys list-lookup', 'keys disable-lookup')",
                markup=False,
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
