"""The retention commands of ``pseudovault``: ``retention``, ``holds``, ``erasure``, ``receipts``,
``rights``, ``separated``, and ``subjects event`` / ``subjects categorize`` (``subjects add
--category`` is in api.cli.subjects).

A thin shell over vault.retention, like every command group (the helpers of api.cli._base: one
unit of work per command, one-line errors with exit codes, ``--json``); importing the module adds
its groups to the main app.

Categories on the command line: ``--category CODE`` (every field of the subject) or
``--category CODE:FIELD,FIELD`` (those fields); aliases work (``--category member``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
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
    app,
    emit,
    err,
    load_settings,
    open_from_env,
    out,
    parse_fields,
    parse_time,
    run_command,
    subjects_app,
)
from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.retention.service import parse_category_specs

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


FieldOpt = Annotated[list[str], typer.Option("--field", "-f", help="NAME=VALUE (repeatable).")]


FieldsJsonOpt = Annotated[
    str | None, typer.Option("--fields-json", help="Read fields from a JSON object in FILE, or '-' for stdin.")
]


retention_app = typer.Typer(help="Retention: policies, due dates, the sweeper, reports, reviews.", no_args_is_help=True)


holds_app = typer.Typer(help="Legal holds: they stop shredding, deletion and expiry until released.", no_args_is_help=True)


erasure_app = typer.Typer(help="Erasure requests and their signed receipts.", no_args_is_help=True)


receipts_app = typer.Typer(help="Erasure receipts: verify one, offline or against this vault.", no_args_is_help=True)


rights_app = typer.Typer(help="Data-subject rights: access, correction, restriction, provisions, deadlines.",
                         no_args_is_help=True)


separated_app = typer.Typer(help="Separate storage: data kept under another law (restricted:read).",
                            no_args_is_help=True)


CategoryOpt = Annotated[
    list[str],
    typer.Option("--category", "-c", help="CODE (every field) or CODE:FIELD,FIELD (repeatable), e.g. member."),
]


AtOpt = Annotated[str | None, typer.Option("--at", help="When it happened (ISO 8601; default now).")]


def _write(path: str, data: bytes) -> None:
    target = Path(path)
    target.write_bytes(data)


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
    as_json: JsonOpt = False,
) -> None:
    """Record a trigger event of a subject (a withdrawal moves data kept under another law to
    separate storage at once)."""
    with run_command():
        when = parse_time(at, "--at")
        with open_from_env() as vault:
            items = vault.retention.record_event("subject", subject_id, event, at=when)
        data = {"subject_id": subject_id, "event": event, "items": [i.as_dict() for i in items]}
        emit(data, as_json, lambda: _render_items(data["items"]))


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
    from pseudovault.vault.retention.policies import PRESETS_PATH, load_policies

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
    from pseudovault.vault.retention.policies import load_policies

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
            table = Table("category", "action", "items", "overdue", "held", "first due", "last due")
            for g in data["categories"]:
                table.add_row(g["category"], g["action"], str(g["items"]), str(g["overdue"]), str(g["held"]),
                              g["first_due"], g["last_due"])
            out.print(table)
            for category, count in data["reviews_waiting"].items():
                out.print(f"reviews waiting: {category}: {count}")

        emit(data, as_json, render)


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
    as_json: JsonOpt = False,
) -> None:
    """Record a trigger event of a record (subjects: 'subjects event')."""
    with run_command():
        when = parse_time(at, "--at")
        with open_from_env() as vault:
            data = [i.as_dict() for i in vault.retention.record_event("record", record, event, at=when)]
        emit(data, as_json, lambda: _render_items(data))


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


def _summarise(body: dict[str, Any]) -> list[str]:
    destroyed = body["destroyed"]
    lines = [
        f"Erasure {body['request_id']} of subject {body['subject_id']} at {body['completed_at']}",
        f"  destroyed fields: {', '.join(destroyed['subject_fields']) or '-'}",
    ]
    for entry in destroyed["record_evidence"]:
        lines.append(f"  destroyed text of record {entry['record_id']}: {', '.join(entry['fields'])}")
    for entry in destroyed["records"]:
        lines.append(f"  deleted record {entry['record_id']} ({entry['category']})")
    for entry in body["retained"]:
        what = entry.get("record_id") or entry.get("item_id")
        until = entry.get("retained_until") or (f"review {entry['review_at']}" if entry.get("review_at") else "-")
        lines.append(f"  retained {entry['kind']} {what} ({entry['category']}) until {until}: {entry['legal_basis']}")
    if body["recipients_to_notify"]:
        lines.append(f"  notify: {', '.join(body['recipients_to_notify'])}")
    return lines


@erasure_app.command("request")
def erasure_request(
    subject_id: str,
    request_id: Annotated[str | None, typer.Option("--request-id", help="Idempotency key: the same id gives the same receipt.")] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write the signed receipt to FILE.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Erase a subject: destroy what may be destroyed, keep what a law requires; a signed receipt.

    Without --output the receipt (one line of canonical JSON) is printed on standard output and
    the summary on standard error.
    """
    with run_command():
        with open_from_env() as vault:
            receipt = vault.erasure.request(subject_id, request_id=request_id)
        if output is not None:
            _write(output, receipt.document)
        lines = _summarise(receipt.body) + (["  (an earlier request's receipt)"] if receipt.already else [])
        if as_json:
            sys.stdout.write(json.dumps({"request_id": receipt.request_id, "subject_id": receipt.subject_id,
                                         "already": receipt.already, "output": output,
                                         "receipt": receipt.as_dict()}, indent=2, sort_keys=True) + "\n")
        elif output is not None:
            for line in lines:
                out.print(line, markup=False)
            out.print(f"Receipt written to {output}", markup=False)
        else:
            for line in lines:
                err.print(line, markup=False)
            sys.stdout.write(receipt.document.decode("ascii"))


