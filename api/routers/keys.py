"""Key status, rotation and rewrap (scope ``admin``). Never key material.

A rotation or rewrap made through one worker (or the CLI, or another server) is followed by every
other process without a restart (docs/key-hierarchy.md, "Every process follows every rotation").
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from pseudovault.api.auth import Admin, ApiRoute
from pseudovault.api.deps import VaultDep
from pseudovault.api.schemas.keys import (
    Epoch,
    Horizon,
    KeyStatus,
    LookupKeyVersion,
    Provider,
    RewrapResult,
    RootKeyVersion,
    Rotation,
    SigningKey,
)

__all__ = ["router"]


router = APIRouter(prefix="/v1/keys", route_class=ApiRoute, tags=["keys"])


@router.get(
    "",
    summary="Key status",
    description="Root key versions at the provider, wrapping epochs (with how many data keys each "
    "wraps), signing keys and lookup key versions: ids, statuses and times only.",
)
def key_status(vault: VaultDep, _caller: Admin) -> KeyStatus:
    epochs = vault.keys.epochs()
    return KeyStatus(
        provider=Provider(
            kind=vault.provider.kind,
            primary_key_id=vault.provider.primary_key_id,
            keys=[RootKeyVersion.pick(info) for info in vault.provider.keys()],
        ),
        epochs=[Epoch.pick(e) for e in epochs],
        current_epoch=next((e.epoch for e in epochs if e.current), None),
        root_key_ids_in_use=list(vault.keys.root_key_ids_in_use()),
        signing_keys=[SigningKey.pick(s) for s in vault.signing.list()],
        lookup_keys=[LookupKeyVersion.pick(v) for v in vault.lookup.versions()],
        horizon=Horizon.pick(vault.horizon()),
    )


@router.post(
    "/rotate",
    summary="Rotate the root key and the wrapping epoch",
    description="Adds a root key version at the provider (the new primary) and a new wrapping "
    "epoch. Everything wrapped before still opens; run a rewrap to move it. Audited as "
    "`keys.rotate`.",
)
def rotate_keys(vault: VaultDep, _caller: Admin) -> Rotation:
    return Rotation.pick(vault.rotate_keys())


@router.post(
    "/rewrap",
    summary="Rewrap every key under the current keys",
    description="Moves every data key to the current epoch, destroys epochs nothing refers to any "
    "more, rewraps every key the root key wraps (epoch, lookup and signing keys) under the "
    "primary root version, and destroys at the provider every root version that wraps nothing "
    "any more. Resumable: run it again after an interruption. Audited as `keys.rewrap` with its "
    "counts.",
)
def rewrap_keys(
    vault: VaultDep,
    _caller: Admin,
    batch_size: Annotated[int, Query(ge=1, le=100_000, description="Data keys per unit of work.")] = 500,
) -> RewrapResult:
    return RewrapResult.of(vault.rewrap(batch_size=batch_size))
