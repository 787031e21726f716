"""The fraud analyst's pages: the overview, checks, and records (find, list, detail, review,
activate, revoke, reveal).

Every identifier and every purpose travels in a POST body; a page that shows a record names it by
its id (a UUID, as the API does), never by anything about the person.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import RedirectResponse, Response

from pseudovault.api.console.nav import navigation
from pseudovault.api.console.web import Console, ConsoleFailure, Ctx, Problem
from pseudovault.api.routers import checks, records, status
from pseudovault.api.routers.checks import run_single_check
from pseudovault.api.schemas.checks import CheckRequest
from pseudovault.vault.identifiers.model import BUILTIN_KINDS

__all__ = ["routes"]

#: the identifier inputs of the check form, in this order
CHECK_KINDS = ("email", "phone", "device_id", "ip", "card_fingerprint", "national_id")
STATUSES = ("active", "under_review", "revoked", "expired")


def routes(console: Console) -> list[tuple[str, str, Any]]:
    async def overview(ctx: Ctx) -> Response:
        if not console.may(ctx, status.vault_status):  # no counts for this key: its first page
            pages = navigation(lambda operations: console.may(ctx, *operations))
            if pages:
                return RedirectResponse(pages[0].path, status_code=303)
            return console.render(ctx, "overview.html", title="Overview", counts=None)
        counts = await console.run(ctx, status.vault_status)
        return console.render(ctx, "overview.html", title="Overview", counts=counts)

    async def check_form(ctx: Ctx) -> Response:
        return console.render(ctx, "check.html", title="Check", kinds=CHECK_KINDS, decision=None, problem=None)

    async def check_run(ctx: Ctx) -> Response:
        """The decision, as ``POST /v1/checks`` gives it (api.routers.checks.run_single_check: the
        same per-kind limit, rate-limit charge and refusals)."""
        if not console.may(ctx, checks.check):
            raise ConsoleFailure(Problem(403, "forbidden", ctx.t("This API key may not do this.")))
        identifiers = [
            {"kind": kind, "value": value}
            for kind in CHECK_KINDS
            for value in ctx.form.getlist(kind)
            if value
        ]
        domain = ctx.form.get("domain") or "default"
        try:
            body = console.validated(CheckRequest, {"identifiers": identifiers, "domain": domain})
            decision = await console.attempt(ctx, run_single_check(ctx.request.app.state, ctx.principal.key_id, body))
        except ConsoleFailure as failure:
            return console.render(
                ctx, "check.html", status=failure.problem.status, title="Check", kinds=CHECK_KINDS, decision=None,
                problem=failure.problem,
            )
        return console.render(
            ctx, "check.html", title="Check", kinds=CHECK_KINDS, decision=decision.as_dict(), problem=None
        )

    async def record_list(ctx: Ctx) -> Response:
        filters = ctx.query("status", "category", "domain", "cursor")
        cursor = filters.pop("cursor")
        page = await console.run(ctx, records.list_records, **filters, cursor=cursor, limit=50)
        return console.render(
            ctx, "records.html", title="Records", page=page, filters=filters, statuses=STATUSES, found=None,
            kinds=BUILTIN_KINDS, can_find=console.may(ctx, records.find_records),
            can_list=console.may(ctx, records.list_records),
        )

    async def record_find(ctx: Ctx) -> Response:
        body = {
            "identifier": {"kind": ctx.form.get("kind"), "value": ctx.form.get("value")},
            "domain": ctx.form.get("domain") or "default",
        }
        found = await console.run(ctx, records.find_records, body)
        return console.render(
            ctx, "records.html", title="Records", page=None, filters={}, statuses=STATUSES, found=found,
            kinds=BUILTIN_KINDS, can_find=True, can_list=console.may(ctx, records.list_records),
        )

    async def record_detail(ctx: Ctx) -> Response:
        done = ctx.request.query_params.get("done")
        return await _detail(ctx, text=None, notice=done if done in ("status", "revoked") else None)

    async def _detail(ctx: Ctx, *, text: Any, notice: str | None, status_code: int = 200) -> Response:
        record_id = ctx.request.path_params["record_id"]
        record = await console.run(ctx, records.get_record, record_id=record_id)
        return console.render(
            ctx, "record.html", status=status_code, title="Record", record=record, text=text, notice=notice,
            can_write=console.may(ctx, records.update_record),
            can_reveal=console.may(ctx, records.reveal_record),
        )

    async def record_status(ctx: Ctx) -> Response:
        record_id = ctx.request.path_params["record_id"]
        body = {"status": ctx.form.get("status"), "status_reason_code": ctx.form.get("reason_code")}
        await console.run(ctx, records.update_record, body, record_id=record_id)
        return RedirectResponse(f"/console/records/{record_id}?done=status", status_code=303)

    async def record_revoke(ctx: Ctx) -> Response:
        record_id = ctx.request.path_params["record_id"]
        await console.run(ctx, records.revoke_record, {"reason_code": ctx.form.get("reason_code")}, record_id=record_id)
        return RedirectResponse(f"/console/records/{record_id}?done=revoked", status_code=303)

    async def record_reveal(ctx: Ctx) -> Response:
        """The text is shown in the answer to the POST, never behind a URL that could be reloaded
        or shared."""
        record_id = ctx.request.path_params["record_id"]
        text = await console.run(ctx, records.reveal_record, {"purpose": ctx.form.get("purpose")}, record_id=record_id)
        return await _detail(ctx, text=text, notice=None)

    return [
        ("/", "GET", overview),
        ("/check", "GET", check_form),
        ("/check", "POST", check_run),
        ("/records", "GET", record_list),
        ("/records/find", "POST", record_find),
        ("/records/{record_id}", "GET", record_detail),
        ("/records/{record_id}/status", "POST", record_status),
        ("/records/{record_id}/revoke", "POST", record_revoke),
        ("/records/{record_id}/reveal", "POST", record_reveal),
    ]


