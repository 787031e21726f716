"""The operator's pages (``admin``): the audit log (list with filters, verify, sign a checkpoint,
acknowledge a restore of the data store) and
keys (versions, epochs and how many data keys each still wraps, rotate, rewrap; the API keys, with
their last use and expiry, and revocation: never a token)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from pseudovault.api.console.web import Console, Ctx
from pseudovault.api.routers import apikeys, audit, keys

__all__ = ["routes"]

_AUDIT_FILTERS = ("action", "actor_id", "target", "since", "until", "cursor")


def routes(console: Console) -> list[tuple[str, str, Any]]:
    async def audit_page(ctx: Ctx, *, verified: Any = None, checkpoint: Any = None, restored: Any = None) -> Response:
        filters = ctx.query(*_AUDIT_FILTERS)
        page = await console.run(ctx, audit.list_audit, **filters, limit=50)
        shown = {name: value for name, value in filters.items() if name != "cursor" and value}
        return console.render(
            ctx, "audit.html", title="Audit", page=page, filters=shown, verified=verified, checkpoint=checkpoint,
            restored=restored,
        )

    async def audit_get(ctx: Ctx) -> Response:
        return await audit_page(ctx)

    async def audit_verify(ctx: Ctx) -> Response:
        return await audit_page(ctx, verified=await console.run(ctx, audit.verify_audit))

    async def audit_checkpoint(ctx: Ctx) -> Response:
        return await audit_page(ctx, checkpoint=await console.run(ctx, audit.checkpoint_audit))

    async def audit_acknowledge_restore(ctx: Ctx) -> Response:
        return await audit_page(ctx, restored=await console.run(ctx, audit.acknowledge_restore))

    async def keys_page(ctx: Ctx, *, rotated: Any = None, rewrapped: Any = None, revoked: Any = None) -> Response:
        state = await console.run(ctx, keys.key_status)
        api_keys = await console.run(ctx, apikeys.list_apikeys)
        total = sum(e.data_keys for e in state.epochs)
        current = sum(e.data_keys for e in state.epochs if e.current)
        progress = {"total": total, "current": current, "percent": 100 if total == 0 else round(100 * current / total)}
        return console.render(
            ctx, "keys.html", title="Keys", state=state, progress=progress, rotated=rotated, rewrapped=rewrapped,
            api_keys=api_keys.items, revoked=revoked, own_key=ctx.principal.key_id,
        )

    async def keys_get(ctx: Ctx) -> Response:
        return await keys_page(ctx)

    async def keys_rotate(ctx: Ctx) -> Response:
        return await keys_page(ctx, rotated=await console.run(ctx, keys.rotate_keys))

    async def keys_rewrap(ctx: Ctx) -> Response:
        return await keys_page(ctx, rewrapped=await console.run(ctx, keys.rewrap_keys))

    async def apikey_revoke(ctx: Ctx) -> Response:
        key_id = ctx.request.path_params["key_id"]
        return await keys_page(ctx, revoked=await console.run(ctx, apikeys.revoke_apikey, key_id=key_id))

    return [
        ("/audit", "GET", audit_get),
        ("/audit/verify", "POST", audit_verify),
        ("/audit/checkpoint", "POST", audit_checkpoint),
        ("/audit/acknowledge-restore", "POST", audit_acknowledge_restore),
        ("/keys", "GET", keys_get),
        ("/keys/rotate", "POST", keys_rotate),
        ("/keys/rewrap", "POST", keys_rewrap),
        ("/keys/apikeys/{key_id}/revoke", "POST", apikey_revoke),
    ]
