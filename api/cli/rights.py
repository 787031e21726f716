"""The data-subject commands of ``pseudovault``: ``erasure`` (requests and their signed receipts),
``receipts`` (verify one, offline or against this vault), ``rights`` (access, correction,
restriction, provisions, deadlines) and ``separated`` (data kept under another law).

A thin shell over vault.retention, like every command group (the helpers of api.cli._base);
importing the module adds its groups to the main app."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pseudovault.api.cli._base import (
    ExitCode,
    FieldOpt,
    FieldsJsonOpt,
    JsonOpt,
    ReceivedOpt,
    ReferenceOpt,
    RequesterOpt,
    app,
    emit,
    err,
    load_settings,
    open_from_env,
    out,
    parse_fields,
    parse_time,
    run_command,
)
from pseudovault.vault.errors import InvalidInputError

__all__ = []


erasure_app = typer.Typer(help="Erasure requests and their signed receipts.", no_args_is_help=True)


receipts_app = typer.Typer(help="Erasure receipts: verify one, offline or against this vault.", no_args_is_help=True)


rights_app = typer.Typer(help="Data-subject rights: access, correction, restriction, provisions, deadlines.",
                         no_args_is_help=True)


separated_app = typer.Typer(help="Separate storage: data kept under another law (restricted:read).",
                            no_args_is_help=True)


def _write(path: str, data: bytes) -> None:
    target = Path(path)
    target.write_bytes(data)


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
    kind: Annotated[str, typer.Option(
        "--kind", help="access, correction, restriction, erasure or consent_withdrawal.")],
    reference: ReferenceOpt = None,
    received_at: ReceivedOpt = None,
    requester: RequesterOpt = "self",
    as_json: JsonOpt = False,
) -> None:
    """Track a request (due at the end of the 10th day after its receipt); prints the request id
    as the last word."""
    with run_command():
        received = parse_time(received_at, "--received-at")
        with open_from_env() as vault:
            data = vault.rights.open_request(subject_id, kind, reference=reference, received_at=received,
                                             requester=requester).as_dict()
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
    subject_id: str, reference: ReferenceOpt = None, received_at: ReceivedOpt = None,
    requester: RequesterOpt = "self", as_json: JsonOpt = False,
) -> None:
    """Open a correction: the subject's data is not used in checks or exports until it is done;
    prints the request id as the last word."""
    with run_command():
        received = parse_time(received_at, "--received-at")
        with open_from_env() as vault:
            data = vault.rights.begin_correction(subject_id, reference=reference, received_at=received,
                                                 requester=requester).as_dict()
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
    subject_id: str, reference: ReferenceOpt = None, received_at: ReceivedOpt = None,
    requester: RequesterOpt = "self", as_json: JsonOpt = False,
) -> None:
    """Restrict the processing of a subject's data (no checks, no exports) until lifted."""
    with run_command():
        received = parse_time(received_at, "--received-at")
        with open_from_env() as vault:
            data = vault.rights.restrict_processing(subject_id, reference=reference, received_at=received,
                                                    requester=requester).as_dict()
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


app.add_typer(erasure_app, name="erasure")
app.add_typer(receipts_app, name="receipts")
app.add_typer(rights_app, name="rights")
app.add_typer(separated_app, name="separated")


@rights_app.command("consent")
def rights_consent(
    subject_id: str,
    purpose: Annotated[str, typer.Option("--purpose", help="What it is a consent to, as a code (e.g. marketing).")],
    text_version: Annotated[str, typer.Option("--text-version", help="The consent text's version label.")],
    granted_at: Annotated[str | None, typer.Option("--granted-at", help="When (ISO 8601; default now).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a subject's consent to a purpose; prints its id as the last word."""
    with run_command():
        when = parse_time(granted_at, "--granted-at")
        with open_from_env() as vault:
            data = vault.rights.grant_consent(subject_id, purpose, text_version=text_version, granted_at=when).as_dict()
        emit(data, as_json, lambda: out.print(f"Recorded consent {data['consent_id']}"))


@rights_app.command("consent-withdraw")
def rights_consent_withdraw(
    subject_id: str,
    purpose: Annotated[str, typer.Option("--purpose", help="The purpose whose consent is withdrawn.")],
    request_id: Annotated[str | None, typer.Option("--request-id", help="The consent-withdrawal request answered.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Withdraw a consent (and close the subject's open consent-withdrawal request)."""
    with run_command(), open_from_env() as vault:
        data = vault.rights.withdraw_consent(subject_id, purpose, request_id=request_id).as_dict()
        emit(data, as_json, lambda: out.print(f"Withdrew consent {data['consent_id']} ({data['purpose']})"))


@rights_app.command("consents")
def rights_consents(subject_id: str, as_json: JsonOpt = False) -> None:
    """A subject's consents, in force and withdrawn."""
    with run_command(), open_from_env() as vault:
        data = [c.as_dict() for c in vault.rights.consents(subject_id)]

        def render() -> None:
            table = Table("consent", "purpose", "text version", "granted", "withdrawn")
            for c in data:
                table.add_row(c["consent_id"], c["purpose"], c["text_version"], c["granted_at"], c["withdrawn_at"] or "-")
            out.print(table)

        emit(data, as_json, render)


@rights_app.command("notifications")
def rights_notifications(
    state: Annotated[str | None, typer.Option("--state", help="pending, notified or failed.")] = None,
    subject: Annotated[str | None, typer.Option("--subject", help="Only this subject's tasks.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The tasks of telling recipients of corrections and erasures (--state pending: what is left)."""
    with run_command(), open_from_env() as vault:
        data = [n.as_dict() for n in vault.rights.notifications(state=state, subject_id=subject, limit=1000)]

        def render() -> None:
            table = Table("task", "recipient", "cause", "items", "state", "since", "means")
            for n in data:
                table.add_row(n["notification_id"], n["recipient"], n["cause"], ", ".join(n["items"]), n["state"],
                              n["created_at"], n["means"] or "")
            out.print(table)

        emit(data, as_json, render)


@rights_app.command("notified")
def rights_notified(
    notification_id: str,
    means: Annotated[str | None, typer.Option("--means", help="How the recipient was told (e.g. email).")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="The attempt failed (it may be notified later).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Record that a recipient was told of a correction or an erasure (or that telling it failed)."""
    with run_command(), open_from_env() as vault:
        data = vault.rights.close_notification(notification_id, state="failed" if failed else "notified",
                                               means=means).as_dict()
        emit(data, as_json, lambda: out.print(f"Task {notification_id}: {data['state']}"))

