"""The retention commands of ``pseudovault``: ``retention`` (policies, due dates, the sweeper,
reports, reviews), ``holds``, and ``subjects event`` / ``subjects categorize`` (``subjects add
--category`` is in api.cli.subjects). The data-subject side (erasure, receipts, rights, separate
storage) is in api.cli.rights.

A thin shell over vault.retention, like every command group (the helpers of api.cli._base: one
unit of work per command, one-line errors with exit codes, ``--json``); importing the module adds
its groups to the main app.

Categories on the command line: ``--category CODE`` (every field of the subject) or
``--category CODE:FIELD,FIELD`` (those fields); aliases work (``--category member``)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from pseudovault.api.cli._base import (
    ExitCode,
    JsonOpt,
    app,
    cli_error,
    emit,
    err,
    load_settings,
    open_from_env,
    out,
    parse_time,
    run_command,
    subjects_app,
)
from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.retention.service import parse_category_specs
from pseudovault.vault.retention.views import DestructiveEventError

__all__ = []


retention_app = typer.Typer(help="Retention: policies, due dates, the sweeper, reports, reviews.", no_args_is_help=True)


holds_app = typer.Typer(help="Legal holds: they stop shredding, deletion and expiry until released.", no_args_is_help=True)


CategoryOpt = Annotated[
    list[str],
    typer.Option("--category", "-c", help="CODE (every field) or CODE:FIELD,FIELD (repeatable), e.g. member."),
]


AtOpt = Annotated[str | None, typer.Option("--at", help="When it happened (ISO 8601; default now).")]
DryRunEventOpt = Annotated[bool, typer.Option("--dry-run", help="Show what it would do; record nothing.")]
YesEventOpt = Annotated[bool, typer.Option("--yes", "-y", help="Record it even if it destroys data at once.")]


def subjects_categorize(subject_id: str, category: CategoryOpt = [], as_json: JsonOpt = False) -> None:  # noqa: B006
    """Give a subject's fields data categories (adds to those it has)."""
    with run_command():
        categories = parse_category_specs(category)
        with open_from_env() as vault:
            items = vault.retention.categorize(subject_id, categories)
            data = {"subject_id": subject_id, "categories": vault.retention.categories_of(subject_id),
                    "items": [i.as_dict() for i in items]}
        emit(data, as_json, lambda: _render_items(data["items"]))


