"""API keys over the API: a key reads its own entry and rotates its own token (any scope); an
``admin`` key lists, shows and revokes keys. Keys are minted from the command line only.

Why no minting over the API (and no rotating of another key's token): either would hand the caller
a token with scopes it does not hold, and ``admin`` deliberately does not imply ``subjects:reveal``
or any other scope: a leaked admin token must not become a key that reads PII, nor a way to stay
in after its own revocation. Everything offered here keeps or narrows what the caller can do.

A token is in the answer of its rotation and nowhere else, ever (the store holds its hash).
Rotation gives the key a new token and keeps its id, name, scopes, expiry and audit trail; the
token it replaces stays valid for the ``grace_seconds`` the caller chooses. The server that made
a rotation or revocation follows it at once, every other within
``PSEUDOVAULT_API_KEY_CACHE_SECONDS``. Audited as ``apikey.rotate`` and ``apikey.revoke``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from pseudovault.api.auth import Admin, AnyKey, ApiRoute
from pseudovault.api.deps import VaultDep
from pseudovault.api.schemas.apikeys import ApiKeyIssued, ApiKeyList, ApiKeyOut, ApiKeyRotate
from pseudovault.vault.apikeys import KEY_ID_LENGTH, ApiKeyInfo
from pseudovault.vault.vault import Vault

__all__ = ["router"]


router = APIRouter(prefix="/v1/apikeys", route_class=ApiRoute, tags=["apikeys"])

KeyIdPath = Annotated[
    str,
    Path(pattern=f"^[a-z2-7]{{{KEY_ID_LENGTH}}}$", description="The key's id (the part after `pvk_`).",
         examples=["k3mzq7a2xb"]),
]


def _fields(info: ApiKeyInfo, vault: Vault) -> dict[str, object]:
    """The key's entry as the CLI shows it (``ApiKeyInfo.as_dict``: never a token), with
    ``active`` meaning what it means here: it authenticates now (not revoked, not expired)."""
    return {**info.as_dict(), "active": info.usable_at(vault.clock.now())}


@router.get("/self", summary="The calling key", description="The entry of the key the request is made with.")
def get_own_apikey(vault: VaultDep, caller: AnyKey) -> ApiKeyOut:
    return ApiKeyOut.pick(_fields(vault.apikeys.get(caller.key_id), vault))


@router.post(
    "/self/rotate",
    summary="Rotate the calling key's token",
    description="A new token for the key the request is made with (same id, name, scopes, expiry), in this answer "
    "only; the token it replaces (the one this request carries) stays valid for `grace_seconds`, and a token "
    "replaced earlier is refused from now on. Not idempotent: sent twice, the second rotation replaces the first's "
    "token, so a caller that lost the answer calls again with the token it still holds (valid for its grace).",
)
def rotate_own_apikey(body: ApiKeyRotate, vault: VaultDep, caller: AnyKey) -> ApiKeyIssued:
    info, token = vault.apikeys.rotate(caller.key_id, grace=timedelta(seconds=body.grace_seconds))
    return ApiKeyIssued.pick({**_fields(info, vault), "token": token.get_secret_value()})


@router.get("", summary="List API keys", description="Ids, names, scopes, last use, expiry and rotation; never tokens.")
def list_apikeys(
    vault: VaultDep,
    _caller: Admin,
    active: Annotated[bool, Query(description="Only keys that authenticate now: not revoked, not expired.")] = False,
) -> ApiKeyList:
    items = [ApiKeyOut.pick(_fields(info, vault)) for info in vault.apikeys.list(include_revoked=not active)]
    return ApiKeyList(items=[item for item in items if item.active or not active])


@router.get("/{key_id}", summary="Show an API key", description="404 for an unknown key.")
def get_apikey(key_id: KeyIdPath, vault: VaultDep, _caller: Admin) -> ApiKeyOut:
    return ApiKeyOut.pick(_fields(vault.apikeys.get(key_id), vault))


@router.post(
    "/{key_id}/revoke",
    summary="Revoke an API key",
    description="For good: its tokens are refused from now on (by this server at once, by every other within "
    "`PSEUDOVAULT_API_KEY_CACHE_SECONDS`). Revoking a revoked key again changes nothing. 404 for an unknown key.",
)
def revoke_apikey(key_id: KeyIdPath, vault: VaultDep, _caller: Admin) -> ApiKeyOut:
    return ApiKeyOut.pick(_fields(vault.apikeys.revoke(key_id), vault))
