"""The privacy officer's pages: subjects (reveal with a purpose, erasure with its signed receipt,
receipt verification), data-subject requests by deadline, and retention (policies with their legal
basis, what falls due over the coming months, sweep preview and run, legal holds).

A subject is named by its id (a UUID), typed into a form: it travels in the body, like the purpose
and every revealed value, which appear only in the answer to that POST.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from starlette.responses import RedirectResponse, Response

from pseudovault.api.console.web import Console, ConsoleFailure, Ctx, Problem
from pseudovault.api.routers import erasure, holds, retention, rights, subjects

__all__ = ["routes", "months_chart"]

_CHART_MONTHS = 12


def months_chart(report: Any, months: int = _CHART_MONTHS) -> dict[str, Any]:
    """What falls due per month and category over the coming ``months`` (from the report's
    ``by_month``; what is overdue counts in the first month), as stacked bars the template draws in
    SVG (no script, no inline style)."""
    now: datetime = report.now
    labels = []
    year, month = now.year, now.month
    for _ in range(months):
        labels.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    per: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(labels, 0))
    for group in report.categories:
        for key, count in group.by_month.items():
            key = max(key, labels[0])
            if key in per[group.category]:
                per[group.category][key] += count
    categories = sorted(c for c in per if any(per[c].values()))
    totals = {label: sum(per[c][label] for c in categories) for label in labels}
    top = max(totals.values(), default=0) or 1
    bars = []
    for index, label in enumerate(labels):
        y = 180
        for number, category in enumerate(categories):
            count = per[category][label]
            if not count:
                continue
            height = max(2, round(160 * count / top))
            y -= height
            bars.append(
                {"x": 40 + index * 50, "y": y, "height": height, "series": number % 8, "category": category,
                 "month": label, "count": count}
            )
    return {"labels": labels, "categories": categories, "bars": bars, "totals": totals, "top": top}


def routes(console: Console) -> list[tuple[str, str, Any]]:
    async def subjects_page(ctx: Ctx) -> Response:
        return console.render(ctx, "subjects.html", title="Subjects", **_subject_caps(console, ctx))

    async def subject_reveal(ctx: Ctx) -> Response:
        names = [name for name in ctx.form.get("fields").replace(",", " ").split() if name]
        body = {"purpose": ctx.form.get("purpose"), "fields": names or None}
        revealed = await console.run(ctx, subjects.reveal_subject, body, subject_id=ctx.form.get("subject_id"))
        return console.render(ctx, "subjects.html", title="Subjects", revealed=revealed, **_subject_caps(console, ctx))

    async def subject_erase(ctx: Ctx) -> Response:
        if ctx.form.get("confirm") != "yes":
            raise ConsoleFailure(Problem(422, "invalid_request", ctx.t("Tick the box to confirm: an erasure cannot be undone.")))
        body: dict[str, Any] = {"subject_id": ctx.form.get("subject_id")}
        if ctx.form.get("request_id"):
            body["request_id"] = ctx.form.get("request_id")
        done = await console.run(ctx, erasure.request_erasure, body)
        return console.render(ctx, "subjects.html", title="Subjects", erased=done, **_subject_caps(console, ctx))

    async def receipt_download(ctx: Ctx) -> Response:
        request_id = ctx.request.path_params["request_id"]
        answer: Response = await console.run(ctx, erasure.receipt_of_request, request_id=request_id)
        return Response(
            answer.body,
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="erasure-receipt-{request_id}.json"'},
        )

    async def receipt_verify(ctx: Ctx) -> Response:
        # a text area sends its lines ended by CR LF (HTML's form encoding): the receipt file's are LF,
        # and it ends with one newline, which a paste often loses
        document = ctx.form.raw("document").replace("\r\n", "\n").rstrip("\n") + "\n"
        body: dict[str, Any] = {"document": document}
        if ctx.form.get("public_key"):
            body["public_key"] = ctx.form.get("public_key")
        checked = await console.run(ctx, erasure.verify_receipt, body)
        return console.render(ctx, "subjects.html", title="Subjects", verified=checked, **_subject_caps(console, ctx))

    async def rights_page(ctx: Ctx) -> Response:
        query = ctx.query("show", "done")
        which = query["show"] or "open"
        if which not in ("open", "overdue", "all"):
            raise ConsoleFailure(Problem(422, "invalid_request", ctx.t("This page takes no such parameter.")))
        listed = await console.run(
            ctx, rights.list_requests, overdue=which == "overdue", open_only=which == "open", limit=200
        )
        return console.render(
            ctx, "rights.html", title="Rights requests", listed=listed, show=which, notice=query["done"],
            can_close=console.may(ctx, rights.complete_request),
        )

    async def rights_close(ctx: Ctx) -> Response:
        body = {"outcome": ctx.form.get("outcome") or "completed", "rejected": ctx.form.get("rejected") == "true"}
        await console.run(ctx, rights.complete_request, body, request_id=ctx.request.path_params["request_id"])
        return RedirectResponse("/console/rights?done=closed", status_code=303)

    async def retention_page(ctx: Ctx, *, swept: Any = None, status_code: int = 200) -> Response:
        policies = await console.run(ctx, retention.list_policies)
        report = await console.run(ctx, retention.report, days=366)
        held = await console.run(ctx, holds.list_holds, limit=200)
        return console.render(
            ctx, "retention.html", status=status_code, title="Retention", policies=policies, report=report,
            chart=months_chart(report), holds=held, swept=swept, notice=ctx.request.query_params.get("done"),
        )

    async def retention_get(ctx: Ctx) -> Response:
        return await retention_page(ctx)

    async def sweep(ctx: Ctx) -> Response:
        dry_run = ctx.form.get("mode") != "run"
        result = await console.run(ctx, retention.sweep, {"dry_run": dry_run})
        return await retention_page(ctx, swept=result)

    async def hold_place(ctx: Ctx) -> Response:
        body: dict[str, Any] = {
            "target_kind": ctx.form.get("target_kind"),
            "target_id": ctx.form.get("target_id"),
            "reason_code": ctx.form.get("reason_code"),
            "reference": ctx.form.get("reference"),
        }
        if ctx.form.get("until"):
            body["until"] = ctx.form.get("until")
        await console.run(ctx, holds.place_hold, body)
        return RedirectResponse("/console/retention?done=hold_placed#holds", status_code=303)

    async def hold_release(ctx: Ctx) -> Response:
        body = {"reason_code": ctx.form.get("reason_code") or "released"}
        await console.run(ctx, holds.release_hold, body, hold_id=ctx.request.path_params["hold_id"])
        return RedirectResponse("/console/retention?done=hold_released#holds", status_code=303)

    return [
        ("/subjects", "GET", subjects_page),
        ("/subjects/reveal", "POST", subject_reveal),
        ("/subjects/erasure", "POST", subject_erase),
        ("/erasure/{request_id}/receipt", "GET", receipt_download),
        ("/subjects/verify-receipt", "POST", receipt_verify),
        ("/rights", "GET", rights_page),
        ("/rights/{request_id}/close", "POST", rights_close),
        ("/retention", "GET", retention_get),
        ("/retention/sweep", "POST", sweep),
        ("/retention/holds", "POST", hold_place),
        ("/retention/holds/{hold_id}/release", "POST", hold_release),
    ]


def _subject_caps(console: Console, ctx: Ctx) -> dict[str, Any]:
    return {
        "can_reveal": console.may(ctx, subjects.reveal_subject),
        "can_erase": console.may(ctx, erasure.request_erasure),
    }