def subjects_event(
    subject_id: str,
    event: Annotated[str, typer.Option("--event", help="collected, withdrawal, contract_end, payment, "
                                                       "complaint_closed, last_activity or fraud_confirmed.")],
    at: AtOpt = None,
    dry_run: DryRunEventOpt = False,
    yes: YesEventOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Record a trigger event of a subject (a withdrawal moves data kept under another law to
    separate storage at once). An event that makes data due for destruction at once (a backdated
    one) shows what it destroys and needs --yes (or a yes at the prompt); --dry-run only shows."""
    _record_event("subject", subject_id, event, at, dry_run=dry_run, yes=yes, as_json=as_json)


def _record_event(kind: str, target_id: str, event: str, at: str | None, *, dry_run: bool, yes: bool,
                  as_json: bool) -> None:
    with run_command():
        when = parse_time(at, "--at")
        with open_from_env() as vault:
            if dry_run:
                shown = vault.retention.preview_event(kind, target_id, event, at=when).as_dict()
                emit(shown, as_json, lambda: _render_preview(shown, out))
                return
            try:  # one transaction; the refusal carries the preview
                items = vault.retention.record_event(kind, target_id, event, at=when, confirm=yes)
            except DestructiveEventError as refused:
                _render_preview(refused.preview.as_dict(), err)
                destroyed = [e for e in refused.preview.due_now if e.effect == "destroy"]
                if not sys.stdin.isatty():
                    raise InvalidInputError(
                        "--yes", f"the event makes {len(destroyed)} item(s) due for destruction at once (listed above): "
                        "nothing was recorded; record it with --yes"
                    ) from None
                if not typer.confirm("Record the event and destroy this data?", default=False):
                    cli_error("not recorded", ExitCode.ERROR)
                items = vault.retention.record_event(kind, target_id, event, at=when, confirm=True)
        key = "subject_id" if kind == "subject" else "record_id"
        data = {key: target_id, "event": event, "items": [i.as_dict() for i in items]}
        emit(data if kind == "subject" else data["items"], as_json, lambda: _render_items(data["items"]))


def _render_preview(data: Any, console: Any) -> None:
    # one line an item (not a table: a narrow terminal would cut the ids and categories)
    console.print(f"{data['event']} at {data['at']} makes {len(data['due_now'])} item(s) due at once:")
    for e in data["due_now"]:
        console.print(f"  {e['effect']}: {e['category']} ({e['kind']} {e['target_id']}, item {e['item_id']}, "
                      f"{e['action']}, due {e['due_at']})")
    console.print("It destroys data at once." if data["destroys"] else "It destroys nothing at once.")


def _render_items(items: Any) -> None:
    table = Table("item", "kind", "target", "category", "action", "due", "state", "outcome")
    for i in items:
        table.add_row(str(i["item_id"]), i["kind"], i["target_id"], i["category"], i["action"], i["due_at"] or "-",
                      i["state"], i["outcome"] or "")
    out.print(table)


@retention_app.command("policies")
def retention_policies(
    diff: Annotated[str | None, typer.Option("--diff", help="Show what this policy file would change (dry run).")] = None,
    template: Annotated[bool, typer.Option("--template", help="Print the shipped presets file to start from.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The retention policies in force (with --diff FILE: what switching to FILE would change)."""
    from pseudovault.vault.retention.policy_file import PRESETS_PATH, load_policies

    with run_command():
        if template:
            sys.stdout.write(PRESETS_PATH.read_text(encoding="utf-8"))
            return
        if diff is not None:
            candidate = load_policies(diff)
            with open_from_env() as vault:
                result = vault.retention.diff(candidate).as_dict()
            emit(result, as_json, lambda: _render_diff(result))
            return
        settings = load_settings()
        policies = load_policies(settings.retention_policies)
        data = policies.as_dict()

        def render() -> None:
            out.print(f"Policies in force: {data['source']} (time zone {data['timezone']}, {data['fingerprint'][:12]})")
            table = Table("category", "period", "from", "action", "withdrawal", "erasure", "enabled", "legal basis")
            for p in data["policies"]:
                period = p["period"] or f"review every {p['review_interval']}"
                if p["restricted_period"]:
                    period += f" (+{p['restricted_period']} separated)"
                table.add_row(p["category"], period, p["trigger"], p["action"], p["on_withdrawal"], p["on_erasure"],
                              "yes" if p["enabled"] else "no", p["basis"])
            out.print(table)

        emit(data, as_json, render)


def _render_diff(result: dict[str, Any]) -> None:
    verb = "Applied" if result["applied"] else "Would change"
    out.print(f"{verb}: {len(result['changes'])} due date(s); policies changed: "
              f"{', '.join(result['policies_changed']) or 'none'}")
    table = Table("category", "earlier", "later", "scheduled", "unscheduled", "action", "due at once")
    for category, counts in sorted(result["summary"].items()):
        table.add_row(category, *(str(counts[k]) for k in ("earlier", "later", "scheduled", "unscheduled", "action",
                                                              "due_now")))
    out.print(table)


@retention_app.command("apply-policies")
def retention_apply_policies(
    file: Annotated[str | None, typer.Argument(help="The policy file in force (default: the configured one).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the changes; change nothing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Recompute every stored due date under the policies in force (audited)."""
    from pseudovault.vault.retention.policy_file import load_policies

    with run_command():
        settings = load_settings()
        in_force = load_policies(settings.retention_policies)
        if file is not None:
            candidate = load_policies(file)
            if candidate.fingerprint != in_force.fingerprint and not dry_run:
                raise InvalidInputError(
                    "FILE",
                    "is not the policy file in force: set PSEUDOVAULT_RETENTION_POLICIES to it first "
                    "(or use --dry-run to preview it)",
                )
        else:
            candidate = in_force
        with open_from_env() as vault:
            result = (vault.retention.diff(candidate) if dry_run else vault.retention.apply_policies()).as_dict()
        emit(result, as_json, lambda: _render_diff(result))


@retention_app.command("sweep")
def retention_sweep(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what is due; change nothing.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 500,
    as_json: JsonOpt = False,
) -> None:
    """Apply the due retention actions in batches (safe to run in several processes at once;
    interrupted, run it again to finish)."""
    with run_command(), open_from_env() as vault:
        with Progress(
            TextColumn("sweeping"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=as_json or dry_run or not err.is_terminal,
        ) as progress:
            task = progress.add_task("sweep", total=None)

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            report = vault.retention.sweeper.sweep(batch_size=batch_size, dry_run=dry_run, progress=on_progress)
        data = report.as_dict()

        def render() -> None:
            verb = "Due" if dry_run else "Applied"
            out.print(f"{verb}: {data['due'] if dry_run else data['applied']} item(s); held: {data['held']}; "
                      f"failed: {data['failed']}")
            if data["leased"]:
                out.print(f"{data['leased']} item(s) are claimed by another run (under way, or stopped) "
                          f"until {data['leased_until']}; a sweep after that takes them over")
            table = Table("category", "outcome", "items")
            for category, counts in data["by_category"].items():
                for outcome, n in counts.items():
                    table.add_row(category, outcome, str(n))
            out.print(table)

        emit(data, as_json, render)


@retention_app.command("report")
def retention_report(
    days: Annotated[int, typer.Option("--days", min=0, max=36_600, help="Look this many days ahead.")] = 30,
    as_json: JsonOpt = False,
) -> None:
    """What falls due in the next N days, per category (overdue and held items included)."""
    with run_command(), open_from_env() as vault:
        data = vault.retention.report(days)

        def render() -> None:
            out.print(f"Due by {data['until']}: {data['total']} item(s), {data['held']} held")
            table = Table("category", "action", "items", "overdue", "held", "by ceiling", "first due", "last due")
            for g in data["categories"]:
                table.add_row(g["category"], g["action"], str(g["items"]), str(g["overdue"]), str(g["held"]),
                              str(g["by_ceiling"]), g["first_due"], g["last_due"])
            out.print(table)
            for category, count in data["reviews_waiting"].items():
                out.print(f"reviews waiting: {category}: {count}")
            for g in data["awaiting_event"]:
                ceiling = f"goes {g['ceiling']} after collection" if g["ceiling"] else "no ceiling: may wait for ever"
                out.print(f"awaiting {g['trigger']}: {g['category']}: {g['items']} item(s), oldest collected "
                          f"{g['oldest_days']} day(s) ago; {ceiling}")

        emit(data, as_json, render)


@retention_app.command("notice")
def retention_notice(
    lang: Annotated[str, typer.Option("--lang", help="ko or en.")] = "ko",
    fmt: Annotated[str, typer.Option("--format", help="md (Markdown) or html.")] = "md",
) -> None:
    """The retention section of a privacy policy, written from the policies in force."""
    from pseudovault.vault.retention.notice import notice
    from pseudovault.vault.retention.policy_file import load_policies

    with run_command():
        sys.stdout.write(notice(load_policies(load_settings().retention_policies), lang=lang, fmt=fmt))


@retention_app.command("items")
def retention_items(target_id: str, as_json: JsonOpt = False) -> None:
    """The stored due dates of a subject (with its separated data) or a record."""
    with run_command(), open_from_env() as vault:
        data = [i.as_dict() for i in vault.retention.items(target_id)]
        emit(data, as_json, lambda: _render_items(data))


@retention_app.command("event")
def retention_event(
    record: Annotated[str, typer.Option("--record", help="The record the event happened to.")],
    event: Annotated[str, typer.Option("--event", help="e.g. fraud_confirmed, withdrawal.")],
    at: AtOpt = None,
    dry_run: DryRunEventOpt = False,
    yes: YesEventOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Record a trigger event of a record (subjects: 'subjects event'); one that makes the record
    due for deletion at once needs --yes; --dry-run only shows."""
    _record_event("record", record, event, at, dry_run=dry_run, yes=yes, as_json=as_json)


@retention_app.command("review")
def retention_review(
    item_id: int,
    keep: Annotated[bool, typer.Option("--keep", help="Keep it until the next review.")] = False,
    destroy: Annotated[bool, typer.Option("--destroy", help="Destroy it now.")] = False,
    reason_code: Annotated[str, typer.Option(help="Why (a code).")] = "reviewed",
    as_json: JsonOpt = False,
) -> None:
    """Decide a review that fell due: --keep or --destroy."""
    with run_command():
        if keep == destroy:
            raise InvalidInputError("--keep/--destroy", "give exactly one")
        with open_from_env() as vault:
            view = vault.retention.complete_review(item_id, decision="keep" if keep else "destroy",
                                                   reason_code=reason_code)
        data = view.as_dict()
        emit(data, as_json, lambda: out.print(f"Item {item_id}: {data['state']} (due {data['due_at']})"))


@holds_app.command("add")
def holds_add(
    reason_code: Annotated[str, typer.Option("--reason-code", help="e.g. investigation, dispute, litigation.")],
    reference: Annotated[str, typer.Option("--reference", help="Case or ticket id (never personal data).")],
    subject: Annotated[str | None, typer.Option("--subject", help="Hold this subject.")] = None,
    record: Annotated[str | None, typer.Option("--record", help="Hold this record.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Lapses by itself then (ISO 8601).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Place a legal hold; prints the hold id as the last word."""
    with run_command():
        if (subject is None) == (record is None):
            raise InvalidInputError("--subject/--record", "give exactly one target")
        kind, target = ("subject", subject) if subject is not None else ("record", record)
        assert target is not None
        lapse = parse_time(until, "--until")
        with open_from_env() as vault:
            view = vault.holds.place(kind, target, reason_code=reason_code, reference=reference, until=lapse)
        data = view.as_dict()
        emit(data, as_json, lambda: out.print(f"Placed legal hold {data['hold_id']}"))


@holds_app.command("release")
def holds_release(
    hold_id: str,
    reason_code: Annotated[str, typer.Option("--reason-code")] = "released",
    as_json: JsonOpt = False,
) -> None:
    """Release a legal hold (what it held becomes due again at the next sweep)."""
    with run_command(), open_from_env() as vault:
        data = vault.holds.release(hold_id, reason_code=reason_code).as_dict()
        emit(data, as_json, lambda: out.print(f"Released legal hold {hold_id}"))


@holds_app.command("show")
def holds_show(hold_id: str, as_json: JsonOpt = False) -> None:
    """One legal hold: target, reason, reference, who placed it, until when, released or not."""
    with run_command(), open_from_env() as vault:
        data = vault.holds.get(hold_id).as_dict()

        def render() -> None:
            table = Table("", "")
            for key, value in data.items():
                table.add_row(key, "-" if value is None else str(value))
            out.print(table)

        emit(data, as_json, render)


@holds_app.command("list")
def holds_list(
    all_holds: Annotated[bool, typer.Option("--all", help="Released and lapsed holds too.")] = False,
    target: Annotated[str | None, typer.Option("--target", help="Only the holds on this subject or record.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Legal holds, newest first (active ones unless --all)."""
    with run_command(), open_from_env() as vault:
        data = [h.as_dict() for h in vault.holds.list(active_only=not all_holds, target_id=target, limit=1000)]

        def render() -> None:
            table = Table("hold", "target", "reason", "reference", "placed", "until", "active")
            for h in data:
                table.add_row(h["hold_id"], f"{h['target_kind']} {h['target_id']}", h["reason_code"], h["reference"],
                              h["placed_at"], h["until"] or "-", "yes" if h["active"] else "no")
            out.print(table)

        emit(data, as_json, render)


subjects_app.command("categorize")(subjects_categorize)


subjects_app.command("event")(subjects_event)


app.add_typer(retention_app, name="retention")


app.add_typer(holds_app, name="holds")