@erasure_app.command("receipt")
def erasure_receipt(
    subject_id: str,
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write the receipt to FILE.")] = None,
) -> None:
    """The stored receipt of a subject's erasure."""
    with run_command(), open_from_env() as vault:
        receipt = vault.erasure.receipt(subject_id)
        if output is not None:
            _write(output, receipt.document)
            out.print(f"Receipt written to {output}", markup=False)
        else:
            sys.stdout.write(receipt.document.decode("ascii"))


@receipts_app.command("verify")
def receipts_verify(
    file: Annotated[str, typer.Argument(help="The receipt file ('-' for standard input).")],
    public_key: Annotated[str | None, typer.Option("--public-key", help="Pin: the vault's public key (64 hex digits).")] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Do not open the vault even if one is configured.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Verify a signed erasure receipt. Offline it checks the signature with the embedded public
    key (pin it with --public-key); with a vault at hand, also that the key is one of its own.
    Exits 0 when valid, 4 when not."""
    from pseudovault.vault.bootstrap import is_initialised
    from pseudovault.vault.retention.receipts import verify_document

    with run_command():
        document = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        pin = None
        if public_key is not None:
            try:
                pin = bytes.fromhex(public_key)
            except ValueError:
                raise InvalidInputError("--public-key", "expected 64 hex digits") from None
            if len(pin) != 32:
                raise InvalidInputError("--public-key", "expected 64 hex digits")
        settings = load_settings()
        use_vault = not offline and is_initialised(settings) and (settings.passphrase is not None or sys.stdin.isatty())
        if use_vault:
            with open_from_env() as vault:
                check = vault.erasure.verify(document, pin=pin)
        else:
            check = verify_document(document, pin=pin)
        data = check.as_dict()
        if as_json:
            sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        elif check.ok:
            where = "against this vault's keys" if check.vault_checked else "offline, embedded public key"
            out.print(f"valid: receipt {data['request_id']} signed by {check.key_id} ({where}"
                      f"{', pinned' if check.pinned else ''})", markup=False)
        else:
            err.print(f"INVALID: {check.reason}", markup=False)
        if not check.ok:
            raise typer.Exit(int(ExitCode.INVALID))


@separated_app.command("list")
def separated_list(
    subject: Annotated[str | None, typer.Option("--subject", help="Only this subject's.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Data in separate storage (names and dates, no values)."""
    with run_command(), open_from_env() as vault:
        data = [v.as_dict() for v in vault.separate.list(subject, limit=1000)]

        def render() -> None:
            table = Table("item", "subject", "category", "reason", "fields", "due")
            for v in data:
                table.add_row(v["item_id"], v["origin_id"], v["category"], v["reason_code"], ", ".join(v["fields"]),
                              v["due_at"] or "-")
            out.print(table)

        emit(data, as_json, render)


@separated_app.command("read")
def separated_read(
    item_id: str,
    purpose: Annotated[str, typer.Option("--purpose", help="The legal request this answers (audited).")],
    as_json: JsonOpt = False,
) -> None:
    """Decrypt a separated item for a legal request (audited)."""
    with run_command(), open_from_env() as vault:
        data = vault.separate.read(item_id, purpose=purpose)

        def render() -> None:
            table = Table("field", "value")
            for name, value in sorted(data["values"].items()):
                table.add_row(name, value)
            out.print(table)

        emit(data, as_json, render)


@separated_app.command("read-record")
def separated_read_record(
    record_id: str,
    purpose: Annotated[str, typer.Option("--purpose", help="The legal request this answers (audited).")],
    as_json: JsonOpt = False,
) -> None:
    """Decrypt the text of a record in separate storage for a legal request (audited)."""
    with run_command(), open_from_env() as vault:
        data = vault.separate.read_record(record_id, purpose=purpose)
        emit(data, as_json, lambda: out.print(json.dumps(data, indent=2), markup=False))


ReferenceOpt = Annotated[str | None, typer.Option("--reference", help="Case or ticket id (never personal data).")]


ReceivedOpt = Annotated[str | None, typer.Option("--received-at", help="When the request came in (ISO 8601).")]


def _render_requests(data: list[dict[str, Any]]) -> None:
    table = Table("request", "subject", "kind", "state", "received", "due", "overdue")
    for r in data:
        table.add_row(r["request_id"], r["subject_id"], r["kind"], r["state"], r["received_at"], r["due_at"],
                      "OVERDUE" if r["overdue"] else "")
    out.print(table)


@rights_app.command("requests")
def rights_requests(
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open requests past their 10-day deadline.")] = False,
    open_only: Annotated[bool, typer.Option("--open", help="Only open requests.")] = False,
    subject: Annotated[str | None, typer.Option("--subject")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Data-subject requests by deadline."""
    with run_command(), open_from_env() as vault:
        data = [r.as_dict() for r in vault.rights.requests(overdue=overdue, open_only=open_only, subject_id=subject,
                                                           limit=1000)]
        emit(data, as_json, lambda: _render_requests(data))


@rights_app.command("open")
def rights_open(
    subject_id: str,
    kind: Annotated[str, typer.Option("--kind", help="access, correction, restriction or erasure.")],
    reference: ReferenceOpt = None,
    received_at: ReceivedOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Track a request (due in 10 days); prints the request id as the last word."""
    with run_command():
        received = parse_time(received_at, "--received-at")
        with open_from_env() as vault:
            data = vault.rights.open_request(subject_id, kind, reference=reference, received_at=received).as_dict()
        emit(data, as_json, lambda: out.print(f"Opened request {data['request_id']}"))


@rights_app.command("complete")
def rights_complete(
    request_id: str,
    outcome: Annotated[str, typer.Option(help="Outcome code.")] = "completed",
    reject: Annotated[bool, typer.Option("--reject", help="Close it as rejected.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Close a request."""
    with run_command(), open_from_env() as vault:
        data = vault.rights.complete_request(request_id, outcome=outcome, rejected=reject).as_dict()
        emit(data, as_json, lambda: out.print(f"Request {request_id}: {data['state']}"))


@rights_app.command("export")
def rights_export(
    subject_id: str,
    purpose: Annotated[str, typer.Option("--purpose", help="Why (audited), e.g. the access request.")],
    request_id: Annotated[str | None, typer.Option("--request-id", help="The access request this completes.")] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write the export to FILE.")] = None,
) -> None:
    """Access export: everything held about the subject, decrypted, as JSON (audited)."""
    with run_command(), open_from_env() as vault:
        data = vault.rights.access_export(subject_id, purpose=purpose, request_id=request_id)
        text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        if output is not None:
            Path(output).write_text(text, encoding="utf-8")
            out.print(f"Access export written to {output}", markup=False)
        else:
            sys.stdout.write(text)


@rights_app.command("correct")
def rights_correct(
    subject_id: str, reference: ReferenceOpt = None, received_at: ReceivedOpt = None, as_json: JsonOpt = False
) -> None:
    """Open a correction: the subject's data is not used in checks or exports until it is done;
    prints the request id as the last word."""
    with run_command():
        received = parse_time(received_at, "--received-at")
        with open_from_env() as vault:
            data = vault.rights.begin_correction(subject_id, reference=reference, received_at=received).as_dict()
        emit(data, as_json, lambda: out.print(f"Opened correction {data['request_id']}"))


@rights_app.command("correct-complete")
def rights_correct_complete(
    request_id: str,
    field: FieldOpt = [],  # noqa: B006
    unset: Annotated[list[str], typer.Option("--unset", help="Delete this field (repeatable).")] = [],  # noqa: B006
    fields_json: FieldsJsonOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Apply a correction and list the third parties to notify."""
    with run_command():
        changes: dict[str, str | None] = dict(parse_fields(field, fields_json))
        for name in unset:
            changes[name] = None
        with open_from_env() as vault:
            data = vault.rights.complete_correction(request_id, changes).as_dict()

        def render() -> None:
            out.print(f"Corrected: {', '.join(data['fields_changed']) or 'nothing (confirmed)'}")
            for n in data["notify"]:
                out.print(f"  notify {n['recipient']} (provided {n['provided_at']}: {', '.join(n['items'])})",
                          markup=False)

        emit(data, as_json, render)


@rights_app.command("correct-reject")
def rights_correct_reject(
    request_id: str, reason_code: Annotated[str, typer.Option("--reason-code")] = "rejected", as_json: JsonOpt = False
) -> None:
    """Reject a correction (its restriction is lifted)."""
    with run_command(), open_from_env() as vault:
        data = vault.rights.reject_correction(request_id, reason_code=reason_code).as_dict()
        emit(data, as_json, lambda: out.print(f"Rejected correction {request_id}"))


@rights_app.command("restrict")
def rights_restrict(
    subject_id: str, reference: ReferenceOpt = None, received_at: ReceivedOpt = None, as_json: JsonOpt = False
) -> None:
    """Restrict the processing of a subject's data (no checks, no exports) until lifted."""
    with run_command():
        received = parse_time(received_at, "--received-at")
        with open_from_env() as vault:
            data = vault.rights.restrict_processing(subject_id, reference=reference, received_at=received).as_dict()
        emit(data, as_json, lambda: out.print(f"Restricted subject {subject_id}"))


@rights_app.command("lift")
def rights_lift(subject_id: str, as_json: JsonOpt = False) -> None:
    """Lift a restriction of processing."""
    with run_command(), open_from_env() as vault:
        lifted = vault.rights.lift_restriction(subject_id)
        emit({"subject_id": subject_id, "lifted": lifted}, as_json,
                  lambda: out.print(f"Lifted: {'yes' if lifted else 'there was no restriction'}"))


@rights_app.command("provide")
def rights_provide(
    subject_id: str,
    recipient: Annotated[str, typer.Option("--recipient", help="Who received the data.")],
    item: Annotated[list[str], typer.Option("--item", help="A field name or category code (repeatable).")],
    purpose: Annotated[str, typer.Option("--purpose")],
    basis: Annotated[str, typer.Option("--basis", help="The legal basis of the provision.")],
    retention: Annotated[str, typer.Option("--retention", help="How long the recipient keeps it.")],
    provided_at: Annotated[str | None, typer.Option("--provided-at", help="When (ISO 8601; default now).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Log a provision of the subject's data to a third party; prints its id as the last word."""
    with run_command():
        when = parse_time(provided_at, "--provided-at")
        with open_from_env() as vault:
            data = vault.rights.record_provision(subject_id, recipient=recipient, items=item, purpose=purpose,
                                                 legal_basis=basis, retention=retention, provided_at=when).as_dict()
        emit(data, as_json, lambda: out.print(f"Logged provision {data['provision_id']}"))


@rights_app.command("provisions")
def rights_provisions(subject_id: str, as_json: JsonOpt = False) -> None:
    """The log of provisions of a subject's data to third parties."""
    with run_command(), open_from_env() as vault:
        data = [p.as_dict() for p in vault.rights.provisions(subject_id)]

        def render() -> None:
            table = Table("provided", "recipient", "items", "purpose", "basis", "retention")
            for p in data:
                table.add_row(p["provided_at"], p["recipient"], ", ".join(p["items"]), p["purpose"], p["legal_basis"],
                              p["retention"])
            out.print(table)

        emit(data, as_json, render)


subjects_app.command("categorize")(subjects_categorize)
subjects_app.command("event")(subjects_event)
app.add_typer(retention_app, name="retention")
app.add_typer(holds_app, name="holds")
app.add_typer(erasure_app, name="erasure")
app.add_typer(receipts_app, name="receipts")
app.add_typer(rights_app, name="rights")
app.add_typer(separated_app, name="separated")
